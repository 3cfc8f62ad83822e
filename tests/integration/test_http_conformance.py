"""The health port speaks strict HTTP/1.1 (issue 13): one test per RFC 9112 / RFC 9110 rule, sent as
raw bytes to a real daemon on 127.0.0.1. Request framing, Host, line endings, limits, Expect,
persistence, Transfer-Encoding, field syntax, versions, half-close, routing on the decoded path (off
the event loop), error answers that are not lost to a reset, no busy loop on a half-closed writer,
and a named, counted reason for every close. Socket timeouts are hang guards, never speed claims."""

import http.client
import itertools
import json
import os
import re
import socket
import threading
import time
import unittest

from vitals_harness import HANG_GUARD, VitalsTestCase, check_config, file_check, parse_responses, read_until

HEAD_LIMIT = 16384  # server.max_header_bytes: request line and fields
BODY_LIMIT = 65536  # the largest request body the admin endpoints take

GET_HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


def final_responses(count):
    """A read_until() predicate: `count` complete final (non-1xx) responses have arrived."""
    return lambda data: len([r for r in parse_responses(data) if r.status >= 200 and r.complete]) >= count


def read_responses(sock, count):
    """Reads until `count` complete final responses have arrived on `sock` (or it closes, or its
    timeout runs out); returns the parsed responses (1xx included)."""
    return parse_responses(read_until(sock, final_responses(count))[0])


