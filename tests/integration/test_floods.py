"""The health port under hostile clients (issue 6): thousands of idle or half-sent connections, and
malformed requests, must never keep a fresh GET /health from being answered correctly. Timing
figures live in tests/bench (floods); here only correctness, with generous socket timeouts."""

import http.client
import os
import resource
import socket
import ssl
import tempfile
import unittest

from peers import TestPki, client_hello
from vitals_harness import HANG_GUARD, VitalsTestCase, parse_responses, raw, read_until


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class HealthPortTestCase(VitalsTestCase):
    """A daemon with one passing check, and a fresh GET /health on its port."""

    def start(self, server=None):
        ok = self.status_file("ok.status", "pass")
        return self.start_daemon({
            "server": server or {},
            "plugins": self.plugins_with_fixtures(),
            "checks": [{"name": "ok", "type": "fixture_file", "interval": "200ms", "timeout": "100ms",
                        "options": {"path": ok}}],
        })

    def hold_keepalive(self, d, n, tls=None):
        """`n` keep-alive connections, each answered once and then left idle (closed on cleanup)."""
        held = []
        self.addCleanup(lambda: [c.close() for c in held])
        for _ in range(n):
            if tls:
                c = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=HANG_GUARD, context=tls)
            else:
                c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
            c.request("GET", "/health")
            c.getresponse().read()
            held.append(c)
        return held

    def fresh_health(self, d, tls=None):
        """GET /health on a new connection; over TLS with the ssl context `tls`."""
        if tls:
            c = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=HANG_GUARD, context=tls)
        else:
            c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
        try:
            c.request("GET", "/health")
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()


