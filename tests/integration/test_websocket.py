"""The websocket check type (SPEC section 3) against real WebSocket peers on ephemeral ports
(peers/ws_server.py: python3-websockets servers, plus raw-socket servers for handshake faults): the
RFC 6455 handshake, subprotocol, ping/pong, send/expect, the clean close, wss:// with a test CA, each
fault's precise message, option validation, a peer stopped under a running daemon, and the URL's
password never showing anywhere."""

import os
import re
import unittest

from peers import TestPki, free_port, start_peer_script
from vitals_harness import VitalsTestCase

PASSWORD = "ws-Pa55word-zyxxy"


def ws_check(name, url, interval="5s", timeout="1s", **options):
    opts = {"url": url}
    opts.update(options)
    return {"name": name, "type": "websocket", "interval": interval, "timeout": timeout, "options": opts}


class WebSocketTestCase(VitalsTestCase):
    def ws_peer(self, *args):
        """A started peers/ws_server.py (see its docstring for the modes), stopped on cleanup."""
        return start_peer_script(self, "ws_server.py", *args)

    def assertClosedCleanly(self, peer, connections):
        """The peer saw `connections` WebSocket connections end, each with our close frame (1000)."""
        def closes():
            lines = [l for l in peer.lines_now() if l.startswith("CLOSED ")]
            return lines if len(lines) >= connections else None
        lines = self.wait_for(closes, 5.0, "%d closed connections at the peer" % connections)
        self.assertEqual(lines, ["CLOSED 1000"] * connections, peer.lines_now())