def proc_cpu_seconds(pid):
    """utime + stime of process `pid` (all its threads) from /proc/<pid>/stat, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


CLOSED_RE = re.compile(r'^vitals_http_connections_closed_total\{reason="([a-z_]+)"\} (\d+)', re.M)


class HttpConformanceTest(VitalsTestCase):
    """Each test starts its own daemon (some drain it): one passing check, history on."""

    def setUp(self):
        super().setUp()
        self.ok = self.status_file("ok.status", "pass")
        self.config = {"plugins": self.plugins_with_fixtures(), "checks": [file_check("ok", self.ok)]}
        self.d = self.start_daemon(self.config)
        self.wait_for(lambda: self.d.get("/health").status == 200, message="/health to pass")
        # The history writer creates the schema on its own thread after the daemon listens; until
        # then /health/history is 503 "not a vitals history database yet" (seen under TSan's
        # slowdown). The tests here are about framing and routing, not about that start-up window.
        self.wait_for(lambda: self.d.get("/health/history").status == 200, message="/health/history to answer")

    # --- helpers ---------------------------------------------------------------------------------

    def exchange(self, data, expect=1, shut_wr=False):
        """Sends raw bytes on a new connection and reads until `expect` final responses have come (or
        the server closes; the hang guard), then 0.5 s more for anything after them. Returns (parsed
        responses, whether the server closed the connection, raw bytes)."""
        s = self.connect()
        s.sendall(data)
        if shut_wr:
            s.shutdown(socket.SHUT_WR)
        out, ended = read_until(s, final_responses(expect))
        if ended == "open":
            s.settimeout(0.5)  # the tail: a further response or the close, if any
            more, ended = read_until(s)
            out += more
        return parse_responses(out), ended != "open", out

    def assertAnswers(self, data, codes, closed=None, shut_wr=False):
        """`data` is answered with exactly these final status codes in order; with `closed`, the server
        closed (True) or kept (False) the connection after them. Returns the final responses."""
        rs, was_closed, out = self.exchange(data, len(codes), shut_wr)
        finals = [r for r in rs if r.status >= 200]
        self.assertEqual([r.status for r in finals], codes, out[:1500])
        for r in finals:
            self.assertTrue(r.complete, out[:1500])
        if closed is not None:
            self.assertEqual(was_closed, closed, out[:1500])
        return finals

    def assertRejected(self, data, code=400):
        """One answer, `code`, then the server closes: nothing after a framing error is read as a request."""
        return self.assertAnswers(data, [code], closed=True)

    def small_window_client(self, port):
        """A connection whose receive buffer is 4 KiB (set before connect, so the window stays small):
        a client that reads slowly, or not at all."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(HANG_GUARD)
        s.connect(("127.0.0.1", port))
        return s

    def connect(self, timeout=HANG_GUARD):
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=timeout)
        self.addCleanup(s.close)
        return s

    # --- Content-Length (RFC 9112 §6.3, RFC 9110 §8.6) ---------------------------------------------

    def test_two_content_lengths_with_different_values_are_rejected_and_the_connection_closed(self):
        # Accepted, the first wins and the pipelined GET is a second request: two 200s on old main.
        self.assertRejected(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n"
                            + GET_HEALTH)

    def test_the_same_content_length_twice_is_accepted(self):
        self.assertAnswers(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
                           + GET_HEALTH, [200, 200], closed=False)

    def test_a_content_length_that_is_not_plain_digits_is_rejected(self):
        for value in (b"+5", b"-1", b"1e3", b" 5 5", b"0x10", b"99999999999999999999"):
            with self.subTest(value):
                self.assertRejected(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length:" + value
                                    + b"\r\n\r\nhello" + GET_HEALTH)

    # --- Host (RFC 9112 §3.2) ------------------------------------------------------------------------

    def test_http11_without_host_is_rejected(self):
        self.assertRejected(b"GET /health HTTP/1.1\r\nAccept: */*\r\n\r\n")

    def test_two_host_fields_are_rejected(self):
        self.assertRejected(b"GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")

    def test_http10_without_host_is_answered(self):
        self.assertAnswers(b"GET /health HTTP/1.0\r\n\r\n", [200], closed=True)

    # --- line endings (RFC 9112 §2.2) -----------------------------------------------------------------

    def test_empty_lines_before_the_request_line_are_ignored(self):
        for lead in (b"\r\n", b"\r\n\r\n\r\n"):
            with self.subTest(lead):
                self.assertAnswers(lead + GET_HEALTH, [200], closed=False)

    def test_bare_lf_line_endings_are_answered_400_at_once(self):
        # Old main waits for CRLF CRLF until its header timeout (5 s) closes the connection without a
        # word; the hang guard (10 s) is longer, so that shows as "no answer", not as a guard expiring.
        self.assertRejected(b"GET /health HTTP/1.1\nHost: x\n\n")

    # --- limits (RFC 6585 §5) --------------------------------------------------------------------------

    def test_a_field_line_over_the_head_limit_is_answered_431(self):
        self.assertRejected(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (HEAD_LIMIT + 1000)
                            + b"\r\n\r\n", 431)

    # --- Expect (RFC 9110 §10.1.1) ---------------------------------------------------------------------

    def test_expect_100_continue_is_answered_before_the_body_is_sent(self):
        s = self.connect()
        s.sendall(b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        interim = read_until(s, lambda data: b"\r\n\r\n" in data)[0]  # the body is not sent until the server asks for it
        self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim)
        self.assertTrue(interim.endswith(b"\r\n\r\n"), interim)
        s.sendall(b"hello")
        rs = read_responses(s, 1)
        self.assertEqual([r.status for r in rs], [200], rs)
        self.assertEqual(json.loads(rs[0].body), {"status": "draining"})

    def test_an_unknown_expectation_is_answered_417(self):
        self.assertAnswers(b"GET /health HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", [417])

    # --- persistence (RFC 9112 §9.3) -------------------------------------------------------------------

    def test_http10_with_an_unknown_connection_option_is_closed(self):
        [r] = self.assertAnswers(b"GET /health HTTP/1.0\r\nConnection: foo\r\n\r\n", [200], closed=True)
        self.assertEqual(r.header("connection", "").lower(), "close", r.headers)

    def test_http10_keep_alive_is_kept_alive(self):
        s = self.connect()
        for _ in range(2):
            s.sendall(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            rs = read_responses(s, 1)
            self.assertEqual([r.status for r in rs], [200], rs)
            self.assertEqual(rs[0].header("connection", "").lower(), "keep-alive", rs[0].headers)

    def test_http11_is_kept_alive_by_default(self):
        s = self.connect()
        for _ in range(2):
            s.sendall(GET_HEALTH)
            rs = read_responses(s, 1)
            self.assertEqual([r.status for r in rs], [200], rs)
            self.assertNotEqual(rs[0].header("connection", "").lower(), "close", rs[0].headers)

    def test_connection_close_closes_after_the_answer(self):
        [r] = self.assertAnswers(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + GET_HEALTH,
                                 [200], closed=True)
        self.assertEqual(r.header("connection", "").lower(), "close", r.headers)

    # --- Transfer-Encoding (RFC 9112 §6.1, §6.3, §7.1) ---------------------------------------------------

    def test_a_chunked_body_is_framed_and_the_pipelined_request_answered(self):
        # The chunk holds a whole request: were the body misframed, it would be answered (404).
        inner = b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
        body = b"%x\r\n%s\r\n3;ext=1\r\nabc\r\n0\r\n\r\n" % (len(inner), inner)
        finals = self.assertAnswers(b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    + body + GET_HEALTH, [200, 503], closed=False)
        self.assertEqual(json.loads(finals[0].body), {"status": "draining"})
        self.assertEqual(json.loads(finals[1].body)["output"], "draining")

    def test_a_transfer_coding_without_final_chunked_is_rejected(self):
        self.assertRejected(b"POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc" + GET_HEALTH)

    def test_an_unsupported_coding_before_chunked_is_answered_501(self):
        self.assertAnswers(b"POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                           b"0\r\n\r\n", [501])

    def test_transfer_encoding_with_content_length_is_rejected(self):
        self.assertRejected(b"POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"
                            b"\r\n0\r\n\r\n" + GET_HEALTH)

    def test_transfer_encoding_in_http10_is_rejected(self):
        self.assertRejected(b"POST /health HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")

    def test_a_chunked_body_over_the_body_limit_is_answered_413(self):
        chunk = b"%x\r\n%s\r\n" % (8192, b"a" * 8192)
        self.assertAnswers(b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           + chunk * (BODY_LIMIT // 8192 + 2) + b"0\r\n\r\n", [413], closed=True)

    def test_a_malformed_chunk_size_is_rejected(self):
        self.assertRejected(b"POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
                            + GET_HEALTH)

    # --- field syntax (RFC 9112 §5) ----------------------------------------------------------------------

    def test_obs_fold_is_rejected(self):
        for fold in (b" ", b"\t"):
            with self.subTest(fold):
                self.assertRejected(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n" + fold + b"b\r\n\r\n")

    def test_a_field_line_without_a_colon_is_rejected(self):
        self.assertRejected(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A b\r\n\r\n")

    def test_whitespace_between_field_name_and_colon_is_rejected(self):
        self.assertRejected(b"GET /health HTTP/1.1\r\nHost : x\r\n\r\n")

    def test_control_bytes_in_a_field_value_are_rejected(self):
        for byte in (b"\x00", b"\x01", b"\x0b", b"\x1b", b"\x7f", b"\r"):
            with self.subTest(byte):
                self.assertRejected(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a" + byte + b"b\r\n\r\n")

    def test_a_tab_in_a_field_value_is_accepted(self):
        self.assertAnswers(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\tb\r\n\r\n", [200], closed=False)

    # --- request line and version (RFC 9112 §3, §2.3; RFC 9110 §2.5) ---------------------------------------

    def test_a_request_line_with_two_spaces_is_rejected(self):
        self.assertRejected(b"GET  /health HTTP/1.1\r\nHost: x\r\n\r\n")

    def test_http20_is_answered_505(self):
        self.assertAnswers(b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n", [505])

    def test_a_higher_http1_minor_version_is_answered_as_http11(self):
        [r] = self.assertAnswers(b"GET /health HTTP/1.2\r\nHost: x\r\n\r\n", [200])
        self.assertEqual(json.loads(r.body)["status"], "pass")

    def test_a_malformed_version_is_rejected(self):
        for version in (b"HTTP/1", b"HTTP/1.", b"HTTP/1.1.1", b"http/1.1", b"HTTP/01.1"):
            with self.subTest(version):
                self.assertRejected(b"GET /health " + version + b"\r\nHost: x\r\n\r\n")

    # --- half-close (RFC 9112 §9.6) -------------------------------------------------------------------------

    def test_a_half_closed_client_gets_its_answer(self):
        # The drain last: after it /health answers 503.
        cases = [
            (GET_HEALTH, b'"status":"pass"'),
            (b"GET /health/history HTTP/1.1\r\nHost: x\r\n\r\n", b'"items"'),
            (b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", b'{"status":"draining"}'),
        ]
        for request, expect in cases:
            with self.subTest(request):
                self.assertIn(expect, self.assertAnswers(request, [200], closed=True,
                                                         shut_wr=True)[0].body)


    # --- routing on the decoded, normalised path (RFC 9112 §3.2.2, RFC 3986 §5.2.4) ---------------------

    def test_a_percent_encoded_admin_path_is_the_admin_endpoint(self):
        [r] = self.assertAnswers(b"POST /%61dmin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", [200])
        self.assertEqual(json.loads(r.body), {"status": "draining"})

    def test_an_absolute_form_admin_target_is_the_admin_endpoint(self):
        [r] = self.assertAnswers(b"POST http://x/admin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                                 [200])
        self.assertEqual(json.loads(r.body), {"status": "draining"})

    def test_a_percent_encoded_history_path_is_the_history_endpoint(self):
        [r] = self.assertAnswers(b"GET /health/%68istory HTTP/1.1\r\nHost: x\r\n\r\n", [200])
        self.assertIn("items", json.loads(r.body))

    def test_dot_segments_are_removed_before_routing(self):
        [r] = self.assertAnswers(b"GET /metrics/../health HTTP/1.1\r\nHost: x\r\n\r\n", [200])
        self.assertEqual(json.loads(r.body)["status"], "pass")

    def test_a_slow_reload_on_an_encoded_path_does_not_stall_other_clients(self):
        """POST /%61dmin/reload whose new check's create() takes 3 s: it must run off the event loops,
        so each of 10 keep-alive clients polling /health keeps being answered meanwhile. Judged on
        order and counts (a shared sequence number), not on time: on old main, the clients that
        share the reload's loop complete no poll between the reload's request and its answer."""
        with open(self.d.config_path) as f:
            config = json.load(f)
        config["checks"].append(check_config("slow", "fixture_sleep", "5s", "1s", options={"create_ms": "3s"}))
        self.write_config(config, os.path.basename(self.d.config_path))
        seq = itertools.count()  # next() is atomic under the GIL: a total order of events
        polls = [[] for _ in range(10)]  # per client: (sent seq, answered seq, status or error)
        done = threading.Event()

        def poll(mine):
            c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=HANG_GUARD)
            try:
                for _ in range(20000):
                    sent = next(seq)
                    try:
                        c.request("GET", "/health")
                        r = c.getresponse()
                        r.read()
                        mine.append((sent, next(seq), r.status))
                    except (OSError, http.client.HTTPException) as e:
                        mine.append((sent, next(seq), repr(e)))
                        return
                    if done.is_set():
                        return
            finally:
                c.close()

        threads = [threading.Thread(target=poll, args=(p,), daemon=True) for p in polls]
        for t in threads:
            t.start()
        self.wait_for(lambda: all(len(p) >= 3 for p in polls), message="every client to poll")
        s = self.connect(timeout=30)
        reload_sent = next(seq)
        s.sendall(b"POST /%61dmin/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        rs = read_responses(s, 1)
        reload_answered = next(seq)
        done.set()
        for t in threads:
            t.join(30)
        self.assertEqual([r.status for r in rs], [200], rs)
        self.assertEqual(json.loads(rs[0].body), {"status": "reloaded"})
        self.assertIn("slow", self.d.get("/health/checks/slow").json()["name"])
        for i, mine in enumerate(polls):
            during = [p for p in mine if reload_sent < p[0] < reload_answered]
            self.assertEqual({p[2] for p in during}, {200}, "client %d: %r" % (i, during))
            completed = [p for p in during if p[1] < reload_answered]
            self.assertGreaterEqual(len(completed), 5, "client %d completed %d polls while the reload ran"
                                    % (i, len(completed)))

    # --- error answers reach the client (RFC 9112 §9.6) -------------------------------------------------

    def test_error_answers_are_read_completely_despite_unread_input(self):
        """A client with a small receive buffer pipelines 20 GET /health and then a request the server
        rejects, followed by bytes the server will not use, and reads only once it has sent all. The
        answers wait in the server's send queue (the client's window is full) when the server closes;
        closing with unread input (or input arriving after close) resets the connection and the
        kernel drops that queue: on old main 17 of 20 runs lost the 4xx answer. 20 runs of each kind."""
        cases = [
            (431, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20480, b"a" * 65536),
            (400, b"GET /health HTTP/1.1\r\nHost x\r\n\r\n", b"j" * 65536),
        ]
        for code, bad, more in cases:
            lost = []
            for run in range(20):
                s = self.small_window_client(self.d.port)
                try:
                    s.sendall(GET_HEALTH * 20 + bad)
                    s.sendall(more)
                except OSError:
                    pass  # the server closed meanwhile: what matters is whether its answers still arrive
                rs = read_responses(s, 21)
                s.close()
                if [r.status for r in rs if r.complete] != [200] * 20 + [code]:
                    lost.append((run, len(rs), rs[-1:]))
            self.assertEqual(lost, [], "%d: answers lost in %d of 20 runs" % (code, len(lost)))

    # --- no busy loop on a half-closed client that does not read (issue 13, item 3) -----------------------

    def test_half_closed_clients_that_do_not_read_cost_no_cpu(self):
        """Two clients pipeline 3,000 GET /health with a 4 KiB receive buffer, stop reading and shut down
        their write side. The daemon waits on EPOLLOUT; old main spun on EPOLLRDHUP at ~100 % of a core
        per loop until the write timeout. CPU *time* consumed over ~2 s, against half a core: a bounded
        resource check that a busy loop fails by a factor of two or more, whatever the machine's speed.
        16 checks make each answer ~2.9 KB: 3,000 of them overflow the daemon's send buffer (tcp_wmem
        max 4 MiB), so it must wait for the client; with one check all would fit and nothing waits."""
        d = self.start_daemon(dict(self.config, checks=[file_check("ok%d" % i, self.ok) for i in range(16)]),
                              name="busy")
        self.wait_for(lambda: d.get("/health").status == 200, message="/health of 16 checks to pass")
        clients = []
        for _ in range(2):
            c = self.small_window_client(d.port)
            c.sendall(GET_HEALTH * 3000)
            clients.append(c)
        for c in clients:
            c.shutdown(socket.SHUT_WR)
        pid = d.proc.pid
        cpu0, t0 = proc_cpu_seconds(pid), time.monotonic()
        time.sleep(2.0)
        cpu1, t1 = proc_cpu_seconds(pid), time.monotonic()
        share = (cpu1 - cpu0) / (t1 - t0)
        self.assertLess(share, 0.5, "the daemon used %.0f %% of a core while two half-closed clients did not read"
                        % (share * 100))
        for c in clients:
            c.close()
        r = d.get("/health")
        self.assertEqual(r.status, 200, r)

    # --- every close has a named, counted reason (issue 13) ----------------------------------------------

    def closes(self):
        """{reason: count} of vitals_http_connections_closed_total, read on one kept-alive connection
        (so that reading them closes nothing)."""
        if getattr(self, "_metrics_conn", None) is None:
            self._metrics_conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=HANG_GUARD)
            self.addCleanup(lambda: self._metrics_conn and self._metrics_conn.close())
        self._metrics_conn.request("GET", "/metrics")
        r = self._metrics_conn.getresponse()
        text = r.read().decode()
        self.assertEqual(r.status, 200, text)
        return {reason: int(n) for reason, n in CLOSED_RE.findall(text)}

    def assertCloseCounted(self, reason, provoke):
        before = self.closes().get(reason, 0)
        provoke()
        self.wait_for(lambda: self.closes().get(reason, 0) > before, 5.0,
                      "vitals_http_connections_closed_total{reason=%r} to pass %d" % (reason, before))

    def test_a_close_after_an_answer_without_keep_alive_is_counted(self):
        self.assertCloseCounted("answered_close", lambda: self.assertAnswers(
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", [200], closed=True))

    def test_a_close_by_the_peer_is_counted(self):
        def provoke():
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=HANG_GUARD)
            s.sendall(GET_HEALTH)
            self.assertEqual([r.status for r in read_responses(s, 1)], [200])
            s.close()
        self.assertCloseCounted("peer_closed", provoke)

    def test_a_close_over_a_limit_is_counted(self):
        self.assertCloseCounted("limit", lambda: self.assertRejected(
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (HEAD_LIMIT + 1000) + b"\r\n\r\n", 431))

    def test_a_close_on_a_protocol_error_is_counted(self):
        self.assertCloseCounted("protocol_error", lambda: self.assertRejected(
            b"GET /health HTTP/1.1\r\nHost x\r\n\r\n"))

    def test_a_close_on_the_header_timeout_is_counted(self):
        """The header timeout is 5 s (not configurable): one half-sent head, waited out under the hang
        guard. The metrics connection is closed first so that its own keep-alive timeout (also 5 s)
        cannot be what is counted."""
        before = self.closes().get("timeout", 0)
        self._metrics_conn.close()
        self._metrics_conn = None
        s = self.connect(timeout=HANG_GUARD + 5)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        self.assertEqual(s.recv(100), b"", "the half-sent head was answered instead of timing out")
        self.wait_for(lambda: self.closes().get("timeout", 0) > before, 5.0,
                      "vitals_http_connections_closed_total{reason=\"timeout\"} to pass %d" % before)

if __name__ == "__main__":
    unittest.main()
