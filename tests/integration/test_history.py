"""History (SPEC section 6) end to end: the real daemon writes SQLite, /health/history and
`vitals history` read it; faults (kill -9 while writing, an unusable path) never stop /health."""

import json
import os
import signal
import sqlite3
import subprocess
import time
import unittest

from vitals_harness import BUILD_DIR, VitalsTestCase, file_check, write_status_file

HISTORY_BENCH = os.path.join(BUILD_DIR, "tests", "history_bench")


class HistoryEndpointTest(VitalsTestCase):

    def start_with_two_checks(self):
        self.a = self.status_file("a.status", "pass", "a is fine")
        self.b = self.status_file("b.status", "pass", "b is fine")
        return self.start_daemon({
            "plugins": self.plugins_with_fixtures(),
            "checks": [file_check("a", self.a, interval="100ms", timeout="50ms"),
                       file_check("b", self.b, interval="100ms", timeout="50ms")],
            "groups": {"alb": {"checks": ["a"]}},
        })

    def history(self, d, query=""):
        r = d.get("/health/history" + query)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers.get("Content-Type"), "application/json")
        return r.json()

    def test_results_and_transitions_of_checks_and_groups_with_causes(self):
        d = self.start_with_two_checks()
        self.wait_for(lambda: len(self.history(d, "?check=a&limit=5")["items"]) >= 3, message="results of a")
        write_status_file(self.a, "fail", "a broke")
        self.wait_for(lambda: any(i["check"] == "alb" and i["status"] == "fail" and i["previous"] == "pass"
                                  for i in self.history(d, "?transitions=true")["items"]),
                      message="group alb transition from pass to fail")
        items = self.history(d, "?transitions=true")["items"]
        self.assertTrue(all(i["kind"] == "transition" for i in items))
        a_fail = [i for i in items if i["check"] == "a" and i["status"] == "fail"][0]
        self.assertEqual(a_fail["previous"], "pass")
        self.assertIn("a broke", a_fail["cause"])
        alb_fail = [i for i in items if i["check"] == "alb" and i["previous"] == "pass"][0]
        self.assertEqual(alb_fail["cause"], "a: fail (critical)")
        results = self.history(d, "?check=a&status=fail&limit=3")["items"]
        self.assertTrue(results)
        for item in results:
            self.assertEqual(item["check"], "a")
            self.assertEqual(item["status"], "fail")
            if item["kind"] == "result":
                for field in ("raw_status", "duration_ms", "output", "observed_value", "observed_unit"):
                    self.assertIn(field, item)
        self.assertRegex(results[0]["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_group_name_selects_the_group_and_its_members(self):
        d = self.start_with_two_checks()
        self.wait_for(lambda: len(self.history(d, "?limit=20")["items"]) >= 6, message="some history")
        names = {i["check"] for i in self.history(d, "?check=alb&limit=100")["items"]}
        self.assertIn("a", names)
        self.assertNotIn("b", names)

    def test_paging_is_newest_first_and_stable_while_rows_arrive(self):
        d = self.start_with_two_checks()
        self.wait_for(lambda: len(self.history(d, "?limit=30")["items"]) == 30, message="30 rows")
        first = self.history(d, "?limit=10")
        ids = [i["id"] for i in first["items"]]
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertIsNotNone(first["next"])
        time.sleep(0.3)  # new rows arrive between the pages
        second = self.history(d, "?limit=10&cursor=" + first["next"])
        self.assertEqual(len(second["items"]), 10)
        self.assertLess(second["items"][0]["id"], ids[-1])
        self.assertEqual(second["items"][0]["id"], ids[-1] - 1)

    def test_time_filters(self):
        d = self.start_with_two_checks()
        self.wait_for(lambda: len(self.history(d, "?limit=5")["items"]) == 5, message="rows")
        self.assertTrue(self.history(d, "?since=-1m")["items"])
        self.assertEqual(self.history(d, "?until=-1h")["items"], [])
        self.assertEqual(self.history(d, "?since=2999-01-01T00:00:00Z")["items"], [])
        self.assertTrue(self.history(d, "?since=%d" % (int(time.time()) - 60))["items"])

    def test_every_bad_parameter_is_a_400_naming_it(self):
        d = self.start_with_two_checks()
        for query, param in [("?limit=0", "limit"), ("?limit=5000", "limit"), ("?status=bad", "status"),
                             ("?since=yesterday", "since"), ("?until=x", "until"),
                             ("?transitions=maybe", "transitions"), ("?cursor=zzz", "cursor"),
                             ("?check=no%20spaces", "check"), ("?nope=1", "nope")]:
            r = d.get("/health/history" + query)
            self.assertProblem(r, 400)
            self.assertIn("parameter " + param, r.json()["detail"], query)
        self.wait_for(lambda: d.get("/health").status == 200, message="/health still serving")

    def test_cli_reads_the_database_while_the_daemon_runs_and_after(self):
        d = self.start_with_two_checks()
        self.wait_for(lambda: len(self.history(d, "?check=b&limit=3")["items"]) == 3, message="rows of b")
        cfg = d.config_path
        out = self.run_vitals(["history", "-c", cfg, "--check", "b", "--json", "--limit", "2"])
        self.assertEqual(out.returncode, 0, out.stderr)
        page = json.loads(out.stdout)
        self.assertEqual(len(page["items"]), 2)
        self.assertTrue(all(i["check"] == "b" for i in page["items"]))
        d.stop()
        out = self.run_vitals(["history", "-c", cfg, "--transitions"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("transition", out.stdout)
        self.assertIn("default", out.stdout)
        bad = self.run_vitals(["history", "-c", cfg, "--since", "soon"])
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--since", bad.stderr)


class HistoryFaultTest(VitalsTestCase):

    def test_unusable_database_path_keeps_health_serving(self):
        blocker = self.path("blocker")
        with open(blocker, "w") as f:
            f.write("a file where a directory should be")
        ok = self.status_file("ok.status", "pass")
        d = self.start_daemon({
            "plugins": self.plugins_with_fixtures(),
            "history": {"path": os.path.join(blocker, "h.db")},
            "checks": [file_check("ok", ok, interval="100ms", timeout="50ms")],
        })
        self.wait_for(lambda: d.get("/health").status == 200, message="/health 200")
        self.wait_for(lambda: "history: cannot open database" in d.log(), message="error logged")
        for _ in range(20):
            self.assertEqual(d.get("/health").status, 200)
        # Logged once per kind, not once per retry.
        time.sleep(1.5)
        self.assertEqual(d.log().count("history: cannot open database"), 1)
        body = self.assertProblem(d.get("/health/history"), 503)
        self.assertIn("no history database at", body["detail"])

    def test_kill_9_during_heavy_writing_leaves_an_intact_database(self):
        if not os.path.exists(HISTORY_BENCH):
            self.fail("missing " + HISTORY_BENCH)
        db = self.path("load.db")
        p = subprocess.Popen([HISTORY_BENCH, "write-forever", db], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        self.addCleanup(p.stdout.close)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        written = 0
        deadline = time.time() + 20
        while time.time() < deadline and written < 50000:
            line = p.stdout.readline()
            if line.startswith("queued"):
                written = int(line.split()[3])
        self.assertGreaterEqual(written, 50000, "the writer never got going")
        p.send_signal(signal.SIGKILL)
        p.wait()
        con = sqlite3.connect(db)
        self.addCleanup(con.close)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        count = con.execute("SELECT count(*) FROM events").fetchone()[0]
        self.assertGreaterEqual(count, 50000)


class SecretsTest(VitalsTestCase):

    def test_a_secret_option_never_reaches_responses_history_or_logs(self):
        # The end-to-end form of "secret options are redacted": what the daemon says anywhere, at
        # debug level, across a reload that recreates the check and one that is refused.
        secret = "hunter2-do-not-leak"
        config = {
            "plugins": self.plugins_with_fixtures(),
            "log": {"level": "debug"},
            "checks": [{"name": "leaky", "type": "fixture_leaky", "interval": "100ms", "timeout": "50ms",
                        "options": {"password": "${LEAKY_PASSWORD}"}}],
        }
        d = self.start_daemon(config, env=dict(os.environ, LEAKY_PASSWORD=secret))
        self.wait_for(lambda: d.get("/health/history?check=leaky&limit=3").json()["items"], message="results")
        paths = ("/health", "/health/checks/leaky", "/health/history?limit=50", "/metrics")
        bodies = [d.get(p).body.decode("utf-8", "replace") for p in paths]
        self.assertIn("AUTH failed for password '***'", bodies[1])

        changed = json.loads(json.dumps(config))
        changed["checks"][0]["interval"] = "150ms"  # a changed check: created again, with its options
        changed.setdefault("server", {})["address"] = "127.0.0.1"
        changed.setdefault("history", {})["path"] = self.path(d.name + ".db")
        with open(d.config_path, "w") as f:
            json.dump(changed, f)
        r = d.get("/admin/reload", method="POST", body=b"")
        self.assertEqual(r.status, 200, r)
        bodies.append(r.body.decode("utf-8", "replace"))
        self.wait_for(lambda: d.get("/health/checks/leaky").json()["settings"]["interval"] == "150ms",
                      message="the reloaded check")
        changed["checks"][0]["timeout"] = "1h"  # longer than its interval: refused
        with open(d.config_path, "w") as f:
            json.dump(changed, f)
        refused = self.assertProblem(d.get("/admin/reload", method="POST", body=b""), 422)
        bodies.append(json.dumps(refused))
        bodies += [d.get(p).body.decode("utf-8", "replace") for p in paths]
        for body in bodies:
            self.assertNotIn(secret, body)
        d.stop()
        self.assertNotIn(secret, d.log())
        with open(d.config_path) as f:
            self.assertNotIn(secret, f.read())  # it came from the environment


if __name__ == "__main__":
    unittest.main()
