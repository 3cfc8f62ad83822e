"""The tls check type (SPEC section 3) against a real nginx on ephemeral ports with certificates made
here by the openssl CLI (a test CA; valid, expiring in 10 and 3 days, expired, wrong-name and
self-signed certificates; a TLS 1.2-only server; two names on one port told apart by SNI): chain and
host name verification, server_name, warn_days/fail_days, min_version, deadlines, process isolation,
option validation, and the days left as the observed value."""

import os
import subprocess
import tempfile
import unittest

from peers import OPENSSL, Nginx, SilentListener, TestPki, free_port
from vitals_harness import VitalsTestCase, check_config, health_check_entry


def tls_check(name, port, host="127.0.0.1", interval="5s", timeout="1s", isolation="in_process", **options):
    return check_config(name, "tls", interval, timeout, isolation=isolation, options=dict({"host": host, "port": port}, **options))


class TlsCheckTest(VitalsTestCase):
    """One nginx (a server block per certificate) and one test PKI for the whole class."""

    @classmethod
    def setUpClass(cls):
        tmp = tempfile.TemporaryDirectory(prefix="vitals-tls-")
        cls.addClassCleanup(tmp.cleanup)
        cls.pki = TestPki(os.path.join(tmp.name, "pki"))
        cls.self_signed = os.path.join(tmp.name, "self.crt")
        self_key = os.path.join(tmp.name, "self.key")
        subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self_key,
                        "-out", cls.self_signed, "-days", "30", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        good = cls.pki.issue("good", days=30)
        certs = {
            "good": good,
            "soon10": cls.pki.issue("soon10", days=10),
            "soon3": cls.pki.issue("soon3", days=3),
            "expired": cls.pki.issue("expired", start=TestPki.openssl_date(-10 * 86400), end=TestPki.openssl_date(-2 * 86400)),
            "wrong": cls.pki.issue("wrong", cn="other.example", san="DNS:other.example"),
            "self": (cls.self_signed, self_key),
        }
        sni = cls.pki.issue("sni", cn="sni.example", san="DNS:sni.example")
        # nginx 1.22 offers TLS 1.3 only when asked to.
        block = "listen 127.0.0.1:@PORT@ ssl; ssl_certificate %s; ssl_certificate_key %s; location / { return 200; }"
        both = " ssl_protocols TLSv1.2 TLSv1.3;"
        servers = {name: block % pair + both for name, pair in certs.items()}
        servers["tls12"] = block % good + " ssl_protocols TLSv1.2;"
        # Two server blocks on one port: the first (the good certificate) is the default, the second
        # answers the SNI name sni.example. (A block closes and opens another inside its text.)
        servers["sni"] = block % good + both + " }\n    server { " + (block % sni) + both + " server_name sni.example;"
        cls.nginx = Nginx(os.path.join(tmp.name, "nginx"), servers)
        cls.addClassCleanup(cls.nginx.stop)
        cls.nginx.start()

    def port(self, name):
        return self.nginx.ports[name]

    def test_certificates_names_and_thresholds(self):
        ca = self.pki.ca_cert
        p = self.port
        rows, proc = self.check_once([
            tls_check("ok", p("good"), ca_file=ca),
            tls_check("by-name", p("good"), server_name="localhost", ca_file=ca),
            tls_check("isolated", p("good"), ca_file=ca, isolation="process"),
            tls_check("unknown-ca", p("good")),
            tls_check("soon10", p("soon10"), ca_file=ca),
            tls_check("soon10-warn7", p("soon10"), ca_file=ca, warn_days=7),
            tls_check("soon3", p("soon3"), ca_file=ca),
            tls_check("soon3-fail2", p("soon3"), ca_file=ca, fail_days=2),
            tls_check("expired", p("expired"), ca_file=ca),
            tls_check("wrong-host", p("wrong"), ca_file=ca),
            tls_check("wrong-host-named", p("wrong"), ca_file=ca, server_name="other.example"),
            tls_check("self-signed", p("self"), ca_file=ca),
            tls_check("self-signed-trusted", p("self"), ca_file=self.self_signed),
            tls_check("sni-default", p("sni"), ca_file=ca),
            tls_check("sni-named", p("sni"), ca_file=ca, server_name="sni.example"),
        ], expect_code=2)
        issuer = r"\(issuer CN=vitals test CA\)"
        self.assertRows(rows, {
            "ok": ("pass", r"^CN=127\.0\.0\.1 %s: 30 days left \(notAfter \S+Z, TLSv1\.3\)$" % issuer),
            "by-name": ("pass", r"^CN=127\.0\.0\.1 %s: 30 days left" % issuer),
            "isolated": ("pass", r"^CN=127\.0\.0\.1 %s: 30 days left" % issuer),
            "unknown-ca": ("fail", r"^TLS: certificate verify failed: unable to get local issuer certificate \(CN=127\.0\.0\.1\)$"),
            "soon10": ("warn", r"^CN=127\.0\.0\.1 %s: 10 days left \(notAfter \S+Z, TLSv1\.3\), below warn_days 21$" % issuer),
            "soon10-warn7": ("pass", r"^CN=127\.0\.0\.1 %s: 10 days left \(notAfter \S+Z, TLSv1\.3\)$" % issuer),
            "soon3": ("fail", r"^CN=127\.0\.0\.1 %s: 3 days left \(notAfter \S+Z, TLSv1\.3\), below fail_days 7$" % issuer),
            "soon3-fail2": ("warn", r"^CN=127\.0\.0\.1 %s: 3 days left .*, below warn_days 21$" % issuer),
            "expired": ("fail", r"^TLS: certificate verify failed: certificate expired 2 days ago \(notAfter \S+Z, CN=127\.0\.0\.1\)$"),
            "wrong-host": ("fail", r"^TLS: certificate verify failed: certificate is not valid for 127\.0\.0\.1 \(CN=other\.example\)$"),
            "wrong-host-named": ("pass", r"^CN=other\.example %s: 30 days left" % issuer),
            "self-signed": ("fail", r"^TLS: certificate verify failed: self.signed certificate \(CN=127\.0\.0\.1\)$"),
            "self-signed-trusted": ("pass", r"^CN=127\.0\.0\.1 \(issuer CN=127\.0\.0\.1\): 30 days left"),
            "sni-default": ("pass", r"^CN=127\.0\.0\.1 %s" % issuer),
            "sni-named": ("pass", r"^CN=sni\.example %s" % issuer),
        }, proc)

    def test_min_version_and_failures_to_connect(self):
        ca = self.pki.ca_cert
        closed = free_port()
        silent = SilentListener()
        self.addCleanup(silent.close)
        rows, proc = self.check_once([
            tls_check("tls12", self.port("tls12"), ca_file=ca),
            tls_check("tls12-min13", self.port("tls12"), ca_file=ca, min_version="1.3"),
            tls_check("tls13-min13", self.port("good"), ca_file=ca, min_version="1.3"),
            tls_check("refused", closed),
            tls_check("hang", silent.port, timeout="500ms"),
        ], expect_code=2)  # within run_vitals' hang guard: the deadline ended "hang"
        self.assertRows(rows, {
            "tls12": ("pass", r"^CN=127\.0\.0\.1 .*: 30 days left \(notAfter \S+Z, TLSv1\.2\)$"),
            "tls12-min13": ("fail", r"^TLS: handshake with 127\.0\.0\.1:%d failed: .*protocol version \(min_version \"1\.3\"\)$"
                                    % self.port("tls12")),
            "tls13-min13": ("pass", r"^CN=127\.0\.0\.1 .*: 30 days left \(notAfter \S+Z, TLSv1\.3\)$"),
            "refused": ("fail", r"^connect to 127\.0\.0\.1:%d: Connection refused$" % closed),
            "hang": ("fail", r"^TLS handshake with 127\.0\.0\.1:%d timed out after \d+ ms$" % silent.port),
        }, proc)

    MISTAKES = [
        ({"host": ""}, "host must not be empty"),
        ({"host": "bad host"}, "host 'bad host' is not a host name or IP address"),
        ({"host": "127.0.0.1", "port": 0}, "port must be between 1 and 65535 (got 0)"),
        ({"host": "127.0.0.1", "server_name": "a/b"}, "server_name 'a/b' is not a host name or IP address"),
        ({"host": "127.0.0.1", "min_version": "1.1"}, 'min_version "1.1" is not supported'),
        ({"host": "127.0.0.1", "min_version": "tls1.3"}, 'min_version must be "1.2" or "1.3" (got "tls1.3")'),
        ({"host": "127.0.0.1", "fail_days": -1}, "fail_days must be between 0 and 3650 (got -1)"),
        ({"host": "127.0.0.1", "warn_days": 5, "fail_days": 7}, "warn_days must be between fail_days (7) and 3650 (got 5)"),
        ({"host": "127.0.0.1", "ca_file": "/nonexistent/ca.pem"}, "ca_file '/nonexistent/ca.pem': No such file"),
    ]

    def test_bad_options_are_config_errors(self):
        self.assertOptionErrors("tls", self.MISTAKES)

    def test_schema_in_vitals_plugins(self):
        self.assertSchemaShown("tls", ("host", "port", "server_name", "ca_file", "warn_days", "fail_days", "min_version"),
                               [r"\n    warn_days\s+int\s+default 21\s", r"\n    fail_days\s+int\s+default 7\s"])

    def test_days_left_is_the_observed_value(self):
        d = self.start_daemon({"checks": [tls_check("cert", self.port("soon10"), interval="1s", timeout="500ms",
                                                    ca_file=self.pki.ca_cert)]})
        self.wait_for(lambda: d.get("/health").json().get("status") == "warn", 10.0, "/health to warn")
        body = d.get("/health").json()
        self.assertIn("cert:certificateExpiry", body["checks"])
        entry = health_check_entry(body, "cert")
        self.assertEqual((entry["status"], entry["componentType"], entry["observedUnit"]), ("warn", "component", "days"), entry)
        self.assertGreater(entry["observedValue"], 9.9, entry)
        self.assertLessEqual(entry["observedValue"], 10.0, entry)


if __name__ == "__main__":
    unittest.main()
