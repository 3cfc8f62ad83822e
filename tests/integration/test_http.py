"""The http check type (SPEC section 3) against a real nginx on ephemeral ports, plain and TLS with a
certificate chain made here by the openssl CLI (a test CA; valid, expired, expiring-in-3-days and
wrong-name server certificates): status ranges, body substring and regex, redirects, Basic auth from
the URL's userinfo, max_body_bytes, warn_latency, deadlines, TLS verification, certificate expiry,
option validation, a peer stopped under a running daemon, and the password never showing anywhere."""

import os
import re
import signal
import tempfile
import unittest

from peers import Nginx, SilentListener, TestPki, free_port
from vitals_harness import SANITIZERS, VitalsTestCase

PASSWORD = "http-Pa55word-plugh"
LARGE = 200000  # bytes of /big before its marker


def http_check(name, url, interval="5s", timeout="1s", **options):
    opts = {"url": url}
    opts.update(options)
    return {"name": name, "type": "http", "interval": interval, "timeout": timeout, "options": opts}


def site(directory):
    """Files nginx serves, and the locations every server block shares."""
    with open(os.path.join(directory, "htpasswd"), "w") as f:
        f.write("alice:{PLAIN}%s\n" % PASSWORD)
    with open(os.path.join(directory, "private.txt"), "w") as f:
        f.write("hello private\n")
    with open(os.path.join(directory, "big.txt"), "w") as f:
        f.write("x" * LARGE + "MARKER\n")
    with open(os.path.join(directory, "as.txt"), "w") as f:
        f.write("a" * 65000 + "ok")
    d = directory
    return """
        location = /ok { return 200 "ok\\n"; }
        location = /status/503 { return 503 "down\\n"; }
        location = /redir { return 302 /ok; }
        location = /loop { return 302 /loop; }
        location = /echo { return 200 "method=$request_method len=$http_content_length x=$http_x_test\\n"; }
        location = /private { auth_basic "vitals"; auth_basic_user_file %s/htpasswd; alias %s/private.txt; }
        location = /big { alias %s/big.txt; }
        location = /as { alias %s/as.txt; }
        location = /slow { limit_rate 2k; alias %s/big.txt; }
""" % (d, d, d, d, d)


class HttpTestCase(VitalsTestCase):
    def check_once(self, checks, expect_code=None):
        """VitalsTestCase.check_once, also asserting PASSWORD never shows on stdout or stderr."""
        return super().check_once(checks, expect_code, secrets=(PASSWORD,))


