"""Metrics for fleet questions (issue 17, item 1; SPEC sections 8 and 11), from the real binary:
vitals_check_info and vitals_group_info (what rules join on), the transition counters (flapping),
and the reload metrics, with the exposition still clean under `promtool check metrics`.

Checks are fixture_file checks (faults.so) whose result the test sets by rewriting a file; every
change is caused from outside and observed by polling."""

import time
import unittest

from test_operations import OpsTestCase, parse_metrics, series, value
from vitals_harness import file_check, write_status_file

# Labels vitals itself adds to the fleet series: all from the configuration (never a client's).
CONFIG_LABELS = {"check", "type", "impact", "scope", "group", "status"}
FLEET_SERIES = ("vitals_check_info", "vitals_group_info", "vitals_check_transitions_total",
                "vitals_group_transitions_total")


class FleetMetricsTest(OpsTestCase):
    def start_fleet_daemon(self):
        self.ws = self.status_file("ws", "pass")
        self.redis = self.status_file("redis", "pass")
        cfg = self.fixture_config(
            [file_check("ws", self.ws), file_check("redis", self.redis, scope="shared", impact="degraded")],
            groups={"alb": {"checks": ["ws", "redis"]}, "live": {"checks": [], "drain": False}})
        d = self.start_daemon(cfg)
        self.wait_status(d, "/health/alb", "pass")
        return d

    def wait_metric(self, d, name, want, **labels):
        def probe():
            m = self.metrics(d)
            return m if value(m, name, **labels) == want else None
        return self.wait_for(probe, 10.0, "%s%r to be %s" % (name, labels, want))

    def test_info_series_name_type_impact_scope_and_pass_promtool(self):
        d = self.start_fleet_daemon()
        r = d.get("/metrics")
        text = r.body.decode("utf-8")
        self.assertPromtoolClean(text)
        m = parse_metrics(text)
        self.assertEqual(value(m, "vitals_check_info", check="ws", type="fixture_file", impact="critical",
                               scope="local"), 1)
        self.assertEqual(value(m, "vitals_check_info", check="redis", type="fixture_file", impact="degraded",
                               scope="shared"), 1)
        self.assertEqual(len(series(m, "vitals_check_info")), 2, series(m, "vitals_check_info"))
        self.assertEqual(sorted(l["group"] for l, _ in series(m, "vitals_group_info")), ["alb", "default", "live"])
        for name in FLEET_SERIES:
            for labels, _ in series(m, name):
                self.assertLessEqual(set(labels), CONFIG_LABELS, (name, labels))
        self.assertEqual(value(m, "vitals_draining"), 0)

    def test_transition_counters_count_each_change_once(self):
        d = self.start_fleet_daemon()
        m = self.metrics(d)
        # Start: pending -> pass is the check's first change. The group may have published fail
        # (pending) before its first pass: counted from there on.
        self.assertEqual(value(m, "vitals_check_transitions_total", check="ws"), 1)
        alb0 = value(m, "vitals_group_transitions_total", group="alb")
        default0 = value(m, "vitals_group_transitions_total", group="default")

        write_status_file(self.ws, "fail", "ws down")
        self.wait_status(d, "/health/alb", "fail")
        m = self.wait_metric(d, "vitals_check_transitions_total", 2, check="ws")
        self.assertEqual(value(m, "vitals_group_transitions_total", group="alb"), alb0 + 1)
        self.assertEqual(value(m, "vitals_group_transitions_total", group="default"), default0 + 1)
        self.assertEqual(value(m, "vitals_group_transitions_total", group="live"), 0)

        write_status_file(self.ws, "pass")
        self.wait_status(d, "/health/alb", "pass")
        m = self.wait_metric(d, "vitals_check_transitions_total", 3, check="ws")
        self.assertEqual(value(m, "vitals_group_transitions_total", group="alb"), alb0 + 2)

        # The shared check failing moves the group to warn (a change too), not to fail.
        write_status_file(self.redis, "fail", "redis down")
        self.wait_status(d, "/health/alb", "warn")
        m = self.wait_metric(d, "vitals_check_transitions_total", 2, check="redis")
        self.assertEqual(value(m, "vitals_group_transitions_total", group="alb"), alb0 + 3)
        self.assertEqual(value(m, "vitals_check_transitions_total", check="ws"), 3)
        # The history holds the same changes of the group, each with its previous status (its
        # first row, previous "pending", is the group's first status and no change).
        def recorded():
            items = d.get("/health/history?check=alb&transitions=true&limit=100").json()["items"]
            # (check=alb also returns its members' rows)
            changes = [(i["previous"], i["status"]) for i in reversed(items)
                       if i["check"] == "alb" and i.get("previous") not in (None, "pending")]
            return changes if len(changes) >= alb0 + 3 else None
        changes = self.wait_for(recorded, 10.0, "the alb transitions in history")
        self.assertEqual(len(changes), alb0 + 3, changes)
        self.assertEqual(changes[-3:], [("pass", "fail"), ("fail", "pass"), ("pass", "warn")])

        # Steady results add nothing.
        runs = self.check_detail(d, "ws")["counters"]["runs"]
        self.wait_check(d, "ws", lambda b: b["counters"]["runs"] >= runs + 3)
        m2 = self.metrics(d)
        self.assertEqual(value(m2, "vitals_check_transitions_total", check="ws"), 3)
        self.assertEqual(value(m2, "vitals_group_transitions_total", group="alb"),
                         value(m, "vitals_group_transitions_total", group="alb"))

    def test_reload_timestamp_moves_on_success_only(self):
        before_start = time.time()
        d = self.start_fleet_daemon()
        m = self.metrics(d)
        started = value(m, "vitals_config_last_reload_success_timestamp_seconds")
        self.assertGreaterEqual(started, before_start - 1)  # the start-up load counts
        self.assertEqual(value(m, "vitals_config_last_reload_successful"), 1)

        good = open(d.config_path).read()
        with open(d.config_path, "w") as f:
            f.write(good.replace('"checks"', '"checkz"', 1))
        self.assertProblem(self.post(d, "/admin/reload"), 422)
        m = self.metrics(d)
        self.assertEqual(value(m, "vitals_config_last_reload_successful"), 0)
        self.assertEqual(value(m, "vitals_config_last_reload_success_timestamp_seconds"), started)

        with open(d.config_path, "w") as f:
            f.write(good)
        # The timestamp has millisecond resolution: make sure the next load is in a later millisecond.
        self.wait_for(lambda: time.time() > started + 0.01, 5.0, "the clock to move past the start-up load")
        self.assertEqual(self.post(d, "/admin/reload").status, 200)
        m = self.metrics(d)
        self.assertEqual(value(m, "vitals_config_last_reload_successful"), 1)
        self.assertGreater(value(m, "vitals_config_last_reload_success_timestamp_seconds"), started)


if __name__ == "__main__":
    unittest.main()
