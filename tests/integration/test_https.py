"""HTTPS on the health port (server.tls, issue 19) against real clients: curl --cacert, openssl
s_client (TLS 1.2 and 1.3 served, a TLS 1.1-only client refused), Python's ssl, and an ALB-like
prober that does not verify the certificate. Certificates come from a test CA made here with the
openssl CLI (peers.TestPki). Also: client certificates (none, another CA's, a valid one) under
client_auth "admin" and "all"; reload with a replaced certificate (a new connection sees the new
serial, an open keep-alive connection keeps working); a bad new certificate keeps the old one;
files changed without a reload; hostile input (a truncated ClientHello, garbage, plain HTTP, a
stalled handshake) costing only its own connection; vitals validate; the expiry metric."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from peers import OPENSSL, TestPki, client_hello
from vitals_harness import HANG_GUARD, VITALS, VitalsTestCase, daemon_env, file_check, read_until, wait_for

TOKEN = "tls-admin-token-1234"


def serial_of(cert_path):
    out = subprocess.run([OPENSSL, "x509", "-noout", "-serial", "-in", cert_path], stdout=subprocess.PIPE,
                         text=True, check=True, timeout=30).stdout
    return out.strip().split("=", 1)[1].upper()


def not_after_of(cert_path):
    out = subprocess.run([OPENSSL, "x509", "-noout", "-enddate", "-in", cert_path], stdout=subprocess.PIPE,
                         text=True, check=True, timeout=30).stdout
    return int(ssl.cert_time_to_seconds(out.strip().split("=", 1)[1]))


class HttpsTestCase(VitalsTestCase):
    """One test CA (the server's and the clients' certificates) and another CA, for the class."""

    @classmethod
    def setUpClass(cls):
        tmp = tempfile.TemporaryDirectory(prefix="vitals-https-")
        cls.addClassCleanup(tmp.cleanup)
        cls.pki_dir = tmp.name
        cls.pki = TestPki(os.path.join(tmp.name, "pki"))
        cls.other = TestPki(os.path.join(tmp.name, "other"), ca_name="some other CA")
        cls.server_pair = cls.pki.issue("server", days=60)
        cls.client_pair = cls.pki.issue("client", cn="prober-1", san="DNS:prober-1")
        cls.foreign_pair = cls.other.issue("foreign", cn="prober-2", san="DNS:prober-2")

    def tls_daemon(self, min_version=None, client_auth=None, env=None, details=None, pair=None):
        """A daemon on 127.0.0.1 serving TLS with a copy of `pair` (default the server certificate)
        at self.cert / self.key, so that tests can replace the files."""
        cert, key = pair or self.server_pair
        self.cert, self.key = self.path("server.crt"), self.path("server.key")
        shutil.copyfile(cert, self.cert)
        shutil.copyfile(key, self.key)
        os.chmod(self.key, 0o600)
        tls = {"cert": self.cert, "key": self.key}
        if min_version:
            tls["min_version"] = min_version
        if client_auth:
            tls["client_auth"] = client_auth
            tls["client_ca"] = self.pki.ca_cert
        server = {"tls": tls}
        if details:
            server["details"] = details
        ok = self.status_file("ok.status", "pass")
        return self.start_daemon({"server": server, "plugins": self.plugins_with_fixtures(),
                                  "checks": [file_check("ok", ok)]}, env=env)

    def context(self, verify=True, client=None, alpn=None):
        if verify:
            ctx = ssl.create_default_context(cafile=self.pki.ca_cert)
        else:  # as an ALB does: no chain or name verification
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if client:
            ctx.load_cert_chain(*client)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return ctx

    def https(self, d, path, method="GET", headers=None, ctx=None, conn=None):
        """(status, body, connection) of one request, on `conn` (kept open) or a new connection."""
        c = conn or http.client.HTTPSConnection("127.0.0.1", d.port, timeout=HANG_GUARD, context=ctx or self.context())
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        if conn is None:
            c.close()
        return r.status, body, c

    def keep_alive(self, d):
        """A verified keep-alive connection that has been answered once (closed on cleanup)."""
        keep = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=HANG_GUARD, context=self.context())
        self.addCleanup(keep.close)
        self.assertEqual(self.https(d, "/health", conn=keep)[0], 200)
        return keep

    def wait_healthy(self, d):
        wait_for(lambda: self.https(d, "/health")[0] == 200, HANG_GUARD, "/health 200 over TLS")

    def served_serial(self, d):
        with socket.create_connection(("127.0.0.1", d.port), timeout=HANG_GUARD) as raw_sock:
            with self.context().wrap_socket(raw_sock, server_hostname="127.0.0.1") as s:
                return s.getpeercert()["serialNumber"].upper()

    def s_client(self, d, *args, request=b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
        p = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % d.port, "-CAfile", self.pki.ca_cert,
                            "-ign_eof"] + list(args), input=request, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=HANG_GUARD)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def metric(self, d, name, ctx=None):
        status, body, _ = self.https(d, "/metrics", ctx=ctx)
        self.assertEqual(status, 200)
        m = re.search(r"^%s (\S+)$" % re.escape(name), body.decode(), re.M)
        return float(m.group(1)) if m else None


class HttpsClientsTest(HttpsTestCase):

    def test_curl_python_and_openssl_clients(self):
        d = self.tls_daemon()
        self.wait_healthy(d)
        p = subprocess.run(["curl", "-sS", "--cacert", self.pki.ca_cert, "-w", "\n%{http_code} %{http_version}",
                            "https://127.0.0.1:%d/health" % d.port], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=HANG_GUARD)
        self.assertEqual(p.returncode, 0, p.stderr)
        body, last = p.stdout.rsplit("\n", 1)
        self.assertEqual(last, "200 1.1")
        self.assertEqual(json.loads(body)["status"], "pass")
        # curl by the name in the certificate's SAN (localhost), and refusing an unknown CA.
        p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", self.other.ca_cert,
                            "https://127.0.0.1:%d/health" % d.port], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=HANG_GUARD)
        self.assertNotEqual(p.returncode, 0, "curl accepted a certificate from a CA it was not given")

        # Python's ssl: verified, ALPN http/1.1 chosen from h2 and http/1.1.
        with socket.create_connection(("127.0.0.1", d.port), timeout=HANG_GUARD) as raw_sock:
            with self.context(alpn=["h2", "http/1.1"]).wrap_socket(raw_sock, server_hostname="127.0.0.1") as s:
                self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
                self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                out, how = read_until(s)
                self.assertTrue(out.startswith(b"HTTP/1.1 200 OK"), out[:200])

        for flag, proto in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            with self.subTest(flag):
                code, out = self.s_client(d, flag, "-alpn", "http/1.1")
                self.assertIn("HTTP/1.1 200 OK", out)
                self.assertRegex(out, r"Protocol\s*: %s" % re.escape(proto))
                self.assertIn("Verify return code: 0 (ok)", out)
                self.assertIn("ALPN protocol: http/1.1", out)
        # A TLS 1.1-only client (its security level lowered so that it really offers 1.1) is refused.
        code, out = self.s_client(d, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        self.assertNotIn("HTTP/1.1 200", out)
        self.assertIn("alert protocol version", out)
        self.assertEqual(self.https(d, "/health")[0], 200)

    def test_min_version_1_3_refuses_tls_1_2(self):
        d = self.tls_daemon(min_version="1.3")
        self.wait_healthy(d)
        code, out = self.s_client(d, "-tls1_2")
        self.assertNotIn("HTTP/1.1 200", out)
        self.assertIn("alert protocol version", out)
        code, out = self.s_client(d, "-tls1_3")
        self.assertIn("HTTP/1.1 200 OK", out)

    def test_alb_like_prober_new_connections_and_keep_alive(self):
        d = self.tls_daemon()
        self.wait_healthy(d)
        ctx = self.context(verify=False)
        for _ in range(20):  # a new TLS connection per probe, as ALB's HTTPS health check does
            status, body, _ = self.https(d, "/health", ctx=ctx, headers={"User-Agent": "ELB-HealthChecker/2.0"})
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["status"], "pass")
        c = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=HANG_GUARD, context=ctx)
        self.addCleanup(c.close)
        status, _, _ = self.https(d, "/health", conn=c)
        first = c.sock
        for _ in range(20):
            self.assertEqual(self.https(d, "/health", conn=c)[0], 200)
        self.assertIs(c.sock, first, "the keep-alive connection was not kept")
        # The prober is recorded as over plain HTTP.
        status, body, _ = self.https(d, "/health/probers")
        self.assertEqual(status, 200)
        self.assertIn("ELB-HealthChecker/2.0", body.decode())

    def test_session_resumption(self):
        d = self.tls_daemon()
        self.wait_healthy(d)
        ctx = self.context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # a 1.2 session is offered at once, in the handshake
        with socket.create_connection(("127.0.0.1", d.port), timeout=HANG_GUARD) as raw_sock:
            with ctx.wrap_socket(raw_sock, server_hostname="127.0.0.1") as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                read_until(s)
                session = s.session
        self.assertIsNotNone(session)
        self.assertTrue(session.has_ticket, "no session ticket was issued")
        with socket.create_connection(("127.0.0.1", d.port), timeout=HANG_GUARD) as raw_sock:
            with ctx.wrap_socket(raw_sock, server_hostname="127.0.0.1", session=session) as s:
                self.assertTrue(s.session_reused, "the ticket was not accepted")
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                self.assertTrue(read_until(s)[0].startswith(b"HTTP/1.1 200 OK"))

    def test_expiry_metric(self):
        d = self.tls_daemon()
        self.wait_healthy(d)
        self.assertEqual(self.metric(d, "vitals_tls_cert_expiry_timestamp_seconds"), not_after_of(self.cert))


class HttpsBadInputTest(HttpsTestCase):

    def test_hostile_clients_cost_only_their_connection(self):
        d = self.tls_daemon()
        self.wait_healthy(d)
        keep = self.keep_alive(d)
        threads_before = d.serving_threads()
        hello = client_hello()
        self.assertEqual(hello[0], 0x16, "not a TLS handshake record")
        held = []
        self.addCleanup(lambda: [s.close() for s in held])

        def connect(data):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=HANG_GUARD)
            s.sendall(data)
            held.append(s)
            return s

        stalled = [connect(hello[:len(hello) // 2]) for _ in range(20)]  # truncated ClientHello, then silence
        after_hello = [connect(hello) for _ in range(20)]  # a whole ClientHello, then no more
        garbage = connect(bytes(range(256)) * 4)
        plain = connect(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")

        out, how = read_until(garbage)
        self.assertEqual(how, "closed", out[:200])
        self.assertNotIn(b"HTTP/1.1 200", out)
        out, how = read_until(plain)
        self.assertEqual(how, "closed", out[:200])
        self.assertTrue(out.startswith(b"HTTP/1.1 400 Bad Request"), out[:200])
        self.assertIn(b"this port speaks HTTPS", out)

        # Meanwhile other clients are answered, and the open keep-alive connection works.
        for _ in range(10):
            self.assertEqual(self.https(d, "/health")[0], 200)
        self.assertEqual(self.https(d, "/health", conn=keep)[0], 200)
        self.assertLessEqual(d.serving_threads(), threads_before,
                             "hostile connections cost threads")

        # The stalled handshakes are closed at the header timeout (5 s): a descriptor each until then.
        for s in (stalled[0], stalled[-1], after_hello[0], after_hello[-1]):
            s.settimeout(HANG_GUARD)
            data, how = read_until(s)
            self.assertEqual(how, "closed", "a stalled handshake was never closed")
        wait_for(lambda: self.metric(d, 'vitals_http_connections_closed_total{reason="timeout"}') >= 40, HANG_GUARD,
                 "40 stalled handshakes closed as timeouts")
        self.assertGreaterEqual(self.metric(d, 'vitals_http_connections_closed_total{reason="tls_error"}'), 1)
        self.assertEqual(self.https(d, "/health")[0], 200)  # (keep has passed its keep-alive timeout by now)
        self.assertTrue(d.alive())


class HttpsReloadTest(HttpsTestCase):

    def replace(self, pair):
        """Writes `pair` over the daemon's certificate and key, each by rename (never half a file)."""
        for src, dst in zip(pair, (self.cert, self.key)):
            tmp = dst + ".new"
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)

    def test_reload_with_a_replaced_certificate_keeps_open_connections(self):
        d = self.tls_daemon()
        self.wait_healthy(d)
        first = serial_of(self.server_pair[0])
        self.assertEqual(self.served_serial(d), first)
        keep = self.keep_alive(d)
        open_sock = keep.sock

        second_pair = self.pki.issue("server2", days=60)
        second = serial_of(second_pair[0])
        self.replace(second_pair)
        d.signal(signal.SIGHUP)
        wait_for(lambda: self.served_serial(d) == second, HANG_GUARD, "the new certificate after SIGHUP")
        for _ in range(3):
            self.assertEqual(self.https(d, "/health", conn=keep)[0], 200)
        self.assertIs(keep.sock, open_sock, "the open connection was dropped")
        self.assertEqual(keep.sock.getpeercert()["serialNumber"].upper(), first)

        # A bad new certificate: /admin/reload answers 422 naming the file, the running one stays.
        with open(self.cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
        status, body, _ = self.https(d, "/admin/reload", method="POST")
        self.assertEqual(status, 422, body)
        detail = json.loads(body)["detail"]
        self.assertIn("server.tls.cert: " + self.cert, detail)
        self.assertEqual(self.served_serial(d), second)
        self.assertEqual(self.https(d, "/health", conn=keep)[0], 200)

        # A key that does not fit the certificate: named too.
        shutil.copyfile(second_pair[0], self.cert)
        shutil.copyfile(self.foreign_pair[1], self.key)
        status, body, _ = self.https(d, "/admin/reload", method="POST")
        self.assertEqual(status, 422, body)
        self.assertIn("server.tls.key: %s: does not match the certificate" % self.key, json.loads(body)["detail"])
        with open(self.foreign_pair[1]) as f:
            key_text = f.read()
        for line in key_text.splitlines()[1:3]:
            self.assertNotIn(line, body.decode(), "key material in a response")
            self.assertNotIn(line, d.log(), "key material in the log")
        self.assertEqual(self.served_serial(d), second)

    def test_changed_files_are_picked_up_without_a_reload(self):
        d = self.tls_daemon()
        self.wait_healthy(d)
        keep = self.keep_alive(d)
        renewed = self.pki.issue("renewed", days=90)
        self.replace(renewed)
        wait_for(lambda: self.served_serial(d) == serial_of(renewed[0]), HANG_GUARD,
                 "the renewed certificate, without a reload")
        self.assertEqual(self.https(d, "/health", conn=keep)[0], 200)
        wait_for(lambda: self.metric(d, "vitals_tls_cert_expiry_timestamp_seconds") == not_after_of(renewed[0]),
                 HANG_GUARD, "the expiry metric of the renewed certificate")
        # A broken file is logged, naming it, and the renewed certificate stays.
        with open(self.cert, "w") as f:
            f.write("garbage\n")
        wait_for(lambda: "cannot be used; the running certificate stays: server.tls.cert: " + self.cert in d.log(),
                 HANG_GUARD, "the log line for the broken certificate")
        self.assertEqual(self.served_serial(d), serial_of(renewed[0]))


class HttpsClientCertificateTest(HttpsTestCase):

    def admin(self, d, client=None, token=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        status, body, _ = self.https(d, "/admin/resume", method="POST", headers=headers,
                                     ctx=self.context(client=client))
        return status, body

    def test_client_auth_admin_with_a_token(self):
        d = self.tls_daemon(client_auth="admin", env=daemon_env(extra={"VITALS_ADMIN_TOKEN": TOKEN}), details="token")
        self.wait_healthy(d)
        # /health answers with or without a certificate; details only with a verified one (or the token).
        for client in (None, self.foreign_pair):
            status, body, _ = self.https(d, "/health", ctx=self.context(client=client))
            self.assertEqual(status, 200)
            self.assertNotIn("checks", json.loads(body))
        status, body, _ = self.https(d, "/health", ctx=self.context(client=self.client_pair))
        self.assertIn("checks", json.loads(body))
        # Admin: the certificate and the token, both.
        status, body = self.admin(d, token=TOKEN)
        self.assertEqual(status, 403, body)
        self.assertIn("client certificate", json.loads(body)["detail"])
        self.assertEqual(self.admin(d, client=self.foreign_pair, token=TOKEN)[0], 403)
        self.assertEqual(self.admin(d, client=self.client_pair)[0], 401)
        self.assertEqual(self.admin(d, client=self.client_pair, token="wrong")[0], 401)
        status, body = self.admin(d, client=self.client_pair, token=TOKEN)
        self.assertEqual(status, 200, body)

    def test_client_auth_admin_without_a_token(self):
        d = self.tls_daemon(client_auth="admin")
        self.wait_healthy(d)
        self.assertEqual(self.admin(d)[0], 403, "loopback alone is no longer enough")
        self.assertEqual(self.admin(d, client=self.foreign_pair)[0], 403)
        self.assertEqual(self.admin(d, client=self.client_pair)[0], 200)

    def test_client_auth_all(self):
        d = self.tls_daemon(client_auth="all")
        for client in (None, self.foreign_pair):
            with self.subTest(client=client and "foreign"):
                with self.assertRaises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
                    self.https(d, "/health", ctx=self.context(client=client))
        wait_for(lambda: self.https(d, "/health", ctx=self.context(client=self.client_pair))[0] == 200, HANG_GUARD,
                 "/health 200 with a valid client certificate")
        self.assertEqual(self.admin(d, client=self.client_pair)[0], 200)


class HttpsValidateTest(HttpsTestCase):

    def validate(self, tls):
        ok = self.status_file("ok.status", "pass")
        cfg = self.write_config({"server": {"tls": tls}, "plugins": self.plugins_with_fixtures(),
                                 "checks": [file_check("ok", ok)]})
        p = subprocess.run([VITALS, "validate", "-c", cfg], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=HANG_GUARD, env=daemon_env())
        return p.returncode, p.stdout

    def test_validate_checks_the_files(self):
        cert, key = self.server_pair
        code, out = self.validate({"cert": cert, "key": key})
        self.assertEqual(code, 0, out)
        self.assertIn("matches key", out)
        self.assertNotIn("expires in", out)

        missing = self.path("nope.crt")
        code, out = self.validate({"cert": missing, "key": key})
        self.assertEqual(code, 2, out)
        self.assertIn("server.tls.cert: %s: cannot read: No such file or directory" % missing, out)

        code, out = self.validate({"cert": cert, "key": self.foreign_pair[1]})
        self.assertEqual(code, 2, out)
        self.assertIn("server.tls.key: %s: does not match the certificate in %s" % (self.foreign_pair[1], cert), out)

        code, out = self.validate({"cert": key, "key": key})
        self.assertEqual(code, 2, out)
        self.assertIn("server.tls.cert: %s: not a PEM certificate" % key, out)

        encrypted = self.path("encrypted.key")
        subprocess.run([OPENSSL, "pkey", "-in", key, "-out", encrypted, "-aes256", "-passout", "pass:secret"],
                       check=True, timeout=30)
        code, out = self.validate({"cert": cert, "key": encrypted})
        self.assertEqual(code, 2, out)
        self.assertIn("server.tls.key: %s: not an unencrypted PEM private key" % encrypted, out)

        code, out = self.validate({"cert": cert})
        self.assertEqual(code, 2, out)
        self.assertIn('server.tls: missing "key"', out)
        code, out = self.validate({"cert": cert, "key": key, "client_auth": "admin"})
        self.assertEqual(code, 2, out)
        self.assertIn("server.tls.client_auth", out)
        code, out = self.validate({"cert": cert, "key": key, "min_version": "1.1"})
        self.assertEqual(code, 2, out)
        self.assertIn("server.tls.min_version", out)

        soon = self.pki.issue("soon", days=10)
        code, out = self.validate({"cert": soon[0], "key": soon[1]})
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"warning: server.tls.cert: %s: expires in (9|10) days" % re.escape(soon[0]))


if __name__ == "__main__":
    unittest.main()
