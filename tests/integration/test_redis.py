"""The redis check type (SPEC section 3) against real redis-server processes on ephemeral ports:
PING, AUTH with requirepass and with an ACL user, SELECT, the replication role, LOADING, timeouts,
a server stopped mid-test, TLS, option validation, and the password never showing anywhere."""

import os
import re
import shutil
import tempfile
import threading
import time
import unittest

from peers import RedisServer, SilentListener, free_port, quiet_fd_count, tls_material, zombie_children
from vitals_harness import VitalsTestCase, health_check_entry

PASSWORD = "s3cret-Pa55word-xyzzy"   # what the server wants
WRONG = "not-the-Pa55word-plugh"      # also a secret: must not show either
TIMEOUT_OUTPUT = re.compile(r"^timed out after \d+ ms \((PING|AUTH|TLS handshake)\)$")


def redis_check(name, port, interval="5s", timeout="2s", **options):
    opts = {"host": "127.0.0.1", "port": port}
    opts.update(options)
    return {"name": name, "type": "redis", "interval": interval, "timeout": timeout, "options": opts}


class RedisTestCase(VitalsTestCase):
    def redis(self, *args, **kwargs):
        """A started redis-server (extra command-line `args`), killed on cleanup."""
        server = RedisServer(self.path("redis"), args, **kwargs)
        self.addCleanup(server.stop)
        return server.start()

    def wait_for_link(self, replica, status):
        def link():
            info = replica.call("INFO", "replication").decode()
            return ("master_link_status:%s" % status) in info
        self.wait_for(link, 15.0, "replica master_link_status:%s" % status)


