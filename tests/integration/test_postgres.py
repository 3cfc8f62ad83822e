"""The postgres check type (SPEC section 3) against a real PostgreSQL server made by initdb on an
ephemeral loopback port, with scram-sha-256 password authentication: a passing query, a wrong
password, a missing database, the primary role, queries returning no rows or failing, sslmode
require against a server without TLS, a server that accepts the connection and never answers (the
deadline), a closed port, option validation, and the password never showing anywhere."""

import re
import unittest

from peers import PostgresServer, SilentListener, free_port
from vitals_harness import VitalsTestCase, health_check_entry

SUPERUSER_PASSWORD = "pg-super-Pa55-quux"
PASSWORD = "app-s3cret-Pa55word-xyzzy"  # what the server wants for "app"
WRONG = "app-not-the-Pa55word-plugh"    # also a secret: must not show either
SECRETS = (SUPERUSER_PASSWORD, PASSWORD, WRONG)


def pg_check(name, port, interval="5s", timeout="2s", **options):
    opts = {"host": "127.0.0.1", "port": port, "user": "app", "password": PASSWORD, "dbname": "appdb"}
    opts.update(options)
    return {"name": name, "type": "postgres", "interval": interval, "timeout": timeout, "options": opts}


def connection_failed(port, message):
    """libpq's connection failure, on one line as the check reports it."""
    return 'connection to server at "127.0.0.1", port %d failed: %s' % (port, message)


