"""Differential test of the health port's HTTP/1.1 framing (issue 13): every request byte stream of
http_corpus.CASES goes to vitals and to a real nginx (`location / { return 200 "ok"; }`), both on
127.0.0.1. For each case the two must agree on (a) accepted vs rejected and (b) how many final
responses the stream drew, or the case is in DOCUMENTED_DIFFERENCES with the RFC rule that allows
vitals its answer. A proxy in front of vitals that frames a stream differently than vitals does is a
request-smuggling surface: this test is where such a difference shows up first.

Prints `differential: N cases, A agreed, D documented differences` to stderr."""

import concurrent.futures
import os
import sys
import unittest

from http_corpus import CASES
from peers import start_nginx
from vitals_harness import VitalsTestCase, file_check, parse_responses, raw_exchange

# The first final response's code that means "the server refused the request" (or no response and
# a closed connection). Anything else (2xx, 404, 405, ...) is "accepted".
REJECTING = {400, 411, 413, 414, 417, 431, 501, 505}
IDLE = 0.5  # seconds of silence after which a stream's answers are taken as complete (a short hang guard)
TOTAL = 5.0  # the most a single stream is read for
PARALLEL = 16  # streams in flight at once (each mostly waits out IDLE)

# case name -> why vitals may answer differently from nginx, naming the rule that allows it.
DOCUMENTED_DIFFERENCES = {
    "bare LF everywhere": "vitals rejects bare-LF line endings with 400 as RFC 9112 §2.2 allows (a recipient MAY "
                          "recognise a lone LF); nginx accepts them",
    "bare LF after request line": "as 'bare LF everywhere' (RFC 9112 §2.2)",
    "bare LF after a field": "as 'bare LF everywhere' (RFC 9112 §2.2)",
    "bare LF ending the head": "as 'bare LF everywhere' (RFC 9112 §2.2)",
    "bare LF pipeline": "as 'bare LF everywhere' (RFC 9112 §2.2)",
    "leading bare LF": "vitals ignores empty CRLF lines before the request line (RFC 9112 §2.2) but treats a bare "
                       "LF as a malformed line (RFC 9112 §2.2 lets it reject bare LF); nginx skips it",
    "chunked bare LF": "vitals requires CRLF after chunk sizes and data (RFC 9112 §7.1, §2.2 lets it refuse "
                       "bare LF); nginx accepts LF",
    "Expect unknown": "vitals answers an expectation other than 100-continue with 417, as RFC 9110 §10.1.1 "
                      "allows; nginx ignores the Expect field",
    "Expect unknown on POST": "as 'Expect unknown' (RFC 9110 §10.1.1)",
    "CL same value twice": "vitals takes identical repeated Content-Length values as one, as RFC 9110 §8.6 and "
                           "RFC 9112 §6.3 allow; nginx rejects any duplicate Content-Length",
    "CL list same values": "as 'CL same value twice': RFC 9110 §8.6 allows a list of identical values",
    "CL list no space": "as 'CL same value twice': RFC 9110 §8.6 allows a list of identical values",
    "chunked over 64 KiB": "vitals takes request bodies up to 64 KiB (its admin endpoints read none) and answers "
                           "413 above, as RFC 9110 §15.5.14 allows; nginx's limit is client_max_body_size (1 MiB)",
    "CL of 70 KiB body": "as 'chunked over 64 KiB' (RFC 9110 §15.5.14)",
    "CL 1 MiB announced": "as 'chunked over 64 KiB' (RFC 9110 §15.5.14): nginx takes up to 1 MiB",
    "field only a name": "vitals answers a field line without a colon 400 (RFC 9112 §5.1 field-line grammar; "
                         "§2.2: a server SHOULD answer 400 to a message that does not match it); nginx "
                         "ignores the line (ignore_invalid_headers)",
    # Field names that are not tokens: the same rule as "field only a name".
    "paren in field name": "a field name is a token (RFC 9110 §5.1); vitals answers 400 (RFC 9112 §2.2), nginx "
                           "ignores the line (ignore_invalid_headers)",
    "slash in field name": "as 'paren in field name' (RFC 9110 §5.1)",
    "at in field name": "as 'paren in field name' (RFC 9110 §5.1)",
    "high byte in field name": "as 'paren in field name' (RFC 9110 §5.1)",
    # Control characters in field values.
    "control 0x01 in value": "a field value with a CTL other than HTAB is invalid (RFC 9110 §5.5); vitals rejects "
                             "it with 400, which §5.5 allows; nginx keeps it",
    "control 0x08 in value": "as 'control 0x01 in value' (RFC 9110 §5.5)",
    "control 0x0b in value": "as 'control 0x01 in value' (RFC 9110 §5.5)",
    "control 0x0c in value": "as 'control 0x01 in value' (RFC 9110 §5.5)",
    "control 0x1b in value": "as 'control 0x01 in value' (RFC 9110 §5.5)",
    "control 0x1f in value": "as 'control 0x01 in value' (RFC 9110 §5.5)",
    "control 0x7f in value": "as 'control 0x01 in value' (RFC 9110 §5.5: DEL is a CTL)",
    # The request line: one SP between its three parts, a version of exactly one digit each.
    "two spaces after method": "RFC 9112 §3: the request-line's parts are separated by a single SP; a recipient MAY "
                               "split on any whitespace (nginx does) or answer 400 (vitals: a proxy in front may "
                               "split otherwise)",
    "two spaces before version": "as 'two spaces after method' (RFC 9112 §3)",
    "trailing space after version": "as 'two spaces after method' (RFC 9112 §3)",
    "version HTTP/1.01": "HTTP-version is HTTP/DIGIT.DIGIT (RFC 9112 §2.3): vitals answers 400 to '1.01'; nginx "
                         "reads it as 1.1",
    "no version (HTTP/0.9)": "HTTP/0.9 is not HTTP/1.1 (RFC 9112 §2.3 needs an HTTP-version); vitals answers 400, "
                             "nginx answers the body alone, as HTTP/0.9",
    # Methods: any token, case-sensitive.
    "method X-CUSTOM_1": "a method is any token, case-sensitive (RFC 9110 §9.1): vitals parses it and answers "
                         "405; nginx accepts only upper-case letters and '_' and answers 400",
    "lowercase method": "as 'method X-CUSTOM_1' (RFC 9110 §9.1: 'get' is a method other than GET)",
    # Targets.
    "asterisk-form OPTIONS": "OPTIONS * is a valid request about the server as a whole (RFC 9110 §9.3.7, RFC 9112 "
                             "§3.2.4): vitals answers 204 with Allow; nginx answers 400",
    "target with fragment": "a request-target has no fragment (RFC 9112 §3.2: origin-form is absolute-path "
                            "[?query]); vitals answers 400 to an invalid target as §3 recommends; nginx drops it",
    # Host values (RFC 9112 §3.2: Host = uri-host [":" port]; an invalid one MUST be answered 400).
    "Host empty": "an empty Host is valid (RFC 9112 §3.2: a client sends one when the target has no "
                  "authority); vitals accepts it, nginx answers 400",
    "Host with userinfo": "uri-host has no userinfo (RFC 9112 §3.2, RFC 3986 §3.2.2): 'u@x' is an invalid Host, "
                          "which a server MUST answer 400 (vitals); nginx accepts it",
    # Whitespace around field values is not part of them (RFC 9110 §5.5: OWS = SP / HTAB).
    "value with leading tab": "leading HTAB is optional whitespace, not part of the value (RFC 9110 §5.5, §5.6.3); "
                              "vitals accepts 'Host:\\tx', nginx answers 400",
    "CL with tab": "as 'value with leading tab': 'Content-Length:\\t5' is Content-Length 5 (RFC 9110 §5.5)",
    "TE leading tab": "as 'value with leading tab': the coding is 'chunked' (RFC 9110 §5.5) and the body is framed "
                      "chunked; nginx answers 501 to anything but the exact bytes 'chunked'",
    "TE trailing tab": "as 'TE leading tab' (RFC 9110 §5.5)",
    "TE chunked with empty list members": "a recipient MUST accept empty list elements (RFC 9110 §5.6.1): ', chunked' "
                                          "is chunked; nginx answers 501",
    # Chunk syntax and limits.
    "chunked size with space": "chunk-size is 1*HEXDIG, whitespace is allowed only before ';' (RFC 9112 §7.1, "
                               "§7.1.1 BWS); vitals answers 400 to '5 ', nginx accepts it",
    "field line of 12 KiB": "vitals limits the whole head to 16 KiB (431 above it); nginx limits one line to 8 KiB "
                            "(large_client_header_buffers): both are limits RFC 9110 §5.4 allows",
    "CL larger than the body sent": "vitals answers once the whole request (Content-Length 10) has arrived and waits "
                                    "for the rest; nginx's 'return' answers before reading the body and discards "
                                    "it. Both frame the stream as one request (RFC 9112 §6.2)",
}


