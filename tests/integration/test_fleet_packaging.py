"""The fleet's packaging (issue 17, items 4 and 5; SPEC section 11), checked without the engine:

  - packaging/grafana/vitals-fleet.json follows Grafana's dashboard schema for import (datasource
    as the variable ${DS_PROMETHEUS}, declared in __inputs), every query is valid PromQL (promtool
    parses it) and names only metrics a real vitals scrape exposes;
  - packaging/prometheus/vitals-rules.yml names only such metrics too;
  - packaging/kubernetes/vitals-sidecar.yaml parses (python3-yaml), its embedded config passes
    `vitals validate`, every probe and the ALB health check point at groups that config defines on
    its port, liveness does not depend on redis or drain, and the timing rules hold:
    terminationGracePeriodSeconds > deregistration delay >= shutdown.drain >= interval x threshold.

The dashboard's queries are also run on a real Prometheus, with data, by test_fleet.py."""

import json
import os
import re
import subprocess
import unittest

from test_operations import PROMTOOL, parse_metrics
from vitals_harness import PLUGIN_DIR, SOURCE_DIR, VitalsTestCase, daemon_env, file_check

DASHBOARD = os.path.join(SOURCE_DIR, "packaging", "grafana", "vitals-fleet.json")
RULES = os.path.join(SOURCE_DIR, "packaging", "prometheus", "vitals-rules.yml")
MANIFEST = os.path.join(SOURCE_DIR, "packaging", "kubernetes", "vitals-sidecar.yaml")

# Metrics of the load balancer's view (SPEC section 9, issue 15), built on another branch: allowed
# in the dashboard and rules although this build does not expose them yet. Empty this once issue 15
# is merged, and the scrape check covers them too.
PENDING_METRICS = set()
# Series Prometheus itself makes.
ENGINE_SERIES = {"up", "ALERTS"}
# Grafana's variables, as the test substitutes them (a Prometheus with 1 s scrapes, minutes of data).
GRAFANA_VARIABLES = {"$__rate_interval": "10s", "$__range": "5m", "$__interval": "2s",
                     "$job": "vitals", "$instance": ".*"}
METRIC_RE = re.compile(r"(?<![:\w])(vitals_[a-z0-9_]+)(?![:\w(])")


def dashboard_queries(path=DASHBOARD):
    """[(panel title, PromQL with Grafana's variables substituted)] of every panel target."""
    with open(path) as f:
        dash = json.load(f)
    out = []
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(var, value)
            out.append((panel["title"], expr))
    return out


def metric_names(text):
    return set(METRIC_RE.findall(text))