class RedisCheckTest(RedisTestCase):
    def test_ping_passes_with_round_trip_time(self):
        server = self.redis()
        d = self.start_daemon({"checks": [redis_check("cache", server.port)]})
        self.wait_for(lambda: d.get("/health").status == 200, 10.0, "/health to pass")
        body = d.get("/health").json()
        self.assertEqual(body["status"], "pass", body)
        self.assertIn("cache:responseTime", body["checks"], body)
        entry = body["checks"]["cache:responseTime"][0]
        self.assertEqual(entry["componentType"], "datastore", entry)
        self.assertEqual(entry["status"], "pass", entry)
        self.assertEqual(entry["observedUnit"], "ms", entry)
        self.assertGreaterEqual(entry["observedValue"], 0)
        m = re.match(r"^PONG in (\d+\.\d\d) ms$", entry.get("output", ""))
        self.assertTrue(m, entry)
        self.assertAlmostEqual(entry["observedValue"], float(m.group(1)), delta=0.005, msg=entry)  # the same round trip

    def test_requirepass_auth(self):
        server = self.redis("--requirepass", PASSWORD)
        rows, proc = self.check_once([
            redis_check("good", server.port, password=PASSWORD),
            redis_check("wrong", server.port, password=WRONG),
            redis_check("none", server.port),
            redis_check("empty", server.port, password=""),  # "${REDIS_PASSWORD:-}" unset: no AUTH
        ], expect_code=2)
        self.assertEqual(rows["good"][0], "pass", rows)
        self.assertEqual(rows["wrong"], ("fail", "AUTH failed: WRONGPASS invalid username-password pair or user is disabled."))
        self.assertEqual(rows["none"], ("fail", "NOAUTH Authentication required."))
        self.assertEqual(rows["empty"], ("fail", "NOAUTH Authentication required."))
        for secret in (PASSWORD, WRONG):
            self.assertNotIn(secret, proc.stdout + proc.stderr)

    def test_acl_user_auth(self):
        server = self.redis("--user", "alice", "on", ">" + PASSWORD, "~*", "+@all",
                            "--user", "carol", "on", ">" + PASSWORD, "-@all", "+auth")
        rows, proc = self.check_once([
            redis_check("alice", server.port, username="alice", password=PASSWORD),
            redis_check("alice-wrong", server.port, username="alice", password=WRONG),
            redis_check("bob", server.port, username="bob", password=PASSWORD),
            redis_check("carol", server.port, username="carol", password=PASSWORD),  # may not PING
        ], expect_code=2)
        self.assertEqual(rows["alice"][0], "pass", rows)
        wrongpass = ("fail", "AUTH failed: WRONGPASS invalid username-password pair or user is disabled.")
        self.assertEqual(rows["alice-wrong"], wrongpass)
        self.assertEqual(rows["bob"], wrongpass)
        self.assertEqual(rows["carol"][0], "fail", rows)
        self.assertTrue(rows["carol"][1].startswith("NOPERM "), rows["carol"])
        for secret in (PASSWORD, WRONG):
            self.assertNotIn(secret, proc.stdout + proc.stderr)

    def test_select_database(self):
        server = self.redis("--databases", "4")
        rows, _ = self.check_once([
            redis_check("db3", server.port, db=3),
            redis_check("db4", server.port, db=4),
        ], expect_code=2)
        self.assertEqual(rows["db3"][0], "pass", rows)
        self.assertEqual(rows["db4"], ("fail", "SELECT 4 failed: ERR DB index is out of range"))

    def test_server_stopped_mid_test_fails_health_then_recovers(self):
        server = self.redis()
        d = self.start_daemon({"checks": [redis_check("cache", server.port, "1s", "500ms")]})
        self.wait_for(lambda: d.get("/health").status == 200, 10.0, "/health to pass")

        r = self.assertRunsAfterBreakFail(d, "cache", server.stop)
        entry = health_check_entry(r.json(), "cache")
        self.assertEqual(entry["status"], "fail", entry)
        self.assertEqual(entry["output"], "connect to 127.0.0.1:%d: Connection refused" % server.port)

        # Same port again: the check passes again with no restart of the daemon.
        self.redis(port=server.port)
        self.wait_for(lambda: d.get("/health").status == 200, 10.0, "/health to pass again")

    def test_timeouts_are_reported_as_such(self):
        server = self.redis("--enable-debug-command", "yes")
        silent = SilentListener()
        self.addCleanup(silent.close)
        # DEBUG SLEEP blocks the whole (single-threaded) server: our PING gets no answer in time.
        sleeper = threading.Thread(target=lambda: server.call("DEBUG", "SLEEP", "2", timeout=10.0))
        sleeper.start()
        self.addCleanup(sleeper.join)
        time.sleep(0.2)
        rows, proc = self.check_once([
            redis_check("sleeping", server.port, timeout="500ms"),
            redis_check("silent", silent.port, timeout="500ms"),
        ], expect_code=2)
        for name in ("sleeping", "silent"):
            status, output = rows[name]
            self.assertEqual(status, "fail", rows)
            self.assertRegex(output, TIMEOUT_OUTPUT)
            self.assertIn("(PING)", output)
        # The plugin returned by its deadline: the host did not have to time it out (the host's own
        # output is the bare "timed out after N ms", without the step).
        self.assertNotRegex(proc.stdout, r"timed out after \d+ ms\n")

    def test_replication_role(self):
        master = self.redis()
        replica = self.redis("--replicaof", "127.0.0.1", str(master.port), name="replica")
        self.wait_for_link(replica, "up")
        rows, _ = self.check_once([
            redis_check("master-is-master", master.port, role="master"),
            redis_check("replica-is-slave", replica.port, role="slave"),
            redis_check("replica-is-replica", replica.port, role="replica"),
            redis_check("replica-not-master", replica.port, role="master"),
            redis_check("master-not-slave", master.port, role="slave"),
        ], expect_code=2)
        self.assertEqual(rows["master-is-master"][0], "pass", rows)
        self.assertTrue(rows["master-is-master"][1].endswith(", role master"), rows)
        self.assertEqual(rows["replica-is-slave"][0], "pass", rows)
        self.assertEqual(rows["replica-is-replica"][0], "pass", rows)
        self.assertEqual(rows["replica-not-master"], ("fail", "role is slave, expected master"))
        self.assertEqual(rows["master-not-slave"], ("fail", "role is master, expected slave"))

        # A replica cut off from its master is still a replica, but serves stale data: warn.
        master.stop()
        self.wait_for_link(replica, "down")
        rows, _ = self.check_once([redis_check("orphan", replica.port, role="slave")], expect_code=1)
        self.assertEqual(rows["orphan"][0], "warn", rows)
        self.assertIn("master_link_status is down", rows["orphan"][1])

    def test_loading_dataset(self):
        # A dataset, saved; then a server that loads it slowly (key-load-delay: µs per key) and
        # answers LOADING meanwhile (it serves clients every 1 KiB of RDB read).
        seed = self.redis("--enable-debug-command", "yes", "--dbfilename", "seed.rdb", name="seed")
        self.assertEqual(seed.call("DEBUG", "POPULATE", "5000"), "OK")
        self.assertEqual(seed.call("SAVE"), "OK")
        seed.stop()
        loading = self.redis("--dbfilename", "seed.rdb", "--key-load-delay", "1000",
                             "--loading-process-events-interval-bytes", "1024", name="loading")
        rows, _ = self.check_once([redis_check("loading", loading.port, "5s", "1s")], expect_code=2)
        self.assertEqual(rows["loading"], ("fail", "LOADING Redis is loading the dataset in memory"))

    def test_password_never_appears_in_responses_or_log(self):
        server = self.redis("--requirepass", PASSWORD)

        def check(name, interval, timeout, **options):
            options.setdefault("password", PASSWORD)
            return redis_check(name, options.pop("port", server.port), interval, timeout, **options)
        self.assertPasswordNeverShows(check, WRONG, (PASSWORD, WRONG), "WRONGPASS")

    def test_invalid_options_are_configuration_errors(self):
        missing = self.path("no-such-ca.pem")
        checks = [
            redis_check("port0", 0),
            redis_check("port-high", 70000),
            redis_check("role", 6379, role="leader"),
            redis_check("user-no-password", 6379, username="alice"),
            redis_check("user-empty-password", 6379, username="alice", password=""),
            redis_check("db", 6379, db=-1),
            redis_check("host", 6379, host=""),
            redis_check("ca-without-tls", 6379, tls_ca_file="/etc/ssl/certs/ca-certificates.crt"),
            redis_check("ca-missing", 6379, tls=True, tls_ca_file=missing),
            redis_check("fine", 6379, tls=True),
        ]
        self.assertValidateErrors("redis", checks, [
            (0, "port must be between 1 and 65535 (got 0)"),
            (1, "port must be between 1 and 65535 (got 70000)"),
            (2, 'role must be "master", "slave" or "replica" (got "leader")'),
            (3, "username is set but password is not"),
            (4, "username is set but password is empty"),
            (5, "db must be a database number >= 0 (got -1)"),
            (6, "host must not be empty"),
            (7, "tls_ca_file is set but tls is false"),
            (8, "tls_ca_file " + missing),
        ])