class HttpCheckTest(HttpTestCase):
    """One nginx (plain and TLS server blocks) and one test PKI for the whole class."""

    @classmethod
    def setUpClass(cls):
        tmp = tempfile.TemporaryDirectory(prefix="vitals-http-")
        cls.addClassCleanup(tmp.cleanup)
        cls.pki = TestPki(os.path.join(tmp.name, "pki"))
        certs = {
            "tls": cls.pki.issue("good", days=30),
            "expired": cls.pki.issue("expired", start=TestPki.openssl_date(-10 * 86400), end=TestPki.openssl_date(-2 * 86400)),
            "soon": cls.pki.issue("soon", days=3),
            "wrong": cls.pki.issue("wrong", cn="other.example", san="DNS:other.example"),
        }
        common = site(tmp.name)
        servers = {"plain": "listen 127.0.0.1:@PORT@;" + common +
                            "        location = /to-tls { return 302 https://127.0.0.1:@PORT:tls@/ok; }\n"
                            "        location = /to-tls-private { return 302 https://127.0.0.1:@PORT:tls@/private; }\n"}
        for name, (cert, key) in certs.items():
            servers[name] = "listen 127.0.0.1:@PORT@ ssl; ssl_certificate %s; ssl_certificate_key %s;%s" % (cert, key, common)
        cls.nginx = Nginx(os.path.join(tmp.name, "nginx"), servers)
        cls.addClassCleanup(cls.nginx.stop)
        cls.nginx.start()

    def url(self, server, path, scheme=None, userinfo=""):
        scheme = scheme or ("http" if server == "plain" else "https")
        return "%s://%s127.0.0.1:%d%s" % (scheme, userinfo, self.nginx.ports[server], path)

    def test_plain_http_outcomes(self):
        closed = free_port()
        url = lambda path, **kw: self.url("plain", path, **kw)
        rows, proc = self.check_once([
            http_check("ok", url("/ok"), body_contains="ok", body_regex=r"^o+k\s*$"),
            http_check("s503", url("/status/503")),
            http_check("s503-accepted", url("/status/503"), expect_status="200-299, 503"),
            http_check("no-substring", url("/ok"), body_contains="nope"),
            http_check("no-regex", url("/ok"), body_regex="^x"),
            http_check("redirect-off", url("/redir")),
            http_check("redirect-on", url("/redir"), follow_redirects=True, body_contains="ok"),
            http_check("loop", url("/loop"), follow_redirects=True),
            http_check("to-https", url("/to-tls"), follow_redirects=True, ca_file=self.pki.ca_cert),
            http_check("post", url("/echo"), method="POST", body="abcd", headers={"X-Test": "yes"},
                       body_contains="method=POST len=4 x=yes"),
            http_check("head", url("/ok"), method="HEAD"),
            http_check("big", url("/big"), body_contains="MARKER"),
            http_check("big-all", url("/big"), body_contains="MARKER", max_body_bytes=LARGE + 100),
            http_check("refused", "http://127.0.0.1:%d/" % closed),
            http_check("auth", url("/private", userinfo="alice:%s@" % PASSWORD), body_contains="hello private"),
            http_check("auth-wrong", url("/private", userinfo="alice:wrong-%s@" % PASSWORD)),
            http_check("auth-dropped", url("/to-tls-private", userinfo="alice:%s@" % PASSWORD), follow_redirects=True,
                       ca_file=self.pki.ca_cert),
            http_check("regex-deep", url("/as"), body_regex="(a|b)*ok$"),
        ], expect_code=2)
        port = self.nginx.ports["plain"]
        self.assertRows(rows, {
            "ok": ("pass", r"^200 OK in \d+\.\d\d ms$"),
            "s503": ("fail", r"^status 503 not in 200-299$"),
            "s503-accepted": ("pass", r"^503 "),
            "no-substring": ("fail", r"^body does not contain 'nope'$"),
            "no-regex": ("fail", r"^body does not match body_regex '\^x'$"),
            "redirect-off": ("fail", r"^status 302 not in 200-299 \(redirect to /ok; follow_redirects is off\)$"),
            "redirect-on": ("pass", r"^200 OK in \d+\.\d\d ms after 1 redirect$"),
            "loop": ("fail", r"^too many redirects \(more than 5\); the last one to /loop$"),
            "to-https": ("pass", r"^200 OK in .* after 1 redirect, certificate valid for 30 days$"),
            "post": ("pass", r"^200 OK"),
            "head": ("pass", r"^200 OK"),
            "big": ("fail", r"^body does not contain 'MARKER' \(in the first 65536 bytes\)$"),
            "big-all": ("pass", r"^200 OK"),
            "refused": ("fail", r"^connect to 127\.0\.0\.1:%d: Connection refused$" % closed),
            "auth": ("pass", r"^200 OK"),
            "auth-wrong": ("fail", r"^status 401 not in 200-299$"),
            # Credentials from the URL are not sent to another origin after a redirect.
            "auth-dropped": ("fail", r"^status 401 not in 200-299$"),
            # std::regex would overflow the stack here (and take the daemon down); PCRE2 does not.
            "regex-deep": ("pass", r"^200 OK"),
        }, proc)
        self.assertIn(" alice [", self.nginx.access_log())  # Basic auth came from the URL's userinfo
        self.assertIn('"POST /echo HTTP/1.1"', self.nginx.access_log())

    def test_latency_warning_and_deadlines(self):
        silent = SilentListener()
        self.addCleanup(silent.close)
        rows, proc = self.check_once([
            # nginx sends /slow at 2 KiB/s: 3000 bytes take about a second.
            http_check("slow-warn", self.url("plain", "/slow"), timeout="3s", warn_latency="200ms", max_body_bytes=3000),
            # Bytes keep coming, so no socket timeout fires: the deadline must.
            http_check("slow-fail", self.url("plain", "/slow"), timeout="800ms", max_body_bytes=LARGE),
            http_check("hang", "http://127.0.0.1:%d/" % silent.port, timeout="500ms"),
            http_check("tls-hang", "https://127.0.0.1:%d/" % silent.port, timeout="500ms"),
        ], expect_code=2)  # within run_vitals' hang guard: each deadline ended its check
        self.assertRows(rows, {
            "slow-warn": ("warn", r"^latency \d+ ms above warn_latency 200 ms$"),
            "slow-fail": ("fail", r"^body from 127\.0\.0\.1:%d not complete within \d+ ms \(\d+ bytes read\)$"
                                  % self.nginx.ports["plain"]),
            "hang": ("fail", r"^no response from 127\.0\.0\.1:%d within \d+ ms$" % silent.port),
            "tls-hang": ("fail", r"^TLS handshake with 127\.0\.0\.1:%d timed out after \d+ ms$" % silent.port),
        }, proc)
        latency = int(re.match(r"^latency (\d+) ms", rows["slow-warn"][1]).group(1))
        self.assertGreater(latency, 200)

    def test_tls_outcomes(self):
        ca = self.pki.ca_cert
        rows, proc = self.check_once([
            http_check("ok", self.url("tls", "/ok"), ca_file=ca, body_contains="ok"),
            http_check("ok-name", "https://localhost:%d/ok" % self.nginx.ports["tls"], ca_file=ca),
            http_check("unknown-ca", self.url("tls", "/ok")),
            http_check("no-verify", self.url("tls", "/ok"), tls_verify=False),
            http_check("expired", self.url("expired", "/ok"), ca_file=ca),
            http_check("expired-no-verify", self.url("expired", "/ok"), tls_verify=False),
            http_check("soon", self.url("soon", "/ok"), ca_file=ca),
            http_check("soon-2-days", self.url("soon", "/ok"), ca_file=ca, cert_expiry_warn_days=2),
            http_check("wrong-name", self.url("wrong", "/ok"), ca_file=ca),
            http_check("not-tls", self.url("plain", "/ok", scheme="https"), ca_file=ca),
        ], expect_code=2)
        self.assertRows(rows, {
            "ok": ("pass", r"^200 OK in \d+\.\d\d ms, certificate valid for 30 days$"),
            "ok-name": ("pass", r"^200 OK"),
            "unknown-ca": ("fail", r"^TLS: certificate verify failed: unable to get local issuer certificate \(CN=127\.0\.0\.1\)$"),
            "no-verify": ("pass", r"^200 OK"),
            "expired": ("fail", r"^TLS: certificate verify failed: certificate expired 2 days ago \(notAfter \S+Z, CN=127\.0\.0\.1\)$"),
            "expired-no-verify": ("fail", r"^certificate expired 2 days ago \(notAfter \S+Z, CN=127\.0\.0\.1\)$"),
            "soon": ("warn", r"^certificate expires in 3 days \(notAfter \S+Z, CN=127\.0\.0\.1\)$"),
            "soon-2-days": ("pass", r"^200 OK in \d+\.\d\d ms, certificate valid for 3 days$"),
            "wrong-name": ("fail", r"^TLS: certificate verify failed: certificate is not valid for 127\.0\.0\.1 \(CN=other\.example\)$"),
            "not-tls": ("fail", r"^TLS: handshake with 127\.0\.0\.1:%d failed: " % self.nginx.ports["plain"]),
        }, proc)


    def rss_anon_kb(self, d):
        with open("/proc/%d/status" % d.proc.pid) as f:
            return int(re.search(r"^RssAnon:\s+(\d+)", f.read(), re.M).group(1))

    def wait_output(self, d, name, predicate, message):
        """Polls the check's detail (wait_check) until its last output satisfies predicate."""
        body = self.wait_check(d, name, lambda b: predicate(b.get("lastResult", {}).get("output", "")), 10, message)
        return body["lastResult"]["output"]

    def test_tls_checks_share_one_ca_store(self):
        """Each TLS context used to load the system CA bundle itself (~0.9 MB and ~100 ms each):
        ten more https checks must cost far less than ten bundles."""
        def daemon(n):
            d = self.start_daemon({"checks": [http_check("h%d" % i, self.url("tls", "/ok"), interval="1s", timeout="500ms")
                                              for i in range(n)]})
            for i in range(n):
                self.wait_output(d, "h%d" % i, bool, "every check to run")
            return d
        one = daemon(1)
        eleven = daemon(11)
        extra = self.rss_anon_kb(eleven) - self.rss_anon_kb(one)
        if not SANITIZERS:  # ASan's redzones and quarantine: 16 MB here, and nothing to learn from it
            self.assertLess(extra, 3000, "10 more https checks cost %d kB of anonymous memory" % extra)
        self.wait_output(eleven, "h10", lambda out: "unable to get local issuer certificate" in out,
                         "the checks to fail against the system CAs")

    def test_replaced_ca_file_is_read_again(self):
        """CA stores are shared per file, but a file replaced on disk is loaded afresh by the checks
        created after it (here: a reload with a changed check)."""
        other = TestPki(self.path("other-pki"), ca_name="another CA")
        ca = self.path("ca.pem")
        with open(other.ca_cert) as src, open(ca, "w") as dst:
            dst.write(src.read())
        check = http_check("ca", self.url("tls", "/ok"), interval="200ms", timeout="100ms", ca_file=ca)
        d = self.start_daemon({"checks": [check]})
        self.wait_output(d, "ca", lambda out: "unable to get local issuer certificate" in out,
                         "the check to fail against the wrong CA")
        with open(self.pki.ca_cert) as src, open(ca + ".new", "w") as dst:
            dst.write(src.read())
        os.rename(ca + ".new", ca)
        check["options"]["headers"] = {"X-Try": "2"}  # a changed check: created anew on reload
        self.write_config({"checks": [check]}, os.path.basename(d.config_path))
        d.signal(signal.SIGHUP)
        self.wait_output(d, "ca", lambda out: out.startswith("200 OK"), "the check to pass with the new CA")