class WebSocketCheckTest(WebSocketTestCase):
    def test_healthy_peer_passes_and_closes_cleanly(self):
        peer = self.ws_peer("--subprotocol", "chat")
        url = "ws://127.0.0.1:%d/socket?room=1" % peer.port
        rows, proc = self.check_once([
            ws_check("plain", url),
            ws_check("full", url, subprotocol="chat", origin="https://app.example", ping=True, send="hello vitals",
                     expect="vitals", headers={"X-Request-Id": "health"}),
        ], expect_code=0)
        self.assertEqual(rows["plain"][0], "pass", proc.stdout)
        self.assertRegex(rows["plain"][1], r"^101 from 127\.0\.0\.1:%d in \d+\.\d\d ms$" % peer.port)
        self.assertEqual(rows["full"][0], "pass", proc.stdout)
        self.assertRegex(rows["full"][1], r"^101 from 127\.0\.0\.1:%d in \d+\.\d\d ms, subprotocol 'chat', "
                                          r"pong in \d+\.\d\d ms, received 'vitals'$" % peer.port)
        self.assertClosedCleanly(peer, 2)

    def test_handshake_faults_have_precise_messages(self):
        http200 = self.ws_peer("--mode", "http200")
        http401 = self.ws_peer("--mode", "http401")
        bad_accept = self.ws_peer("--mode", "bad-accept")
        no_subprotocol = self.ws_peer()
        closed_port = free_port()
        rows, proc = self.check_once([
            ws_check("http200", "ws://127.0.0.1:%d/" % http200.port),
            ws_check("http401", "ws://127.0.0.1:%d/" % http401.port),
            ws_check("accept", "ws://127.0.0.1:%d/" % bad_accept.port),
            ws_check("refused", "ws://127.0.0.1:%d/" % closed_port),
            ws_check("subproto", "ws://127.0.0.1:%d/" % no_subprotocol.port, subprotocol="chat"),
        ], expect_code=2)
        self.assertEqual(rows["http200"], ("fail", "expected 101, got 200 OK"), proc.stdout)
        self.assertEqual(rows["http401"], ("fail", "expected 101, got 401 Unauthorized"), proc.stdout)
        self.assertEqual(rows["accept"], ("fail", "Sec-WebSocket-Accept mismatch"), proc.stdout)
        self.assertEqual(rows["refused"], ("fail", "connect to 127.0.0.1:%d: Connection refused" % closed_port), proc.stdout)
        self.assertEqual(rows["subproto"], ("fail", "subprotocol 'chat' not selected by server"), proc.stdout)
        # Even a failed check closes a completed WebSocket handshake with a close frame.
        self.assertClosedCleanly(no_subprotocol, 1)

    def test_no_pong_fails_before_the_deadline_and_still_closes_cleanly(self):
        peer = self.ws_peer("--mode", "no-pong")
        url = "ws://127.0.0.1:%d/" % peer.port
        rows, proc = self.check_once([
            ws_check("ping", url, timeout="600ms", ping=True),
            ws_check("echo", url, timeout="600ms", send="still here", expect="still here"),
        ], expect_code=2)
        status, output = rows["ping"]
        self.assertEqual(status, "fail", proc.stdout)
        m = re.match(r"^no pong within (\d+) ms$", output)
        self.assertTrue(m, output)
        self.assertLessEqual(int(m.group(1)), 600)  # our own message, not the host's "timed out"
        self.assertEqual(rows["echo"][0], "pass", proc.stdout)
        self.assertClosedCleanly(peer, 2)

    def test_expect_mismatch_and_no_message(self):
        peer = self.ws_peer()
        url = "ws://127.0.0.1:%d/" % peer.port
        rows, proc = self.check_once([
            ws_check("mismatch", url, send="hello", expect="goodbye"),
            ws_check("silent", url, timeout="500ms", expect="greeting"),  # the echo server says nothing first
        ], expect_code=2)
        self.assertEqual(rows["mismatch"], ("fail", "expected 'goodbye' not in the first message (got 'hello')"))
        self.assertRegex(rows["silent"][1], r"^expected 'greeting': no message within \d+ ms$")
        self.assertClosedCleanly(peer, 2)

    def test_basic_auth_from_url_userinfo(self):
        peer = self.ws_peer("--basic-auth", "health:" + PASSWORD)
        url = "ws://%s127.0.0.1:%d/" % ("%s", peer.port)
        rows, proc = self.check_once([
            ws_check("good", url % ("health:%s@" % PASSWORD), ping=True),
            ws_check("wrong", url % ("health:not-%s@" % PASSWORD)),
            ws_check("none", url % ""),
        ], expect_code=2)
        self.assertEqual(rows["good"][0], "pass", proc.stdout)
        self.assertEqual(rows["wrong"], ("fail", "expected 101, got 401 Unauthorized"), proc.stdout)
        self.assertEqual(rows["none"], ("fail", "expected 101, got 401 Unauthorized"), proc.stdout)
        self.assertNotIn(PASSWORD, proc.stdout + proc.stderr)

    def test_greeting_matches_expect_without_send(self):
        peer = self.ws_peer("--greeting", "welcome to the service")
        rows, proc = self.check_once([ws_check("greet", "ws://127.0.0.1:%d/" % peer.port, ping=True, expect="welcome")],
                                     expect_code=0)
        self.assertEqual(rows["greet"][0], "pass", proc.stdout)

    def test_servers_that_never_finish_time_out_with_own_message(self):
        silent = self.ws_peer("--mode", "silent")
        drip = self.ws_peer("--mode", "drip")  # bytes keep coming: no socket timeout fires, the deadline must
        rows, proc = self.check_once([
            ws_check("hang", "ws://127.0.0.1:%d/" % silent.port, timeout="500ms"),
            ws_check("tls-hang", "wss://127.0.0.1:%d/" % silent.port, timeout="500ms"),
            ws_check("drip", "ws://127.0.0.1:%d/" % drip.port, timeout="800ms"),
        ], expect_code=2)
        self.assertRegex(rows["hang"][1], r"^no handshake response from 127\.0\.0\.1:%d within \d+ ms$" % silent.port)
        self.assertRegex(rows["tls-hang"][1], r"^TLS handshake with 127\.0\.0\.1:%d timed out after \d+ ms$" % silent.port)
        self.assertRegex(rows["drip"][1], r"^no handshake response from 127\.0\.0\.1:%d within \d+ ms$" % drip.port)


