"""The grpc check type (SPEC section 3) against a real libgrpc++ server with a scriptable
grpc.health.v1 Health service (build/fixtures/grpc_health_server, tests/fixtures/grpc_health_server.cpp)
on 127.0.0.1 ephemeral ports, plaintext and TLS with a CA made here by the openssl CLI: each serving
status, a service switched between SERVING and NOT_SERVING under a running daemon, a stopped server
(UNAVAILABLE), a hanging call and a silent peer (the deadline), TLS verification and host names,
metadata, process isolation, option validation, the token in metadata never showing anywhere, and a
daemon without grpc or tls checks never mapping those plugins."""

import json
import os
import sqlite3
import tempfile
import unittest

from peers import GrpcHealthServer, SilentListener, TestPki, free_port
from vitals_harness import FIXTURE_DIR, PLUGIN_DIR, VitalsTestCase, check_config, health_check_entry

TOKEN = "grpc-t0ken-xyzzy-31337"


def grpc_check(name, target, interval="5s", timeout="1s", isolation="in_process", **options):
    return check_config(name, "grpc", interval, timeout, isolation=isolation, options=dict({"target": target}, **options))


class GrpcTestCase(VitalsTestCase):
    def check_once(self, checks, expect_code=None):
        """VitalsTestCase.check_once, also asserting TOKEN never shows on stdout or stderr."""
        return super().check_once(checks, expect_code, secrets=(TOKEN,))

    def server(self, **kwargs):
        s = GrpcHealthServer(FIXTURE_DIR, **kwargs)
        self.addCleanup(s.stop)
        return s.start()