class PostgresTestCase(VitalsTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = PostgresServer(SUPERUSER_PASSWORD)
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()
        cls.server.psql("CREATE ROLE app LOGIN PASSWORD '%s'" % PASSWORD)
        cls.server.psql("CREATE DATABASE appdb OWNER app")
        cls.server.psql("CREATE TABLE empty_t (id int); GRANT SELECT ON empty_t TO app", dbname="appdb")


class PostgresCheckTest(PostgresTestCase):
    def test_select_1_passes_with_latency(self):
        d = self.start_daemon({"checks": [pg_check("db", self.server.port)]})
        self.wait_for(lambda: d.get("/health").status == 200, 10.0, "/health to pass")
        entry = health_check_entry(d.get("/health").json(), "db")
        self.assertEqual(entry["componentType"], "datastore", entry)
        self.assertEqual(entry["status"], "pass", entry)
        self.assertEqual(entry["observedUnit"], "ms", entry)
        self.assertGreater(entry["observedValue"], 0, entry)
        m = re.match(r"^SELECT 1: 1 row in (\d+\.\d\d) ms$", entry.get("output", ""))
        self.assertTrue(m, entry)
        self.assertAlmostEqual(entry["observedValue"], float(m.group(1)), delta=0.005, msg=entry)

    def test_wrong_password_and_missing_database_name_the_servers_message(self):
        port = self.server.port
        rows, _ = self.check_once([
            pg_check("wrong", port, password=WRONG),
            pg_check("nobody", port, user="nobody-here"),
            pg_check("nodb", port, dbname="nope"),
            pg_check("superuser", port, user="postgres", password=SUPERUSER_PASSWORD, dbname="postgres"),
        ], expect_code=2, secrets=SECRETS)
        self.assertEqual(rows["wrong"], ("fail", connection_failed(port, 'FATAL: password authentication failed for user "app"')))
        self.assertEqual(rows["nobody"], ("fail", connection_failed(port, 'FATAL: password authentication failed for user '
                                                                          '"nobody-here"')))
        self.assertEqual(rows["nodb"], ("fail", connection_failed(port, 'FATAL: database "nope" does not exist')))
        self.assertEqual(rows["superuser"][0], "pass", rows)

    def test_role_primary(self):
        port = self.server.port
        rows, _ = self.check_once([
            pg_check("primary", port, role="primary"),
            pg_check("replica", port, role="replica"),
        ], expect_code=2)
        self.assertEqual(rows["primary"][0], "pass", rows)
        self.assertRegex(rows["primary"][1], r"^SELECT 1: 1 row in \d+\.\d\d ms, role primary$")
        self.assertEqual(rows["replica"], ("fail", "role is primary (pg_is_in_recovery), expected replica"))

    def test_query_must_return_a_row(self):
        port = self.server.port
        rows, _ = self.check_once([
            pg_check("empty", port, query="SELECT id FROM empty_t"),
            pg_check("command", port, query="SET search_path TO public"),
            pg_check("missing", port, query="SELECT * FROM missing_t"),
            pg_check("denied", port, query="SELECT * FROM pg_authid"),
            pg_check("three", port, query="SELECT generate_series(1, 3)"),
            pg_check("last-counts", port, query="SELECT 1; SELECT id FROM empty_t"),
        ], expect_code=2)
        self.assertEqual(rows["empty"], ("fail", "query returned no rows: SELECT id FROM empty_t"))
        self.assertEqual(rows["command"], ("fail", "query returned no rows: SET search_path TO public"))
        self.assertEqual(rows["missing"], ("fail", 'query failed: ERROR: relation "missing_t" does not exist'))
        self.assertEqual(rows["denied"], ("fail", "query failed: ERROR: permission denied for table pg_authid"))
        self.assertEqual(rows["three"][0], "pass", rows)
        self.assertRegex(rows["three"][1], r"^SELECT generate_series\(1, 3\): 3 rows in \d+\.\d\d ms$")
        self.assertEqual(rows["last-counts"], ("fail", "query returned no rows: SELECT 1; SELECT id FROM empty_t"))

    def test_a_host_name_is_resolved_and_each_address_tried_and_a_socket_directory_used(self):
        # localhost: ::1 and 127.0.0.1 from /etc/hosts; the server listens on 127.0.0.1 only.
        rows, _ = self.check_once([
            pg_check("named", self.server.port, host="localhost"),
            # A socket directory: no resolution, the Unix socket (trusted for the superuser here).
            pg_check("socket", self.server.port, host=self.server.socket_dir, user="postgres", password=""),
        ], expect_code=0)
        for name in ("named", "socket"):
            self.assertRegex(rows[name][1], r"^SELECT 1: 1 row in \d+\.\d\d ms$")

    def test_a_query_still_running_at_the_deadline_times_out(self):
        rows, _ = self.check_once([pg_check("slow", self.server.port, timeout="500ms", query="SELECT pg_sleep(3)")],
                                     expect_code=2)
        self.assertRegex(rows["slow"][1], r"^timed out after \d+ ms \(query\)$")
        self.assertEqual(rows["slow"][0], "fail", rows)

    def test_sslmode_require_against_a_server_without_tls(self):
        port = self.server.port
        rows, _ = self.check_once([
            pg_check("require", port, sslmode="require"),
            pg_check("disable", port, sslmode="disable"),
        ], expect_code=2)
        self.assertEqual(rows["require"], ("fail", connection_failed(port, "server does not support SSL, but SSL was required")))
        self.assertEqual(rows["disable"][0], "pass", rows)

    def test_password_never_appears_in_responses_or_log(self):
        def check(name, interval, timeout, **options):
            return pg_check(name, options.pop("port", self.server.port), interval, timeout, **options)
        self.assertPasswordNeverShows(check, WRONG, SECRETS, 'password authentication failed for user "app"')


class PostgresFailureTest(VitalsTestCase):
    def test_a_server_that_never_answers_times_out_at_the_deadline(self):
        silent = SilentListener()
        self.addCleanup(silent.close)
        rows, proc = self.check_once([pg_check("silent", silent.port, timeout="500ms")], expect_code=2, secrets=SECRETS)
        self.assertEqual(rows["silent"][0], "fail", rows)
        self.assertRegex(rows["silent"][1], r"^timed out after \d+ ms \(connect to 127\.0\.0\.1:%d\)$" % silent.port)
        self.assertTrue(silent.conns, "the check never connected to the silent listener")
        # The plugin returned by its deadline: the host did not have to time it out (its output is the
        # bare "timed out after N ms").
        self.assertNotRegex(proc.stdout, r"timed out after \d+ ms\n")

    def test_a_closed_port_is_refused(self):
        port = free_port()
        rows, _ = self.check_once([pg_check("closed", port)], expect_code=2)
        self.assertEqual(rows["closed"][0], "fail", rows)
        self.assertTrue(rows["closed"][1].startswith(connection_failed(port, "Connection refused")), rows)

    def test_invalid_options_are_configuration_errors(self):
        checks = [
            pg_check("c0", 0),
            pg_check("c1", 5432, sslmode="sometimes"),
            pg_check("c2", 5432, role="leader"),
            pg_check("c3", 5432, query=" ; "),
            pg_check("c4", 5432, host=""),
            pg_check("c5", 5432, host="a,b"),
            pg_check("c6", 5432, dbname=""),
            pg_check("c7", 5432, user=""),
            pg_check("c8", 5432, sslmode="verify-full", role="replica"),
        ]
        err = self.assertValidateErrors("postgres", checks, [
            (0, "port must be between 1 and 65535 (got 0)"),
            (1, 'sslmode must be disable, allow, prefer, require, verify-ca or verify-full (got "sometimes")'),
            (2, 'role must be "primary" or "replica" (got "leader")'),
            (3, "query must not be empty"),
            (4, "host must not be empty"),
            (5, "host must be one host name, address or socket directory (got a list)"),
            (6, "dbname must not be empty"),
            (7, "user must not be empty"),
        ])
        self.assertNotIn(PASSWORD, err)

    def test_option_schema_is_listed_with_the_password_secret(self):
        proc = self.run_vitals(["plugins"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        section = re.search(r"(?ms)^postgres .*?(?=^\S|\Z)", proc.stdout)
        self.assertTrue(section, proc.stdout)
        for option in ("host", "port", "dbname", "user", "password", "sslmode", "query", "role"):
            self.assertRegex(section.group(0), r"(?m)^\s+%s\b" % option, option)
        self.assertRegex(section.group(0), r"(?m)^\s+password\s.*secret", section.group(0))


if __name__ == "__main__":
    unittest.main()
