"""The fleet on the real engine (issue 17, item 3; SPEC section 11): a real Prometheus loaded with
packaging/prometheus/vitals-rules.yml and a real Alertmanager, on 127.0.0.1 ephemeral ports with
their own temp storage, scrape three vitals daemons (three targets, own ports), each checking one
shared redis-server (`scope: shared`) and its own WebSocket peer.

  - redis stopped: Alertmanager receives exactly ONE VitalsSharedDependencyDown (for redis, no
    instance label), and no VitalsTargetUnhealthy: the shared scope keeps every target at warn;
  - then one target's WebSocket peer stopped: exactly one VitalsTargetUnhealthy, for that target.

Only the `for:` durations of the rule file are scaled down (to FOR_SCALED), and the test checks that
the copy it loads differs from the shipped file in those lines alone: the expressions tested are the
shipped ones. Scrape and evaluation intervals are 1 s. Alertmanager groups by every label
(group_by: ['...']), so one group is one distinct alert, and its cluster gossip is off
(--cluster.listen-address=). Waits are hang guards on conditions; the "stays quiet" assertions are
made only after Prometheus has evaluated the rules for longer than the scaled `for:` with the
condition in place (counted from the ALERTS series), so a wrong rule would have fired by then.

The Grafana dashboard's queries (packaging/grafana/vitals-fleet.json) are evaluated against the same
Prometheus at the end, when every panel has something to show."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest
import urllib.parse

from peers import PeerScript, RedisServer, free_port, stop_process
from test_fleet_packaging import PENDING_METRICS, dashboard_queries, metric_names
from vitals_harness import SOURCE_DIR, VitalsTestCase, http_request

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
RULES = os.path.join(SOURCE_DIR, "packaging", "prometheus", "vitals-rules.yml")
DASHBOARD = os.path.join(SOURCE_DIR, "packaging", "grafana", "vitals-fleet.json")
FOR_RE = re.compile(r"^(\s+for: )(\S+)$")
FOR_SCALED = "3s"
ENGINE_TIMEOUT = 30.0   # hang guard: an engine to answer /-/ready
ALERT_TIMEOUT = 45.0    # hang guard: an alert to reach Alertmanager
# Rule evaluations (1 s apart) an alert must have been firing for before the test says another one
# stayed quiet: twice the scaled `for:`, so a rule that should not fire has had every chance to.
QUIET_EVALUATIONS = 6


def scaled_rules(text):
    """The rule file with every `for:` set to FOR_SCALED; nothing else changes."""
    return "\n".join(FOR_RE.sub(lambda m: m.group(1) + FOR_SCALED, line) for line in text.split("\n"))


class Engine:
    """A Prometheus or Alertmanager process, ours, on 127.0.0.1:<port>; ready when /-/ready is 200."""

    def __init__(self, name, cmd, port, log_path):
        self.name, self.cmd, self.port, self.log_path = name, cmd, port, log_path
        self.proc = None

    def start(self):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + ENGINE_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with %s; log:\n%s" % (self.name, self.proc.returncode, self.log()))
            try:
                if http_request("127.0.0.1", self.port, "/-/ready", timeout=2.0).status == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise AssertionError("%s not ready after %.0f s; log:\n%s" % (self.name, ENGINE_TIMEOUT, self.log()))
            time.sleep(0.1)

    def get_json(self, path):
        r = http_request("127.0.0.1", self.port, path, timeout=10.0)
        if r.status != 200:
            raise AssertionError("%s %s: %s %r" % (self.name, path, r.status, r.body[:500]))
        return json.loads(r.body)

    def log(self, tail=4000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-tail:]
        except OSError:
            return ""

    def stop(self):
        stop_process(self.proc, signal.SIGTERM, 10.0)


class FleetEngineTest(VitalsTestCase):
    def start_engine(self, name, cmd, port):
        e = Engine(name, cmd, port, self.path(name + ".log"))
        self.addCleanup(e.stop)
        return e.start()

    # --- Prometheus and Alertmanager -----------------------------------------------------------

    def query(self, expr):
        body = self.prom.get_json("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        self.assertEqual(body.get("status"), "success", (expr, body))
        return body["data"]["result"]

    def wait_query(self, expr, predicate, message, timeout=ALERT_TIMEOUT):
        def probe():
            result = self.query(expr)
            return result if predicate(result) else None
        return self.wait_for(probe, timeout, message)

    def am_groups(self, alertname):
        """Alertmanager's active alert groups of `alertname` (v2 API)."""
        groups = self.am.get_json("/api/v2/alerts/groups")
        return [g for g in groups if g["labels"].get("alertname") == alertname]

    def wait_am(self, alertname):
        return self.wait_for(lambda: self.am_groups(alertname) or None, ALERT_TIMEOUT,
                             "Alertmanager to receive %s (prometheus log:\n%s)" % (alertname, self.prom.log()))

    def wait_fired_for(self, alertname, evaluations=QUIET_EVALUATIONS):
        """Until `alertname` has been firing in Prometheus for `evaluations` rule evaluations."""
        expr = 'count_over_time(ALERTS{alertname="%s",alertstate="firing"}[5m])' % alertname
        return self.wait_query(expr, lambda r: any(float(s["value"][1]) >= evaluations for s in r),
                               "%s firing for %d evaluations" % (alertname, evaluations))

    def start_engines(self, targets):
        rules_text = open(RULES).read()
        scaled = scaled_rules(rules_text)
        shipped_lines, scaled_lines = rules_text.split("\n"), scaled.split("\n")
        self.assertEqual(len(shipped_lines), len(scaled_lines))
        changed = [(a, b) for a, b in zip(shipped_lines, scaled_lines) if a != b]
        self.assertGreaterEqual(len(changed), 5, "the rule file's for: durations to scale")
        for a, b in changed:
            self.assertRegex(a, FOR_RE)
            self.assertRegex(b, FOR_RE)
        rules = self.path("vitals-rules.scaled.yml")
        with open(rules, "w") as f:
            f.write(scaled)

        am_port = free_port()
        with open(self.path("alertmanager.yml"), "w") as f:
            f.write("route:\n  receiver: tally\n  group_by: ['...']\n  group_wait: 0s\n"
                    "  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: tally\n")
        self.am = self.start_engine("alertmanager", [
            ALERTMANAGER, "--config.file=" + self.path("alertmanager.yml"),
            "--storage.path=" + self.path("am-data"),
            "--web.listen-address=127.0.0.1:%d" % am_port,
            "--cluster.listen-address=",  # no gossip: nothing leaves loopback
            "--log.level=warn"], am_port)

        prom_port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
            "rule_files": [rules],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:%d" % am_port]}]}]},
            "scrape_configs": [{"job_name": "vitals",
                                "static_configs": [{"targets": targets}]}],
        }
        with open(self.path("prometheus.yml"), "w") as f:
            json.dump(config, f)  # JSON is YAML
        self.prom = self.start_engine("prometheus", [
            PROMETHEUS, "--config.file=" + self.path("prometheus.yml"),
            "--storage.tsdb.path=" + self.path("prom-data"),
            "--web.listen-address=127.0.0.1:%d" % prom_port,
            "--log.level=warn"], prom_port)

    # --- the scenario --------------------------------------------------------------------------

    def test_shared_outage_is_one_alert_and_a_local_one_names_its_target(self):
        started = time.monotonic()
        redis = RedisServer(self.path("redis"))
        self.addCleanup(redis.stop)
        redis.start()
        peers, daemons = [], []
        for i in range(3):
            peer = PeerScript("ws_server.py")
            self.addCleanup(peer.stop)
            peers.append(peer.start())
            daemons.append(self.start_daemon({
                "checks": [
                    {"name": "ws", "type": "websocket", "interval": "500ms", "timeout": "400ms",
                     "options": {"url": "ws://127.0.0.1:%d/" % peer.port}},
                    {"name": "redis", "type": "redis", "interval": "500ms", "timeout": "400ms", "scope": "shared",
                     "options": {"host": "127.0.0.1", "port": redis.port}},
                ],
                "groups": {"alb": {"checks": ["ws", "redis"]}},
            }, name="t%d" % i))
        targets = ["127.0.0.1:%d" % d.port for d in daemons]
        self.start_engines(targets)

        self.wait_query('vitals_group_status{job="vitals",group="alb",status="pass"} == 1', lambda r: len(r) == 3,
                        "Prometheus to see all three targets' alb group pass")
        self.wait_for(lambda: any(r.get("name") == "VitalsSharedDependencyDown"
                                  for g in self.prom.get_json("/api/v1/rules")["data"]["groups"]
                                  for r in g["rules"]) or None, ENGINE_TIMEOUT, "the rules to be loaded")
        self.assertEqual(self.am_groups("VitalsSharedDependencyDown"), [])
        self.assertEqual(self.am_groups("VitalsTargetUnhealthy"), [])

        # 1. The shared redis goes away: every target's redis check fails, every alb group warns.
        redis.stop()
        self.wait_am("VitalsSharedDependencyDown")
        self.wait_fired_for("VitalsSharedDependencyDown")
        shared = self.am_groups("VitalsSharedDependencyDown")
        self.assertEqual(len(shared), 1, shared)
        self.assertEqual(len(shared[0]["alerts"]), 1, shared)
        labels = shared[0]["alerts"][0]["labels"]
        self.assertEqual((labels.get("check"), labels.get("job")), ("redis", "vitals"), labels)
        self.assertNotIn("instance", labels)  # one alert for the dependency, not one per target
        self.assertIn("/health/replay", shared[0]["alerts"][0]["annotations"]["description"])
        self.assertEqual(self.am_groups("VitalsTargetUnhealthy"), [])
        self.assertEqual(self.query('ALERTS{alertname="VitalsTargetUnhealthy"}'), [])
        for d in daemons:
            r = d.get("/health/alb")
            self.assertEqual((r.status, r.json()["status"]), (200, "warn"), (d.name, r))

        # 2. One target's own WebSocket peer goes away: that target, and it alone, is unhealthy.
        peers[0].stop()
        self.wait_am("VitalsTargetUnhealthy")
        self.wait_fired_for("VitalsTargetUnhealthy")
        unhealthy = self.am_groups("VitalsTargetUnhealthy")
        self.assertEqual(len(unhealthy), 1, unhealthy)
        alerts = unhealthy[0]["alerts"]
        self.assertEqual([(a["labels"].get("instance"), a["labels"].get("group")) for a in alerts],
                         [(targets[0], "alb")], unhealthy)
        self.assertIn("http://%s/dashboard" % targets[0], alerts[0]["annotations"]["description"])
        self.assertEqual(len(self.am_groups("VitalsSharedDependencyDown")), 1)
        self.assertEqual(daemons[0].get("/health/alb").status, 503)

        received = {n: len(self.am_groups(n)) for n in ("VitalsSharedDependencyDown", "VitalsTargetUnhealthy")}
        sys.stderr.write("fleet scenario: alerts expected {'VitalsSharedDependencyDown': 1, "
                         "'VitalsTargetUnhealthy': 1}, received %s; %.1f s\n" % (received, time.monotonic() - started))

        # 3. The dashboard's queries, on this Prometheus, while every panel has data.
        self.check_dashboard_queries()

    def check_dashboard_queries(self):
        queries = dashboard_queries(DASHBOARD)
        self.assertGreaterEqual(len(queries), 10)
        for panel, expr in queries:
            with self.subTest(panel=panel, expr=expr):
                result = self.query(expr)  # asserts Prometheus accepted it
                if not metric_names(expr) & PENDING_METRICS:  # issue 15's: not in this build
                    self.assertNotEqual(result, [], "panel %r: no data for %s" % (panel, expr))


if __name__ == "__main__":
    unittest.main()
