"""Uptime (SPEC section 10) end to end: the real daemon writes rollups beside the raw rows;
/health/uptime and `vitals history --uptime` answer from them, exactly, with a restart gap left out."""

import calendar
import json
import time
import urllib.parse

from vitals_harness import VitalsTestCase, file_check, write_status_file


def uptime_of(ms):
    known = ms["pass_ms"] + ms["warn_ms"] + ms["fail_ms"]
    return round((ms["pass_ms"] + ms["warn_ms"]) / known, 6)


class UptimeTest(VitalsTestCase):

    def config(self):
        self.a = self.status_file("a.status", "pass", "a is fine")
        return {
            "plugins": self.plugins_with_fixtures(),
            "checks": [file_check("a", self.a, interval="100ms", timeout="50ms", rise=1, fall=1)],
            "groups": {"alb": {"checks": ["a"]}},
        }

    def history(self, d, query):
        r = d.get("/health/history?" + query)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["items"]

    def transitions(self, d, name):
        return [i for i in self.history(d, "transitions=true&limit=1000&check=" + name) if i["check"] == name]

    def results(self, d):
        return [i for i in self.history(d, "check=a&limit=1000") if i["kind"] == "result"]

    def uptime(self, d, query):
        r = d.get("/health/uptime?" + query)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers.get("Content-Type"), "application/json")
        return r.json()

    @staticmethod
    def ms(t):
        # "2026-12-01T12:00:00.123Z" → unix ms
        return calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 + int(t[20:23])

    def span(self, d, name, status, ts=None):
        """The ms `name` spent in `status`: from each transition to it until the next transition
        (a group starts as fail while its checks are pending: that counts too)."""
        ts = sorted(ts if ts is not None else self.transitions(d, name), key=lambda i: i["id"])
        self.assertEqual(ts[-1]["status"], "pass")
        return sum(self.ms(ts[k + 1]["time"]) - self.ms(t["time"]) for k, t in enumerate(ts[:-1]) if t["status"] == status)

    def test_exact_uptime_of_a_fail_span_with_a_restart_gap_not_counted(self):
        config = self.config()
        first = self.start_daemon(config, name="d")
        self.wait_for(lambda: len(self.results(first)) >= 3, message="results of a")
        write_status_file(self.a, "fail", "a broke")
        self.wait_for(lambda: len([r for r in self.results(first) if r["status"] == "fail"]) >= 5,
                      message="five fail results")
        write_status_file(self.a, "pass", "a is fine again")
        self.wait_for(lambda: [t["status"] for t in self.transitions(first, "a")][:1] == ["pass"]
                      and len(self.transitions(first, "a")) == 3, message="a back to pass")
        fail_ms = self.span(first, "a", "fail")
        alb_fail_ms = self.span(first, "alb", "fail")
        first_results = self.results(first)
        self.assertGreater(fail_ms, 0)

        # While running: the fail span is exact, uptime is up time over known time.
        live = self.uptime(first, "check=a,alb&range=1h&bucket=1m")
        self.assertEqual([i["check"] for i in live["items"]], ["a", "alb"])
        a, alb = live["items"]
        self.assertEqual(a["fail_ms"], fail_ms)
        self.assertEqual(alb["fail_ms"], alb_fail_ms)
        self.assertEqual(a["uptime"], uptime_of(a))
        self.assertEqual(len(a["buckets"]), 60)
        self.assertEqual(a["fails"], len([r for r in first_results if r["raw_status"] == "fail"]))
        self.assertGreaterEqual(a["runs"], len(first_results))
        self.assertIsNotNone(a["p50_ms"])

        first.stop()
        stopped_at = time.time()
        before = self.results_from_file(first)  # every result of the first run, newest first
        time.sleep(2.0)  # vitals is not running: this time must not count
        started_at = time.time()
        second = self.start_daemon(config, name="d")
        self.wait_for(lambda: len([r for r in self.results(second) if r["id"] > before[0]["id"]]) >= 5,
                      message="results after the restart")
        second.stop()
        ended_at = time.time()
        all_results = self.results_from_file(second)
        after = [r for r in all_results if r["id"] > before[0]["id"]]

        # Daemon down: the CLI reads the file; everything in it is final.
        out = self.run_vitals(["history", "--uptime", "-c", second.config_path, "--check", "a,alb",
                               "--range", "1h", "--bucket", "1m", "--json"])
        self.assertEqual(out.returncode, 0, out.stderr)
        a, alb = json.loads(out.stdout)["items"]
        self.assertEqual(a["fail_ms"], fail_ms)
        out = self.run_vitals(["history", "-c", second.config_path, "--check", "alb", "--transitions", "--json"])
        alb_transitions = [t for t in json.loads(out.stdout)["items"] if t["check"] == "alb"]
        self.assertEqual(alb["fail_ms"], self.span(None, "alb", "fail", alb_transitions))
        self.assertEqual(a["warn_ms"], 0)
        self.assertEqual(a["uptime"], uptime_of(a))
        self.assertEqual(alb["uptime"], uptime_of(alb))
        known = a["pass_ms"] + a["fail_ms"]
        first_ms = self.ms(before[-1]["time"])  # the oldest result of all
        gap_ms = (started_at - stopped_at) * 1000
        self.assertLessEqual(known, (ended_at * 1000 - first_ms) - gap_ms,
                             "the time vitals was not running was counted")
        # ...and both runs' time between their first and last results was.
        self.assertGreaterEqual(known, (self.ms(before[0]["time"]) - self.ms(before[-1]["time"])) +
                                (self.ms(after[0]["time"]) - self.ms(after[-1]["time"])))
        self.assertLess(a["coverage"], 1.0)
        self.assertEqual(a["runs"], len(all_results))
        self.assertEqual(a["fails"], len([r for r in all_results if r["raw_status"] == "fail"]))

        table = self.run_vitals(["history", "--uptime", "-c", second.config_path, "--check", "a", "--range", "1h"])
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertRegex(table.stdout, r"(?m)^a\s+%s%%\s" % ("%.4f" % (a["uptime"] * 100)).replace(".", r"\."))

    def results_from_file(self, d):
        out = self.run_vitals(["history", "-c", d.config_path, "--check", "a", "--limit", "1000", "--json"])
        self.assertEqual(out.returncode, 0, out.stderr)
        return [i for i in json.loads(out.stdout)["items"] if i["kind"] == "result"]

    def test_bad_parameters_are_400_problems_naming_the_parameter_and_serving_goes_on(self):
        d = self.start_daemon(self.config())
        cases = {
            "range=1h": "check",
            "check=nope": "check",
            "check=%3Cscript%3E": "check",
            "check=a&range=soon": "range",
            "check=a&range=90s": "range",
            "check=a&bucket=30s": "bucket",
            "check=a&range=1h&bucket=7m": "range",
            "check=a&range=30d&bucket=1m": "bucket",
            "check=a&range=8d&bucket=2m": "range",
            "check=a&limit=5": "limit",
            "check=a&range=1h&range=2h": "range",
        }
        for query, param in cases.items():
            with self.subTest(query=query):
                r = d.get("/health/uptime?" + query)
                body = self.assertProblem(r, 400)
                self.assertTrue(body["detail"].startswith("parameter %s: " % param), body["detail"])
        r = d.get("/health/uptime?check=a&range=8d&bucket=2m")
        self.assertIn("kept 7d (history.rollups.minutes)", r.json()["detail"])
        self.assertEqual(d.get("/health/uptime?check=a", method="POST").status, 405)
        self.assertEqual(d.get("/health").status, 200)
        ok = self.uptime(d, "check=" + urllib.parse.quote("a,alb"))
        self.assertEqual((ok["range"], ok["bucket"], len(ok["items"][0]["buckets"])), ("1d", "1h", 24))

    def test_uptime_follows_server_details_and_the_cli_names_bad_options(self):
        config = self.config()
        config["server"] = {"details": "never"}
        d = self.start_daemon(config)
        self.assertProblem(d.get("/health/uptime?check=a"), 403)
        bad = self.run_vitals(["history", "--uptime", "-c", d.config_path, "--check", "nope"])
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--check: \"nope\" is not a check or group", bad.stderr)
        bad = self.run_vitals(["history", "--uptime", "-c", d.config_path, "--check", "a", "--status", "fail"])
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--status: unknown parameter", bad.stderr)

    def test_a_group_removed_by_a_reload_stops_counting_until_it_is_configured_again(self):
        config = self.config()
        config["groups"]["extra"] = {"checks": ["a"]}
        started = time.time()
        d = self.start_daemon(config, name="d")
        self.wait_for(lambda: d.get("/health/extra").status == 200, message="extra passes")

        def reload_with(groups):
            with open(d.config_path) as f:
                written = json.load(f)
            written["groups"] = groups
            with open(d.config_path, "w") as f:
                json.dump(written, f)
            r = d.get("/admin/reload", method="POST")
            self.assertEqual(r.status, 200, r)

        time.sleep(1)
        reload_with({"alb": {"checks": ["a"]}})
        removed = time.time()
        self.assertEqual(d.get("/health/extra").status, 404)
        time.sleep(4)  # the gap: extra is not configured
        readded = time.time()
        reload_with({"alb": {"checks": ["a"]}, "extra": {"checks": ["a"]}})
        self.wait_for(lambda: d.get("/health/extra").status == 200, message="extra configured again")
        time.sleep(1)
        d.stop()  # time in status is written up to the stop
        ended = time.time()
        r = self.run_vitals(["history", "--uptime", "-c", d.config_path, "--check", "extra,alb", "--range", "1h",
                             "--bucket", "1m", "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        items = {i["check"]: i for i in json.loads(r.stdout)["items"]}
        known = lambda i: (i["pass_ms"] + i["warn_ms"] + i["fail_ms"]) / 1000.0
        gap = readded - removed
        # alb was configured throughout: its known time spans (nearly) the run ...
        self.assertGreater(known(items["alb"]), (ended - started) - gap / 2)
        # ... extra's leaves out the gap: at most the run minus the gap.
        self.assertLess(known(items["extra"]), (ended - started) - gap + 0.5)
        self.assertGreater(known(items["extra"]), 1.0)
