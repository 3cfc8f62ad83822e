"""The dns check type (SPEC section 3) against a real dnsmasq on a loopback port: A, AAAA, CNAME, TXT,
SRV and MX records and the expected values, NXDOMAIN and expect_rcode, an answer too large for UDP
(TCP fallback), a server that never answers (the deadline), a port nobody listens on, the system
resolver (in a network namespace of its own, so that no query can leave this machine), and option
validation. Every query goes to 127.0.0.1."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from peers import Dnsmasq, SilentUdp, dns_query, free_udp_tcp_port
from vitals_harness import IP, VITALS, VitalsTestCase, daemon_env, health_check_entry

# Three TXT strings of 250 bytes: a 750-byte record, which a 512-byte UDP answer cannot hold.
BIG_TXT = ["%s" % (chr(ord("a") + i) * 250) for i in range(3)]

RECORDS = [
    "--host-record=host.test,192.0.2.1,2001:db8::1",
    "--host-record=two.test,192.0.2.7",
    "--host-record=two.test,192.0.2.8",
    "--cname=alias.test,host.test",
    '--txt-record=txt.test,v=spf1 -all',
    "--txt-record=big.test,%s" % ",".join(BIG_TXT),
    "--srv-host=_sip._tcp.test,sip.test,5060,10,5",
    "--mx-host=test,mail.test,10",
]

# "<name> <type>: NOERROR from 127.0.0.1:<port> in 1.23 ms: <answers>"
PASS_OUTPUT = r"^%s %s: NOERROR from 127\.0\.0\.1:%d in \d+\.\d\d ms: %s$"


def dns_check(name, port, qtype="A", interval="5s", timeout="2s", check_name=None, **options):
    opts = {"name": name, "type": qtype, "server": "127.0.0.1", "port": port}
    opts.update(options)
    return {"name": check_name or ("%s-%s" % (name, qtype)).lstrip("_"), "type": "dns", "interval": interval,
            "timeout": timeout, "options": opts}


class DnsTestCase(VitalsTestCase):
    @classmethod
    def setUpClass(cls):
        server_dir = tempfile.mkdtemp(prefix="vitals-dns-")
        cls.addClassCleanup(shutil.rmtree, server_dir, ignore_errors=True)
        cls.server = Dnsmasq(server_dir, RECORDS)
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()


class DnsCheckTest(DnsTestCase):
    def test_each_record_type_is_answered_and_listed(self):
        port = self.server.port
        rows, _ = self.check_once([
            dns_check("host.test", port, "A", expect=["192.0.2.1"]),
            dns_check("host.test", port, "AAAA", expect=["2001:DB8:0::1"]),  # compared as addresses
            dns_check("alias.test", port, "CNAME", expect=["HOST.test."]),  # names: case, final dot
            dns_check("alias.test", port, "A", expect=["host.test", "192.0.2.1"]),  # the chain answers
            dns_check("two.test", port, "A", expect=["192.0.2.8", "192.0.2.7"]),
            dns_check("txt.test", port, "TXT", expect=["v=spf1 -all"]),
            dns_check("_sip._tcp.test", port, "SRV", expect=["10 5 5060 sip.test"]),
            dns_check("test", port, "MX", expect=["10 mail.test"]),
        ], expect_code=0)
        expected = {
            "host.test-A": ("host.test", "A", "A 192.0.2.1"),
            "host.test-AAAA": ("host.test", "AAAA", "AAAA 2001:db8::1"),
            "alias.test-CNAME": ("alias.test", "CNAME", "CNAME host.test"),
            "alias.test-A": ("alias.test", "A", "CNAME host.test, A 192.0.2.1"),
            "two.test-A": ("two.test", "A", "A 192.0.2.(7|8), A 192.0.2.(7|8)"),
            "txt.test-TXT": ("txt.test", "TXT", "TXT v=spf1 -all"),
            "sip._tcp.test-SRV": ("_sip._tcp.test", "SRV", "SRV 10 5 5060 sip.test"),
            "test-MX": ("test", "MX", "MX 10 mail.test"),
        }
        for check, (name, qtype, answers) in expected.items():
            status, output = rows[check]
            self.assertEqual(status, "pass", rows[check])
            answers_re = re.escape(answers).replace(r"\(7\|8\)", "(7|8)")
            self.assertRegex(output, PASS_OUTPUT % (re.escape(name), qtype, port, answers_re))
        self.assertEqual(sorted(re.findall(r"192\.0\.2\.\d", rows["two.test-A"][1])), ["192.0.2.7", "192.0.2.8"])

    def test_a_missing_expected_value_fails_naming_it_and_what_was_answered(self):
        port = self.server.port
        rows, _ = self.check_once([
            dns_check("host.test", port, "A", expect=["192.0.2.1", "192.0.2.99"]),
            dns_check("test", port, "MX", expect=["20 mail.test"]),
            dns_check("txt.test", port, "TXT", expect=["V=SPF1 -ALL"]),  # text is compared exactly
        ], expect_code=2)
        self.assertEqual(rows["host.test-A"], ("fail", "host.test A: expected '192.0.2.99' not in the answer from "
                                                       "127.0.0.1:%d (A 192.0.2.1)" % port))
        self.assertEqual(rows["test-MX"], ("fail", "test MX: expected '20 mail.test' not in the answer from "
                                                   "127.0.0.1:%d (MX 10 mail.test)" % port))
        self.assertEqual(rows["txt.test-TXT"][0], "fail", rows)

    def test_nxdomain_fails_unless_expected(self):
        port = self.server.port
        rows, _ = self.check_once([
            dns_check("nope.test", port, "A"),
            dns_check("nope.test", port, "A", check_name="expected-nx", expect_rcode="NXDOMAIN"),
            dns_check("host.test", port, "A", check_name="not-nx", expect_rcode="NXDOMAIN"),
            dns_check("host.test", port, "MX", check_name="nodata"),  # NOERROR, no MX records
        ], expect_code=2)
        self.assertEqual(rows["nope.test-A"], ("fail", "nope.test A: NXDOMAIN from 127.0.0.1:%d, expected NOERROR" % port))
        self.assertEqual(rows["expected-nx"][0], "pass", rows)
        self.assertRegex(rows["expected-nx"][1], r"^nope\.test A: NXDOMAIN from 127\.0\.0\.1:%d in \d+\.\d\d ms: no answers$" % port)
        self.assertEqual(rows["not-nx"], ("fail", "host.test A: NOERROR from 127.0.0.1:%d, expected NXDOMAIN "
                                                  "(A 192.0.2.1)" % port))
        self.assertEqual(rows["nodata"][0], "pass", rows)
        self.assertTrue(rows["nodata"][1].endswith(": no answers"), rows)

    def test_an_answer_too_large_for_udp_is_fetched_over_tcp(self):
        # dnsmasq answers a query without EDNS over UDP with at most 512 bytes: the 750-byte TXT record
        # comes back truncated (TC), and only the TCP answer has the whole text the check expects.
        whole = "".join(BIG_TXT)
        udp = dns_query(self.server.port, "big.test", 16)
        self.assertTrue(udp and udp[2] & 0x02, "the UDP answer should be truncated (TC): %r" % udp)
        self.assertLessEqual(len(udp), 512)
        rows, _ = self.check_once([dns_check("big.test", self.server.port, "TXT", expect=[whole])], expect_code=0)
        self.assertEqual(rows["big.test-TXT"][0], "pass", rows)
        self.assertIn("TXT " + "a" * 40, rows["big.test-TXT"][1])

    def test_observed_value_in_health(self):
        d = self.start_daemon({"checks": [dns_check("host.test", self.server.port, "A", check_name="dns",
                                                    expect=["192.0.2.1"])]})
        self.wait_for(lambda: d.get("/health").status == 200, 10.0, "/health to pass")
        entry = health_check_entry(d.get("/health").json(), "dns")
        self.assertEqual(entry["componentType"], "component", entry)
        self.assertEqual(entry["observedUnit"], "ms", entry)
        self.assertGreater(entry["observedValue"], 0, entry)
        m = re.search(r" in (\d+\.\d\d) ms: ", entry["output"])
        self.assertTrue(m, entry)
        self.assertAlmostEqual(entry["observedValue"], float(m.group(1)), delta=0.005, msg=entry)

    def test_a_daemon_maps_the_dns_and_postgres_plugins_only_when_its_checks_use_them(self):
        # Cost (issue 18): serve opens the plugin files named after the types it uses (disk.so), and
        # so never maps dns.so, postgres.so or their libraries (c-ares, libpq and what libpq brings).
        disk = {"name": "root", "type": "disk", "interval": "200ms", "timeout": "100ms",
                "options": {"warn_free_percent": 0, "fail_free_percent": 0, "fail_free_inodes_percent": 0}}
        dns = dns_check("host.test", self.server.port, "A", check_name="dns", expect=["192.0.2.1"])

        def mapped(checks):
            d = self.start_daemon({"checks": checks})
            self.wait_for(lambda: d.get("/health").status == 200, 10.0, "/health to pass")
            with open("/proc/%d/maps" % d.proc.pid) as f:
                maps = f.read()
            d.stop()
            return {name for name in ("/disk.so", "/dns.so", "/postgres.so", "/libcares.so", "/libpq.so")
                    if name in maps}
        self.assertEqual(mapped([disk]), {"/disk.so"})
        self.assertEqual(mapped([disk, dns]), {"/disk.so", "/dns.so", "/libcares.so"})


class DnsFailureTest(VitalsTestCase):
    def test_a_server_that_never_answers_times_out_at_the_deadline(self):
        silent = SilentUdp()
        self.addCleanup(silent.close)
        rows, proc = self.check_once([dns_check("host.test", silent.port, "A", check_name="silent", timeout="500ms")],
                                     expect_code=2)
        self.assertEqual(rows["silent"][0], "fail", rows)
        self.assertRegex(rows["silent"][1], r"^query host\.test A at 127\.0\.0\.1:%d timed out after \d+ ms$" % silent.port)
        # The plugin returned by its deadline: the host did not have to time it out (its output is the
        # bare "timed out after N ms").
        self.assertNotRegex(proc.stdout, r"  timed out after \d+ ms")

    def test_a_port_nobody_listens_on_fails_at_once(self):
        port = free_udp_tcp_port()
        rows, _ = self.check_once([dns_check("host.test", port, "A", check_name="closed", interval="10s", timeout="5s")], expect_code=2)
        # Loopback answers with ICMP port unreachable; c-ares reports it as it words ECONNREFUSED.
        self.assertEqual(rows["closed"], ("fail", "query host.test A at 127.0.0.1:%d: Could not contact DNS servers" % port))

    def test_invalid_options_are_configuration_errors(self):
        options = [
            dict(qtype="PTR"),
            dict(name=""),
            dict(name="a" * 64 + ".test"),
            dict(server="dns.example"),
            dict(port=0),
            dict(expect_rcode="GONE"),
            dict(expect_rcode="NXDOMAIN", expect=["192.0.2.1"]),
            dict(expect=[""]),
            dict(qtype="aaaa", expect_rcode="nxdomain"),  # fine: names in any case
        ]
        checks = [dns_check(o.pop("name", "host.test"), o.pop("port", 53), o.pop("qtype", "A"), check_name="c%d" % i, **o)
                  for i, o in enumerate(options)]
        self.assertValidateErrors("dns", checks, [
            (0, 'type must be one of A, AAAA, CNAME, TXT, SRV, MX, NS (got "PTR")'),
            (1, "name must not be empty"),
            (2, "is not a valid DNS name: Misformatted domain name"),  # a label of 64 bytes
            (3, 'server must be an IPv4 or IPv6 address (got "dns.example")'),
            (4, "port must be between 1 and 65535 (got 0)"),
            (5, 'expect_rcode must be a response code name such as NOERROR, NXDOMAIN, SERVFAIL, REFUSED (got "GONE")'),
            (6, "expect needs expect_rcode NOERROR"),
            (7, "expect values must not be empty"),
        ])

    def test_option_schema_is_listed(self):
        proc = self.run_vitals(["plugins"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"(?m)^dns ")
        for option in ("name", "type", "server", "port", "expect", "expect_rcode"):
            self.assertRegex(proc.stdout, r"(?m)^\s+%s\b" % option, option)


class DnsSystemResolverTest(VitalsTestCase):
    """Without `server`, the servers of /etc/resolv.conf. Run in new network and mount namespaces:
    only a loopback interface exists there (nothing can leave this machine whatever resolv.conf
    says), and /etc/resolv.conf is bind-mounted to name 127.0.0.1, where a dnsmasq of the namespace
    listens on port 53."""

    def test_system_resolver_is_asked_without_server(self):
        unshare = shutil.which("unshare")
        if os.geteuid() != 0 or not unshare or not os.path.exists(IP):
            self.skipTest("needs root, unshare(1) and ip(8) for a network namespace")
        resolv = self.path("resolv.conf")
        with open(resolv, "w") as f:
            f.write("nameserver 127.0.0.1\n")
        cfg = self.write_config({"checks": [
            {"name": "sys", "type": "dns", "timeout": "2s", "options": {"name": "host.test", "expect": ["192.0.2.1"]}},
            {"name": "sys-nx", "type": "dns", "timeout": "2s", "options": {"name": "nope.test"}},
        ]})
        driver = ("import subprocess, sys; sys.path.insert(0, %r); from peers import Dnsmasq\n"
                  "subprocess.run([%r, 'link', 'set', 'lo', 'up'], check=True)\n"
                  "subprocess.run(['mount', '--bind', %r, '/etc/resolv.conf'], check=True)\n"
                  "server = Dnsmasq(%r, %r, port=53).start()\n"
                  "try:\n    sys.exit(subprocess.run([%r, 'check', '-c', %r], timeout=30).returncode)\n"
                  "finally:\n    server.stop()\n"
                  % (os.path.dirname(os.path.abspath(__file__)), IP, resolv, self.tmp, RECORDS, VITALS, cfg))
        proc = subprocess.run([unshare, "--net", "--mount", "--propagation", "private", "/usr/bin/python3", "-c", driver],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=60, env=daemon_env())
        if proc.returncode != 0 and "unshare failed" in proc.stderr:
            self.skipTest("cannot create namespaces here: " + proc.stderr)
        self.assertRegex(proc.stdout, r"(?m)^sys\s+dns\s+pass\s+\d+\s\shost\.test A: NOERROR from the system resolver in "
                                      r"\d+\.\d\d ms: A 192\.0\.2\.1", proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r"(?m)^sys-nx\s+dns\s+fail\s+\d+\s\snope\.test A: NXDOMAIN from the system resolver, "
                                      r"expected NOERROR", proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