class RedisTlsTest(RedisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.material_dir = tempfile.mkdtemp(prefix="vitals-redis-tls-")
        # A certificate for "localhost" only: connecting to 127.0.0.1 must fail verification.
        cls.tls = tls_material(cls.material_dir, names=("localhost",), ips=())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.material_dir, ignore_errors=True)

    def test_tls_verification_and_auth(self):
        server = self.redis("--requirepass", PASSWORD, tls=self.tls)
        plain = self.redis(name="plain")
        ca = self.tls["ca"]
        # Generous timeouts: `vitals check` counts the creation of every check (loading a CA store
        # included) against each check's timeout.
        slow = {"interval": "20s", "timeout": "10s"}
        rows, proc = self.check_once([
            redis_check("verified", server.port, host="localhost", tls=True, tls_ca_file=ca,
                        password=PASSWORD, role="master", **slow),
            redis_check("wrong-password", server.port, host="localhost", tls=True, tls_ca_file=ca, password=WRONG,
                        **slow),
            redis_check("unknown-ca", server.port, host="localhost", tls=True, password=PASSWORD, **slow),
            redis_check("ip-not-in-cert", server.port, tls=True, tls_ca_file=ca, password=PASSWORD, **slow),
            redis_check("unverified", server.port, tls=True, tls_verify=False, password=PASSWORD, **slow),
            redis_check("plaintext-to-tls", server.port, password=PASSWORD, **slow),
        ], expect_code=2)
        self.assertEqual(rows["verified"][0], "pass", rows)
        self.assertTrue(rows["verified"][1].endswith("role master"), rows)
        self.assertEqual(rows["wrong-password"],
                         ("fail", "AUTH failed: WRONGPASS invalid username-password pair or user is disabled."))
        self.assertEqual(rows["unknown-ca"][0], "fail", rows)
        self.assertIn("TLS handshake (localhost:%d): certificate verify failed: " % server.port, rows["unknown-ca"][1])
        self.assertEqual(rows["ip-not-in-cert"][0], "fail", rows)
        self.assertIn("certificate verify failed: IP address mismatch", rows["ip-not-in-cert"][1])
        self.assertEqual(rows["unverified"][0], "pass", rows)
        self.assertEqual(rows["plaintext-to-tls"][0], "fail", rows)
        for secret in (PASSWORD, WRONG):
            self.assertNotIn(secret, proc.stdout + proc.stderr)

        # A plaintext server never answers a TLS ClientHello (it waits for a command line).
        rows, _ = self.check_once([redis_check("tls-to-plaintext", plain.port, tls=True, tls_verify=False,
                                               interval="5s", timeout="1s")], expect_code=2)
        self.assertEqual(rows["tls-to-plaintext"][0], "fail", rows)
        self.assertRegex(rows["tls-to-plaintext"][1], TIMEOUT_OUTPUT)
        self.assertIn("(TLS handshake)", rows["tls-to-plaintext"][1])