class HttpOptionsTest(HttpTestCase):
    MISTAKES = [
        ({"url": "ftp://127.0.0.1/"}, "url must start with http:// or https://"),
        ({"url": "http://127.0.0.1/", "expect_status": "200-299,abc"}, "expect_status: 'abc' is not a status code"),
        ({"url": "http://127.0.0.1/", "expect_status": "299-200"}, "expect_status: range '299-200' is reversed"),
        ({"url": "http://127.0.0.1/", "expect_status": "200,,204"}, "expect_status: empty entry"),
        ({"url": "http://127.0.0.1/", "body_regex": "(unclosed"}, "body_regex: missing closing parenthesis"),
        ({"url": "http://127.0.0.1/", "method": "GET /x"}, "method 'GET /x' is not a valid HTTP method"),
        ({"url": "http://127.0.0.1/", "max_body_bytes": -1}, "max_body_bytes must be between 0 and"),
        ({"url": "https://127.0.0.1/", "ca_file": "/nonexistent/ca.pem"}, "ca_file '/nonexistent/ca.pem': No such file"),
        ({"url": "http://127.0.0.1/", "headers": {"Content-Length": "3"}}, "'Content-Length' is set by the check"),
        ({"url": "http://127.0.0.1/", "method": "HEAD", "body_contains": "x"}, "HEAD responses have none"),
        ({"url": "http://127.0.0.1/", "cert_expiry_warn_days": -1}, "cert_expiry_warn_days must be between 0"),
    ]

    def test_bad_options_are_config_errors(self):
        self.assertOptionErrors("http", self.MISTAKES)

    def test_password_in_a_bad_url_is_not_echoed(self):
        for url in ("http://user:%s@127.0.0.1:99999/" % PASSWORD, "gopher://user:%s@127.0.0.1/" % PASSWORD,
                    "http://user:%s@bad host/" % PASSWORD):
            with self.subTest(url=url.replace(PASSWORD, "***")):
                p = self.run_vitals(["validate", "-c", self.write_config({"checks": [http_check("bad", url)]})])
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn("checks[0].options: http: url", p.stderr)
                self.assertNotIn(PASSWORD, p.stdout + p.stderr)


class HttpDaemonTest(HttpTestCase):
    def test_stopped_peer_fails_health_and_password_never_shows(self):
        nginx = Nginx(self.path("nginx"), {"plain": "listen 127.0.0.1:@PORT@;" + site(self.tmp)})
        self.addCleanup(nginx.stop)
        nginx.start()
        port = nginx.ports["plain"]
        url = "http://alice:%s@127.0.0.1:%d/private" % (PASSWORD, port)
        d = self.start_daemon({"log": {"level": "debug"},
                               "checks": [http_check("api", url, interval="1s", timeout="500ms", body_contains="hello",
                                                     headers={"X-Api-Key": "key-" + PASSWORD})]})
        output = self.assertStoppedPeerFailsHealth(d, "api", nginx.stop, PASSWORD)
        self.assertEqual(output, "connect to 127.0.0.1:%d: Connection refused" % port)


if __name__ == "__main__":
    unittest.main()
