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