class WebSocketTlsTest(WebSocketTestCase):
    def test_wss_with_test_ca(self):
        pki = TestPki(self.path("pki"))
        good_cert, good_key = pki.issue("good", days=30)
        old_cert, old_key = pki.issue("expired", start=pki.openssl_date(-10 * 86400), end=pki.openssl_date(-2 * 86400))
        good = self.ws_peer("--cert", good_cert, "--key", good_key)
        expired = self.ws_peer("--cert", old_cert, "--key", old_key)
        plain = self.ws_peer()
        rows, proc = self.check_once([
            ws_check("ok-ip", "wss://127.0.0.1:%d/" % good.port, ca_file=pki.ca_cert, ping=True, send="x", expect="x"),
            ws_check("ok-name", "wss://localhost:%d/" % good.port, ca_file=pki.ca_cert),
            ws_check("unknown-ca", "wss://127.0.0.1:%d/" % good.port),
            ws_check("no-verify", "wss://127.0.0.1:%d/" % good.port, tls_verify=False),
            ws_check("expired", "wss://127.0.0.1:%d/" % expired.port, ca_file=pki.ca_cert),
            ws_check("not-tls", "wss://127.0.0.1:%d/" % plain.port, ca_file=pki.ca_cert),
        ], expect_code=2)
        for name in ("ok-ip", "ok-name", "no-verify"):
            self.assertEqual(rows[name][0], "pass", (name, proc.stdout))
        self.assertEqual(rows["unknown-ca"][0], "fail")
        self.assertTrue(rows["unknown-ca"][1].startswith("TLS: certificate verify failed: unable to get local issuer"),
                        rows["unknown-ca"])
        self.assertEqual(rows["expired"][0], "fail")
        self.assertRegex(rows["expired"][1], r"^TLS: certificate verify failed: certificate expired 2 days ago \(notAfter ")
        self.assertRegex(rows["not-tls"][1], r"^TLS: handshake with 127\.0\.0\.1:%d failed: " % plain.port)
        self.assertClosedCleanly(good, 3)


class WebSocketOptionsTest(WebSocketTestCase):
    MISTAKES = [
        ({"url": "http://127.0.0.1/"}, "url must start with ws:// or wss://"),
        ({"url": "ws:///nohost"}, "url has no host"),
        ({"url": "ws://127.0.0.1/", "subprotocol": "two words"}, "subprotocol 'two words' is not a valid token"),
        ({"url": "ws://127.0.0.1/", "headers": {"Sec-WebSocket-Key": "x"}}, "'Sec-WebSocket-Key' is set by the check"),
        ({"url": "ws://127.0.0.1/", "headers": {"X-Bad": "a\r\nInjected: 1"}}, "contains a control character"),
        ({"url": "wss://127.0.0.1/", "ca_file": "/nonexistent/ca.pem"}, "ca_file '/nonexistent/ca.pem': No such file"),
        ({"url": "ws://127.0.0.1/", "expect": ""}, "expect must not be empty"),
    ]

    def test_bad_options_are_config_errors(self):
        checks = [ws_check("bad%d" % i, "x") for i in range(len(self.MISTAKES))]
        for c, (options, _) in zip(checks, self.MISTAKES):
            c["options"] = options
        cfg = self.write_config({"checks": checks})
        p = self.run_vitals(["validate", "-c", cfg])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        for i, (_, message) in enumerate(self.MISTAKES):
            self.assertRegex(p.stderr, r"checks\[%d\]\.options: websocket: .*%s" % (i, re.escape(message)))

    def test_password_in_a_bad_url_is_not_echoed(self):
        cfg = self.write_config({"checks": [ws_check("bad", "wss://user:%s@127.0.0.1:99999/" % PASSWORD)]})
        p = self.run_vitals(["validate", "-c", cfg])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertNotIn(PASSWORD, p.stdout + p.stderr)


class WebSocketDaemonTest(WebSocketTestCase):
    def test_stopped_peer_fails_health_and_password_never_shows(self):
        peer = self.ws_peer()
        url = "ws://health:%s@127.0.0.1:%d/ws" % (PASSWORD, peer.port)
        d = self.start_daemon({"log": {"level": "debug"},
                               "checks": [ws_check("ws", url, interval="1s", timeout="500ms", ping=True,
                                                   headers={"X-Token": "header-" + PASSWORD})]})
        output = self.assertStoppedPeerFailsHealth(d, "ws", peer.stop, PASSWORD)
        self.assertRegex(output, r"^connect to 127\.0\.0\.1:%d: Connection refused$" % peer.port)


if __name__ == "__main__":
    unittest.main()