class GrpcCheckTest(GrpcTestCase):
    def test_serving_statuses_errors_and_metadata(self):
        s = self.server(token=TOKEN)
        for service, status in (("api", "SERVING"), ("down", "NOT_SERVING"), ("unknown", "UNKNOWN"),
                                ("gone", "SERVICE_UNKNOWN")):
            s.set(service, status)
        target = "127.0.0.1:%d" % s.port
        closed = free_port()
        rows, proc = self.check_once([
            grpc_check("server", target),
            grpc_check("api", target, service="api"),
            grpc_check("down", target, service="down"),
            grpc_check("unknown", target, service="unknown"),
            grpc_check("gone", target, service="gone"),
            grpc_check("absent", target, service="absent"),
            grpc_check("auth", target, service="auth", metadata={"Authorization": "Bearer " + TOKEN}),
            grpc_check("auth-wrong", target, service="auth", metadata={"authorization": "Bearer wrong-" + TOKEN}),
            grpc_check("auth-none", target, service="auth"),
            grpc_check("isolated", target, service="api", isolation="process"),
            grpc_check("refused", "127.0.0.1:%d" % closed),
            grpc_check("tls-to-plaintext", target, tls=True),
        ], expect_code=2)
        self.assertRows(rows, {
            "server": ("pass", r"^server SERVING in \d+\.\d\d ms$"),
            "api": ("pass", r"^service 'api' SERVING in \d+\.\d\d ms$"),
            "down": ("fail", r"^service 'down' NOT_SERVING$"),
            "unknown": ("fail", r"^service 'unknown' UNKNOWN$"),
            "gone": ("fail", r"^service 'gone' SERVICE_UNKNOWN$"),
            "absent": ("fail", r"^NOT_FOUND: unknown service$"),
            "auth": ("pass", r"^service 'auth' SERVING"),
            "auth-wrong": ("fail", r"^UNAUTHENTICATED: bad or missing token$"),
            "auth-none": ("fail", r"^UNAUTHENTICATED: bad or missing token$"),
            "isolated": ("pass", r"^service 'api' SERVING in \d+\.\d\d ms$"),
            "refused": ("fail", r"^UNAVAILABLE: failed to connect to all addresses; .*127\.0\.0\.1:%d.*Connection refused$"
                                % closed),
            "tls-to-plaintext": ("fail", r"^UNAVAILABLE: failed to connect to all addresses; .*[Hh]andshake"),
        }, proc)
        # The calls reached the server with the plugin's user agent; "isolated" ran in a worker child.
        agents = s.calls("api")
        self.assertEqual(len(agents), 2, s.lines_now())
        for agent in agents:
            self.assertIn("vitals-grpc/0.1.0", agent)

    def test_deadlines(self):
        s = self.server()
        s.set("slow", "HANG")
        silent = SilentListener()
        self.addCleanup(silent.close)
        rows, proc = self.check_once([
            grpc_check("hang", "127.0.0.1:%d" % s.port, service="slow", timeout="500ms"),
            # Accepts the TCP connection and never speaks HTTP/2.
            grpc_check("silent", "127.0.0.1:%d" % silent.port, timeout="500ms"),
        ], expect_code=2)  # within run_vitals' hang guard: each deadline ended its check
        self.assertRows(rows, {
            "hang": ("fail", r"^DEADLINE_EXCEEDED: Deadline Exceeded \(timed out after \d+ ms\)$"),
            "silent": ("fail", r"^DEADLINE_EXCEEDED: Deadline Exceeded \(timed out after \d+ ms\)$"),
        }, proc)
        # (The plugin's own message, not the host's bare "timed out after 500 ms": it gave up first.)
        self.assertEqual(len(s.calls("slow")), 1, s.lines_now())

    def test_tls(self):
        tmp = tempfile.TemporaryDirectory(prefix="vitals-grpc-")
        self.addCleanup(tmp.cleanup)
        pki = TestPki(os.path.join(tmp.name, "pki"))
        s = self.server(tls=pki.issue("server", days=30))
        target = "127.0.0.1:%d" % s.port
        ca = pki.ca_cert
        rows, proc = self.check_once([
            grpc_check("verified", target, tls=True, ca_file=ca),
            grpc_check("by-name", target, tls=True, ca_file=ca, authority="localhost"),
            grpc_check("wrong-name", target, tls=True, ca_file=ca, authority="wrong.example"),
            grpc_check("system-cas", target, tls=True),
            grpc_check("no-verify", target, tls=True, tls_verify=False),
            grpc_check("plaintext-to-tls", target),
        ], expect_code=2)
        self.assertRows(rows, {
            "verified": ("pass", r"^server SERVING in \d+\.\d\d ms$"),
            "by-name": ("pass", r"^server SERVING"),
            "wrong-name": ("fail", r"^UNAVAILABLE: failed to connect to all addresses; .*Peer name wrong\.example is not in peer certificate$"),
            "system-cas": ("fail", r"^UNAVAILABLE: failed to connect to all addresses; .*(CERTIFICATE_VERIFY_FAILED|certificate verify failed)"),
            "no-verify": ("pass", r"^server SERVING"),
            "plaintext-to-tls": ("fail", r"^UNAVAILABLE: failed to connect to all addresses; "),
        }, proc)

    MISTAKES = [
        ({"target": ""}, "target must not be empty"),
        ({"target": "127.0.0.1"}, "target '127.0.0.1' has no port"),
        ({"target": "127.0.0.1:1 x"}, "contains a space or control character"),
        ({"target": "127.0.0.1:1", "ca_file": "/nonexistent/ca.pem"}, "ca_file and tls_verify apply to TLS only"),
        ({"target": "127.0.0.1:1", "tls": True, "ca_file": "/nonexistent/ca.pem"}, "ca_file '/nonexistent/ca.pem': No such file"),
        ({"target": "127.0.0.1:1", "tls": True, "ca_file": "/etc/hostname"}, "holds no PEM certificate"),
        ({"target": "127.0.0.1:1", "metadata": {"bad key": "v"}}, "metadata: invalid key 'bad key'"),
        ({"target": "127.0.0.1:1", "metadata": {"grpc-timeout": "1S"}}, "metadata: key 'grpc-timeout' is reserved"),
        ({"target": "127.0.0.1:1", "metadata": {"x-bin": "v"}}, "metadata: binary key 'x-bin' is not supported"),
        ({"target": "127.0.0.1:1", "metadata": {"x-token": "line\nbreak-" + TOKEN}}, "metadata: value of 'x-token' must be printable ASCII"),
        ({"target": "127.0.0.1:1", "authority": "a/b"}, "authority 'a/b' is not a host[:port]"),
    ]

    def test_bad_options_are_config_errors(self):
        self.assertOptionErrors("grpc", self.MISTAKES, secrets=(TOKEN,))

    def test_schema_in_vitals_plugins(self):
        self.assertSchemaShown("grpc", ("target", "service", "tls", "tls_verify", "ca_file", "authority", "metadata"),
                               [r"\n    metadata\s+string map\s+optional, secret\s", r"\n    target\s+string\s+required\s"])