class FloodTest(HealthPortTestCase):

    def test_thousands_of_idle_and_half_sent_connections_do_not_block_health(self):
        if raise_fd_limit(2600) < 2600:
            self.skipTest("cannot open 2600 descriptors here")
        d = self.start()
        self.wait_for(lambda: self.fresh_health(d)[0] == 200, message="/health 200")
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for _ in range(1000):  # idle: connected, nothing sent
            held.append(socket.create_connection(("127.0.0.1", d.port), timeout=5))
        for _ in range(1000):  # slowloris: a request head that never ends
            s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            held.append(s)
        self.hold_keepalive(d, 200)  # idle keep-alive after one request
        for _ in range(20):
            status, body = self.fresh_health(d)
            self.assertEqual(status, 200)
            self.assertIn(b'"status":"pass"', body)
        # Half-sent heads are dropped after the header timeout (5 s): the descriptors come back.
        s = held[1500]
        s.settimeout(10)
        self.assertEqual(s.recv(100), b"", "a slowloris connection was not closed")
        self.assertEqual(self.fresh_health(d)[0], 200)
        self.assertTrue(d.alive())

    def test_pipelined_requests_are_answered_in_order(self):
        d = self.start()
        self.wait_for(lambda: self.fresh_health(d)[0] == 200, message="/health 200")
        out = raw(d.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 5 +
                  b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(out.count(b"HTTP/1.1 200 OK"), 5)
        self.assertTrue(out.rstrip().endswith(b'"detail":"no such endpoint: /nope"}'))


class TlsFloodTest(HealthPortTestCase):
    """TLS slowloris (server.tls): handshakes that never finish and idle TLS keep-alive connections
    cost descriptors, never threads, and a fresh HTTPS /health is answered meanwhile."""

    @classmethod
    def setUpClass(cls):
        tmp = tempfile.TemporaryDirectory(prefix="vitals-flood-tls-")
        cls.addClassCleanup(tmp.cleanup)
        cls.pki = TestPki(os.path.join(tmp.name, "pki"))
        cls.cert, cls.key = cls.pki.issue("server", days=30)

    def fresh_https(self, d):
        return self.fresh_health(d, ssl.create_default_context(cafile=self.pki.ca_cert))

    def test_stalled_handshakes_and_idle_tls_connections_do_not_block_health(self):
        if raise_fd_limit(1400) < 1400:
            self.skipTest("cannot open 1400 descriptors here")
        d = self.start({"tls": {"cert": self.cert, "key": self.key}})
        self.wait_for(lambda: self.fresh_https(d)[0] == 200, message="/health 200 over TLS")
        threads = d.serving_threads()
        hello = client_hello()
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for i in range(1000):  # TLS slowloris: a ClientHello cut short (or whole), then nothing
            s = socket.create_connection(("127.0.0.1", d.port), timeout=HANG_GUARD)
            s.sendall(hello[:40] if i % 2 else hello)
            held.append(s)
        self.hold_keepalive(d, 200, ssl.create_default_context(cafile=self.pki.ca_cert))  # idle TLS keep-alive
        for _ in range(20):
            status, body = self.fresh_https(d)
            self.assertEqual(status, 200)
            self.assertIn(b'"status":"pass"', body)
        self.assertLessEqual(d.serving_threads(), threads, "the flood cost threads")
        # Stalled handshakes are dropped at the header timeout (5 s): the descriptors come back.
        for s in (held[0], held[999]):
            s.settimeout(HANG_GUARD)
            self.assertEqual(read_until(s)[1], "closed", "a stalled handshake was not closed")
        self.assertEqual(self.fresh_https(d)[0], 200)
        self.assertTrue(d.alive())


class MalformedRequestTest(HealthPortTestCase):

    def test_each_malformed_request_gets_its_4xx(self):
        d = self.start()
        self.wait_for(lambda: self.fresh_health(d)[0] == 200, message="/health 200")
        # name: (bytes, the answer's code, whether the server then closes). A framing error closes the
        # connection (nothing after it can be read as a request); a well-framed request it refuses
        # leaves the connection open, in step for the next request.
        cases = {
            "garbage bytes": (bytes(range(256)) * 4 + b"\r\n\r\n", 400, True),
            "no version": (b"GET /health\r\n\r\n", 400, True),
            "bad version": (b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n", 505, True),
            "unknown method": (b"BREW /health HTTP/1.1\r\nHost: x\r\n\r\n", 405, False),
            "oversized header": (b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431, True),
            "oversized request line": (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 431, True),
            "too many headers": (b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(500)) + b"\r\n",
                                 400, True),
            "bad percent-encoding": (b"GET /health/%zz%g HTTP/1.1\r\nHost: x\r\n\r\n", 400, True),
            "bad query encoding": (b"GET /health/history?check=%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, False),
            "huge body": (b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413, True),
            # A chunked body is framed and accepted (test_http_conformance); a malformed one is not.
            "malformed chunk size": (b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                                     400, True),
            "negative length": (b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400, True),
            # Poco throws on these; uncaught, it once took the daemon down.
            "length not a number": (b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, True),
            "length overflowing": (b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                                   400, True),
            "header without colon": (b"GET /health HTTP/1.1\r\nHost x\r\n\r\n", 400, True),
            "nul in path": (b"GET /hea\x00lth HTTP/1.1\r\nHost: x\r\n\r\n", 400, True),
            "bare LF lines": (b"GET /health HTTP/1.1\nHost: x\n\n", 400, True),  # RFC 9112 2.2: may be refused
        }
        for name, (data, code, closes) in cases.items():
            with self.subTest(name):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=HANG_GUARD)
                self.addCleanup(s.close)
                s.sendall(data)
                if closes:
                    out, how = read_until(s)
                    self.assertEqual(how, "closed", out[:200])
                else:
                    out, how = read_until(s, done=lambda b: [r.complete for r in parse_responses(b)] == [True])
                    self.assertEqual(how, "open", out[:200])
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    out += read_until(s)[0]
                s.close()
                responses = parse_responses(out)
                self.assertEqual([r.status for r in responses], [code] if closes else [code, 200], out[:400])
                self.assertEqual(responses[0].header("Content-Type"), "application/problem+json", out[:400])
                # And a fresh GET /health is answered as before: nothing was drained, nothing broke.
                self.assertEqual(self.fresh_health(d)[0], 200)
        self.assertTrue(d.alive())
        self.assertEqual(d.get("/health/checks/ok").status, 200)


if __name__ == "__main__":
    unittest.main()