class RedisResourceTest(RedisTestCase):
    def test_no_descriptor_leak_and_no_zombies(self):
        """Every path — pass, refused, AUTH failure, timeout, TLS failure — run many times: the
        daemon's descriptor count stays flat."""
        server = self.redis("--requirepass", PASSWORD)
        silent = SilentListener()
        self.addCleanup(silent.close)
        closed_port = free_port()
        d = self.start_daemon({"checks": [
            redis_check("ok", server.port, "100ms", "80ms", password=PASSWORD),
            redis_check("refused", closed_port, "100ms", "80ms"),
            redis_check("wrong", server.port, "100ms", "80ms", password=WRONG),
            redis_check("silent", silent.port, "100ms", "50ms"),
            redis_check("tls-silent", silent.port, "100ms", "50ms", tls=True, tls_verify=False),
            redis_check("tls-plain", server.port, "100ms", "50ms", tls=True, tls_verify=False),
        ]})
        self.wait_for(lambda: d.get("/health/checks/silent").json()["counters"]["runs"] >= 3, 10.0, "warm-up runs")
        time.sleep(0.5)
        before = quiet_fd_count(d.proc.pid)
        runs_before = d.get("/health/checks/tls-silent").json()["counters"]["runs"]
        time.sleep(3.0)
        runs_after = d.get("/health/checks/tls-silent").json()["counters"]["runs"]
        time.sleep(0.2)
        after = quiet_fd_count(d.proc.pid)
        self.assertGreaterEqual(runs_after - runs_before, 10, "too few runs to tell")
        self.assertLessEqual(after - before, 6, "descriptors %d -> %d over %d runs per check"
                             % (before, after, runs_after - runs_before))
        self.assertEqual(zombie_children(d.proc.pid), [])
        body = d.get("/health/checks/silent").json()
        self.assertRegex(body["lastResult"]["output"], TIMEOUT_OUTPUT)


if __name__ == "__main__":
    unittest.main()