class GrpcDaemonTest(GrpcTestCase):
    def test_switching_status_then_stopped_server_and_token_never_shows(self):
        s = self.server(token=TOKEN)
        s.set("api", "SERVING")
        target = "127.0.0.1:%d" % s.port
        d = self.start_daemon({
            "log": {"level": "debug"},
            "checks": [
                grpc_check("api", target, interval="500ms", timeout="400ms", service="api"),
                grpc_check("auth", target, interval="500ms", timeout="400ms", service="auth",
                           metadata={"authorization": "Bearer ${GRPC_TOKEN}"}),
            ]}, env=dict(os.environ, GRPC_TOKEN=TOKEN))
        self.wait_for(lambda: d.get("/health").status == 200, 10.0, "/health to pass")

        s.set("api", "NOT_SERVING")
        self.wait_check(d, "api", lambda b: b.get("lastResult", {}).get("output") == "service 'api' NOT_SERVING",
                        message="api to report NOT_SERVING")
        self.wait_for(lambda: d.get("/health").status == 503, 10.0, "/health to fail")
        entry = health_check_entry(d.get("/health").json(), "api")
        self.assertEqual((entry["status"], entry["observedUnit"]), ("fail", "ms"), entry)
        s.set("api", "SERVING")
        self.wait_for(lambda: d.get("/health").status == 200, 10.0, "/health to pass again")

        output = self.assertStoppedPeerFailsHealth(d, "auth", s.stop, TOKEN)
        self.assertRegex(output, r"^UNAVAILABLE: failed to connect to all addresses; .*127\.0\.0\.1:%d" % s.port)
        con = sqlite3.connect(self.path(d.name + ".db"))
        self.addCleanup(con.close)
        rows = 0
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for row in con.execute('SELECT * FROM "%s"' % table):
                rows += 1
                self.assertNotIn(TOKEN, repr(row))
        self.assertGreater(rows, 0)

    def test_reloads_destroy_and_create_grpc_instances(self):
        # gRPC keeps threads of its own: destroying an instance (a reload that drops the check) and
        # creating another must leave the daemon serving, three times over.
        s = self.server()
        disk = {"name": "root", "type": "disk", "interval": "1s", "timeout": "500ms", "options": {"path": "/"}}
        g = grpc_check("g", "127.0.0.1:%d" % s.port, interval="500ms", timeout="400ms")
        d = self.start_daemon({"checks": [disk, g]})
        with open(d.config_path) as f:
            config = json.load(f)

        def reload(checks):
            config["checks"] = checks
            with open(d.config_path, "w") as f:
                json.dump(config, f)
            r = d.get("/admin/reload", method="POST", body=b"")
            self.assertEqual(r.status, 200, r)

        def names():
            return {key.split(":", 1)[0] for key in d.get("/health").json().get("checks", {})}
        for _ in range(3):
            self.wait_check(d, "g", lambda b: b.get("lastResult", {}).get("output", "").startswith("server SERVING"),
                            message="g to pass")
            reload([disk])
            self.wait_for(lambda: names() == {"root"}, 10.0, "g to be gone")
            reload([disk, g])
            self.wait_for(lambda: names() == {"root", "g"}, 10.0, "g to be back")
        self.wait_for(lambda: d.get("/health").status == 200, 10.0, "/health to pass")
        self.assertTrue(d.alive())

    def test_a_daemon_without_grpc_or_tls_checks_never_maps_their_files(self):
        # SPEC/issue 18 "Cost": the loader opens a plugin file named after a type the configuration
        # uses, and the others only when a type is missing.
        def mapped(d):
            with open("/proc/%d/maps" % d.proc.pid) as f:
                return f.read()
        disk = {"name": "root", "type": "disk", "interval": "1s", "timeout": "500ms", "options": {"path": "/"}}
        without = self.start_daemon({"checks": [disk]})
        self.wait_for(lambda: without.get("/health").status == 200, 10.0, "/health to pass")
        maps = mapped(without)
        self.assertIn(os.path.join(PLUGIN_DIR, "disk.so"), maps)
        for name in ("grpc.so", "tls.so", "libgrpc", "libprotobuf"):
            self.assertNotIn(name, maps)

        with_grpc = self.start_daemon({"checks": [disk, grpc_check("g", "127.0.0.1:%d" % free_port())]})
        self.wait_for(lambda: "g" in str(with_grpc.get("/health").json()), 10.0, "the grpc check to show")
        maps = mapped(with_grpc)
        self.assertIn(os.path.join(PLUGIN_DIR, "grpc.so"), maps)
        self.assertIn("libgrpc", maps)
        self.assertNotIn("tls.so", maps)


if __name__ == "__main__":
    unittest.main()