def outcome(data, ended):
    """(verdict, number of final responses, codes, how the connection ended) for one server's answer."""
    rs = parse_responses(data)
    finals = [r for r in rs if r.status >= 200]
    codes = [r.status for r in rs]
    if not rs:
        if data:
            return "accepted", 1, ["unframed %r" % data[:40]], ended  # an HTTP/0.9 answer: body alone
        return ("accepted" if ended == "open" else "rejected"), 0, [], ended
    first = finals[0].status if finals else None
    return ("rejected" if first in REJECTING else "accepted"), len(finals), codes, ended


def describe(o):
    return "%s, %d final response(s) %s, connection %s" % (o[0], o[1], o[2], o[3])


class HttpDifferentialTest(VitalsTestCase):

    def test_vitals_and_nginx_frame_every_corpus_stream_alike(self):
        ok = self.status_file("ok.status", "pass")
        d = self.start_daemon({"plugins": self.plugins_with_fixtures(), "checks": [file_check("ok", ok)]})
        self.wait_for(lambda: d.get("/health").status == 200, message="/health to pass")
        ng = start_nginx(self, os.path.join(self.tmp, "nginx"),
                         {"plain": 'listen 127.0.0.1:@PORT@;\n        location / { return 200 "ok"; }'})
        self.assertGreaterEqual(len(CASES), 200)
        for name in DOCUMENTED_DIFFERENCES:
            self.assertIn(name, CASES, "a documented difference names no corpus case")

        def run(port, data):
            return outcome(*raw_exchange(port, data, idle=IDLE, total=TOTAL))

        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            futures = {(name, server): pool.submit(run, port, data)
                       for name, data in CASES.items()
                       for server, port in (("vitals", d.port), ("nginx", ng.ports["plain"]))}
            results = {key: f.result() for key, f in futures.items()}

        agreed, documented, undocumented, stale = 0, 0, [], []
        for name in CASES:
            v, n = results[(name, "vitals")], results[(name, "nginx")]
            same = v[:2] == n[:2]
            if same:
                agreed += 1
                if name in DOCUMENTED_DIFFERENCES:
                    stale.append(name)
            elif name in DOCUMENTED_DIFFERENCES:
                documented += 1
            else:
                undocumented.append("%s:\n    vitals: %s\n    nginx:  %s" % (name, describe(v), describe(n)))
        sys.stderr.write("\ndifferential: %d cases, %d agreed, %d documented differences\n"
                         % (len(CASES), agreed, documented))
        for name in stale:  # the documentation may be out of date, or vitals not yet as specified
            sys.stderr.write("documented, but the servers agree: %s: %s\n"
                             % (name, describe(results[(name, "vitals")])))
        sys.stderr.flush()
        self.assertTrue(d.alive(), "vitals died during the corpus")
        self.assertEqual(d.get("/health").status, 200)
        self.assertEqual(undocumented, [], "%d undocumented disagreements with nginx:\n%s"
                         % (len(undocumented), "\n".join(undocumented)))


if __name__ == "__main__":
    unittest.main()