class FleetPackagingTest(VitalsTestCase):
    def scraped_names(self):
        """Every metric name (with histogram suffixes) in a real scrape of a daemon with a check of
        each kind of scope and a group."""
        a = self.path("a")
        with open(a, "w") as f:
            f.write("pass\n")
        d = self.start_daemon({
            "plugins": {"dirs": [PLUGIN_DIR, self.fixture_plugin_dir()]},
            "checks": [file_check("a", a), file_check("b", a, scope="shared")],
            "groups": {"alb": {"checks": ["a", "b"]}}})
        self.wait_for(lambda: d.get("/health/alb").json()["status"] == "pass" or None, 10.0, "alb to pass")
        r = d.get("/metrics")
        self.assertEqual(r.status, 200)
        text = r.body.decode()
        names = {name for name, _ in parse_metrics(text)}
        # A family declared with no series yet (vitals_probes_total before the first probe is
        # merged) is exposed all the same: its # TYPE line names it.
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, family, kind = line.split(" ", 3)
                names.add(family)
                if kind == "histogram":
                    names.update(family + suffix for suffix in ("_bucket", "_sum", "_count"))
        self.assertIn("vitals_check_info", names)
        return names

    def promtool_parses(self, exprs):
        """promtool check rules on a rule file holding each expression as a recording rule."""
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": "dashboard:query_%d" % i, "expr": e} for i, e in enumerate(exprs)]}]}
        path = self.path("dashboard-queries.yml")
        with open(path, "w") as f:
            json.dump(rules, f)  # JSON is YAML
        p = subprocess.run([PROMTOOL, "check", "rules", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("SUCCESS: %d rules found" % len(exprs), p.stdout)

    # --- Grafana --------------------------------------------------------------------------------

    def test_dashboard_follows_grafanas_schema_for_import(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        self.assertEqual([i["name"] for i in dash["__inputs"]], ["DS_PROMETHEUS"])
        self.assertEqual(dash["__inputs"][0]["pluginId"], "prometheus")
        self.assertIsInstance(dash["schemaVersion"], int)
        self.assertTrue(dash["uid"] and dash["title"])
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        self.assertEqual(variables["DS_PROMETHEUS"]["type"], "datasource")
        self.assertEqual(variables["DS_PROMETHEUS"]["query"], "prometheus")
        self.assertEqual({"job", "instance"} - set(variables), set())
        ids = [p["id"] for p in dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)), ids)
        titles = " | ".join(p["title"] for p in dash["panels"]).lower()
        for topic in ("group", "failing checks by target", "shared", "flapping", "probe", "latency"):
            self.assertIn(topic, titles)
        self.assertIn("heatmap", [p["type"] for p in dash["panels"]])
        ds = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        for p in dash["panels"]:
            with self.subTest(panel=p["title"]):
                self.assertEqual(set(p["gridPos"]), {"x", "y", "w", "h"})
                self.assertEqual(p["datasource"], ds)
                self.assertTrue(p["targets"])
                for t in p["targets"]:
                    self.assertEqual(t["datasource"], ds)
                    self.assertTrue(t["refId"] and t["expr"])
        for name in ("job", "instance"):
            self.assertEqual(variables[name]["datasource"], ds)

    def test_dashboard_queries_are_promql_naming_only_exposed_metrics(self):
        queries = dashboard_queries()
        self.assertGreaterEqual(len(queries), 10)
        for _, expr in queries:
            self.assertNotIn("$", expr, "a Grafana variable the test does not substitute")
        self.promtool_parses([e for _, e in queries])
        exposed = self.scraped_names()
        for panel, expr in queries:
            with self.subTest(panel=panel, expr=expr):
                self.assertEqual(metric_names(expr) - exposed - PENDING_METRICS, set())

    def test_rules_name_only_exposed_metrics(self):
        with open(RULES) as f:
            text = f.read()
        exprs = re.findall(r"^\s+expr: \|\n((?:\s{10}.*\n)+)|^\s+expr: (.+)$", text, re.M)
        exprs = [a or b for a, b in exprs]
        self.assertEqual(len(exprs), text.count("expr:"))
        names = set().union(*(metric_names(e) for e in exprs))
        self.assertGreaterEqual(len(names), 8, names)
        self.assertEqual(names - self.scraped_names() - PENDING_METRICS, set())

    # --- Kubernetes -----------------------------------------------------------------------------

    def manifest(self):
        import yaml  # Debian's python3-yaml (packaging/debian-packages.txt, test:)
        with open(MANIFEST) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        by_kind = {}
        for d in docs:
            self.assertIn("apiVersion", d)
            self.assertNotIn(d["kind"], by_kind, "one %s" % d["kind"])
            by_kind[d["kind"]] = d
        self.assertEqual(set(by_kind), {"ConfigMap", "Secret", "Deployment", "Service", "Ingress"})
        return by_kind

    def embedded_config(self, k):
        text = k["ConfigMap"]["data"]["vitals.json"]
        path = self.write_config(text, "k8s-vitals.json")
        p = self.run_vitals(["validate", "-c", path], env=daemon_env(extra={"REDIS_HOST": None}))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("warn", (p.stdout + p.stderr).lower(), p.stdout + p.stderr)
        # Whole-line // comments only (the config allows comments; json does not).
        return json.loads("\n".join(l for l in text.split("\n") if not l.strip().startswith("//")))

    @staticmethod
    def seconds(duration):
        m = re.fullmatch(r"(\d+)(ms|s|m)", duration)
        return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]

    def test_manifest_probes_point_at_groups_the_config_defines(self):
        k = self.manifest()
        cfg = self.embedded_config(k)
        groups = cfg["groups"]
        checks = {c["name"]: c for c in cfg["checks"]}
        pod = k["Deployment"]["spec"]["template"]["spec"]
        vitals = [c for c in pod["containers"] if c["name"] == "vitals"][0]
        ports = {p["name"]: p["containerPort"] for p in vitals["ports"]}
        self.assertEqual(ports["health"], cfg["server"]["port"])
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            with self.subTest(probe=probe):
                get = vitals[probe]["httpGet"]
                self.assertEqual(ports.get(get["port"], get["port"]), cfg["server"]["port"])
                m = re.fullmatch(r"/health/([A-Za-z0-9_.-]+)", get["path"])
                self.assertTrue(m, get["path"])
                self.assertIn(m.group(1), groups)
        live = groups[re.fullmatch(r"/health/(.+)", vitals["livenessProbe"]["httpGet"]["path"]).group(1)]
        self.assertIs(live.get("drain"), False, "a draining pod must not be restarted")
        for name in live["checks"]:
            self.assertNotEqual(checks[name]["type"], "redis", "liveness must never depend on redis")
            self.assertNotEqual(checks[name].get("scope"), "shared", "liveness must not depend on a shared dependency")
        startup = re.fullmatch(r"/health/(.+)", vitals["startupProbe"]["httpGet"]["path"]).group(1)
        self.assertIs(groups[startup].get("drain"), False)

        ann = k["Ingress"]["metadata"]["annotations"]
        p = "alb.ingress.kubernetes.io/"
        self.assertEqual(int(ann[p + "healthcheck-port"]), cfg["server"]["port"])
        hc_group = re.fullmatch(r"/health/(.+)", ann[p + "healthcheck-path"]).group(1)
        self.assertIn(hc_group, groups)
        self.assertEqual(ann[p + "target-type"], "ip")
        self.assertEqual(ann[p + "success-codes"], "200")  # pass and warn answer 200 (the default http_status)
        self.assertNotIn("http_status", cfg.get("policy", {}))
        # The readiness probe asks what the ALB asks.
        self.assertEqual(vitals["readinessProbe"]["httpGet"]["path"], ann[p + "healthcheck-path"])

        # Admin token from the Secret, named by server.admin_token_env.
        env = {e["name"]: e for e in vitals["env"]}
        token = env[cfg["server"]["admin_token_env"]]["valueFrom"]["secretKeyRef"]
        self.assertEqual(token["name"], k["Secret"]["metadata"]["name"])
        self.assertIn(token["key"], k["Secret"].get("stringData", k["Secret"].get("data", {})))

    def test_manifest_runs_non_root_read_only_with_history_on_a_volume(self):
        k = self.manifest()
        cfg = self.embedded_config(k)
        pod = k["Deployment"]["spec"]["template"]["spec"]
        self.assertIs(pod["securityContext"]["runAsNonRoot"], True)
        self.assertNotEqual(pod["securityContext"]["runAsUser"], 0)
        for c in pod["containers"]:
            with self.subTest(container=c["name"]):
                self.assertIs(c["securityContext"]["readOnlyRootFilesystem"], True)
                self.assertIs(c["securityContext"]["allowPrivilegeEscalation"], False)
        vitals = [c for c in pod["containers"] if c["name"] == "vitals"][0]
        volumes = {v["name"]: v for v in pod["volumes"]}
        writable = [m["mountPath"] for m in vitals["volumeMounts"] if not m.get("readOnly")]
        history_dir = os.path.dirname(cfg["history"]["path"])
        self.assertIn(history_dir, writable)
        config_mount = [m for m in vitals["volumeMounts"] if volumes[m["name"]].get("configMap")][0]
        self.assertEqual(volumes[config_mount["name"]]["configMap"]["name"], k["ConfigMap"]["metadata"]["name"])
        self.assertIn(os.path.join(config_mount["mountPath"], "vitals.json"), vitals["args"])

    def test_manifest_timings_grace_over_deregistration_over_drain_over_detection(self):
        k = self.manifest()
        cfg = self.embedded_config(k)
        ann = k["Ingress"]["metadata"]["annotations"]
        p = "alb.ingress.kubernetes.io/"
        interval = int(ann[p + "healthcheck-interval-seconds"])
        threshold = int(ann[p + "unhealthy-threshold-count"])
        timeout = int(ann[p + "healthcheck-timeout-seconds"])
        attrs = dict(a.split("=", 1) for a in ann[p + "target-group-attributes"].split(","))
        deregistration = int(attrs["deregistration_delay.timeout_seconds"])
        drain = self.seconds(cfg["shutdown"]["drain"])
        pod = k["Deployment"]["spec"]["template"]["spec"]
        grace = pod["terminationGracePeriodSeconds"]
        self.assertLess(timeout, interval)
        self.assertGreaterEqual(drain, interval * threshold, "the ALB must see the 503s before vitals exits")
        self.assertGreaterEqual(deregistration, drain)
        self.assertGreater(grace, deregistration, "the pod must outlive the deregistration delay")
        # The WebSocket server keeps serving through the deregistration delay, and not past the grace.
        ws = [c for c in pod["containers"] if c["name"] != "vitals"][0]
        sleep = ws["lifecycle"]["preStop"]["exec"]["command"]
        self.assertEqual(sleep[0], "sleep")
        self.assertGreaterEqual(int(sleep[1]), deregistration)
        self.assertLess(int(sleep[1]), grace)

    def test_manifest_load_balancer_section_is_the_ingress_health_check(self):
        # vitals models the ALB's decisions (SPEC section 9) from the same values the Ingress gives it.
        k = self.manifest()
        lb = self.embedded_config(k)["load_balancer"]
        ann = k["Ingress"]["metadata"]["annotations"]
        p = "alb.ingress.kubernetes.io/"
        self.assertEqual(self.seconds(lb["interval"]), int(ann[p + "healthcheck-interval-seconds"]))
        self.assertEqual(self.seconds(lb["timeout"]), int(ann[p + "healthcheck-timeout-seconds"]))
        self.assertEqual(lb["healthy_threshold"], int(ann[p + "healthy-threshold-count"]))
        self.assertEqual(lb["unhealthy_threshold"], int(ann[p + "unhealthy-threshold-count"]))
        self.assertEqual(lb["path"], ann[p + "healthcheck-path"])


if __name__ == "__main__":
    unittest.main()
