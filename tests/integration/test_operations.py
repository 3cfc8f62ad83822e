"""Acceptance of issue #5, operator controls, with the real binary (SPEC sections 2, 4, 7, 8):
group policy (quorum, impact, shared scope, per-group HTTP codes), drain and resume, admin
authentication and detail visibility, reload by SIGHUP and POST /admin/reload, /metrics (checked by
promtool), SIGTERM drain, and JSON logs with transitions logged once.

Checks are fixture_file checks (faults.so) whose result a test sets by rewriting a file, so every
status change here is caused from outside and observed by polling, never by sleeping."""

import json
import os
import re
import signal
import subprocess
import time
import unittest

from vitals_harness import RFC3339, VitalsTestCase, content_type, daemon_env, file_check, write_status_file

PROMTOOL = "/usr/bin/promtool"
TOKEN = "op-secret-7f3a9c"
DEFAULT_CODES = {"pass": 200, "warn": 200, "fail": 503}  # policy.http_status's default (SPEC 2)

# Route templates /metrics may use as path labels (and nothing else: never a raw request path).
ROUTE_TEMPLATES = {"/health", "/health/{group}", "/health/checks/{name}", "/health/history", "/metrics",
                   "/admin", "/admin/drain", "/admin/resume", "/admin/reload", "other"}

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def bearer(token):
    return {"Authorization": "Bearer " + token}


def parse_metrics(text):
    """Exposition format 0.0.4 → {(name, frozenset(labels.items())): float}. Fails on a line it cannot
    parse or on a series given twice."""
    samples = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError("unparseable metrics line: %r" % line)
        name, labels_text, value = m.groups()
        labels = dict(LABEL_RE.findall(labels_text or ""))
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise AssertionError("series given twice: %r" % line)
        samples[key] = float(value)
    return samples


def series(samples, name, **labels):
    """Every (labels dict, value) of metric `name` whose labels include `labels`."""
    out = []
    for (n, lbls), v in samples.items():
        d = dict(lbls)
        if n == name and all(d.get(k) == val for k, val in labels.items()):
            out.append((d, v))
    return out


def value(samples, name, **labels):
    """The value of the one series `name{labels}` (exactly these labels)."""
    key = (name, frozenset(labels.items()))
    if key not in samples:
        raise AssertionError("no series %s%r in /metrics" % (name, labels))
    return samples[key]


class OpsTestCase(VitalsTestCase):
    def fixture_config(self, checks, **sections):
        cfg = {"plugins": self.plugins_with_fixtures(), "checks": checks}
        cfg.update(sections)
        return cfg

    def check_detail(self, d, name, headers=None):
        """GET /health/checks/<name> (with `headers`): asserts the code is the default one for the
        status the body gives (pass, warn: 200; fail: 503), returns the parsed body."""
        r = d.get("/health/checks/" + name, headers=headers)
        body = r.json()
        self.assertEqual(r.status, DEFAULT_CODES[body.get("status")], r)
        return body

    def wait_status(self, d, path, status, timeout=10.0, output=None, headers=None):
        """Polls `path` until its body's status is `status` (and its output contains `output`)."""
        def probe():
            r = d.get(path, headers=headers)
            body = r.json()
            if body.get("status") != status:
                return None
            if output is not None and output not in body.get("output", ""):
                return None
            return r
        what = "%s to report %s" % (path, status) + (" with output %r" % output if output else "")
        return self.wait_for(probe, timeout, what)

    def metrics(self, d):
        r = d.get("/metrics")
        self.assertEqual(r.status, 200, r)
        return parse_metrics(r.body.decode("utf-8"))

    def assertPromtoolClean(self, text):
        """`promtool check metrics` accepts the exposition `text` and reports nothing at all."""
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, "promtool check metrics: %s%s" % (p.stdout, p.stderr))
        self.assertEqual((p.stdout + p.stderr).strip(), "", "promtool reported problems")

    def post(self, d, path, headers=None):
        return d.get(path, method="POST", headers=headers, body=b"")

    def assert_status(self, response, code, status):
        self.assertEqual((response.status, response.json().get("status")), (code, status), response)


# --- groups and policy (SPEC 4) ------------------------------------------------------------------

class GroupPolicyTest(OpsTestCase):
    def test_quorum_warns_then_fails_and_each_group_has_its_endpoint(self):
        files = {n: self.status_file(n, "pass", n + " ok") for n in ("api-a", "api-b", "api-c", "ws")}
        d = self.start_daemon(self.fixture_config(
            [file_check(n, p) for n, p in sorted(files.items())],
            groups={"upstreams": {"checks": ["api-a", "api-b", "api-c"], "quorum": 2},
                    "alb": {"checks": ["ws"]}}))
        for path in ("/health", "/health/upstreams", "/health/alb"):
            r = self.wait_status(d, path, "pass")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(content_type(r), "application/health+json", r)
        self.assertEqual(sorted(k.split(":")[0] for k in d.get("/health/upstreams").json()["checks"]),
                         ["api-a", "api-b", "api-c"])
        self.assertEqual([k.split(":")[0] for k in d.get("/health/alb").json()["checks"]], ["ws"])
        self.assertProblem(d.get("/health/no-such-group"), 404)

        # One member of three failing: quorum 2 still met → warn, HTTP 200, naming the rule.
        write_status_file(files["api-c"], "fail", "api-c down")
        r = self.wait_status(d, "/health/upstreams", "warn")
        self.assertEqual(r.status, 200, r)
        output = r.json()["output"]
        self.assertIn("quorum 2 of 2", output, r)
        self.assertIn("api-c", output, r)
        self.assertNotIn("api-a", output, r)
        self.assert_status(d.get("/health/alb"), 200, "pass")  # another group is unaffected

        # Two of three failing: quorum unmet → fail, 503.
        write_status_file(files["api-b"], "fail", "api-b down")
        r = self.wait_status(d, "/health/upstreams", "fail")
        self.assertEqual(r.status, 503, r)
        self.assertIn("quorum 1 of 2", r.json()["output"], r)
        self.assertEqual(d.get("/health/upstreams", method="HEAD").status, 503)
        self.assert_status(d.get("/health/alb"), 200, "pass")

        write_status_file(files["api-b"], "pass", "api-b ok")
        write_status_file(files["api-c"], "pass", "api-c ok")
        self.assertEqual(self.wait_status(d, "/health/upstreams", "pass").status, 200)

    def test_degraded_and_shared_failures_warn(self):
        crit = self.status_file("crit", "pass")
        deg = self.status_file("deg", "pass")
        shr = self.status_file("shr", "pass")
        d = self.start_daemon(self.fixture_config([file_check("crit", crit),
                                                   file_check("deg", deg, impact="degraded"),
                                                   file_check("shr", shr, scope="shared")]))
        self.wait_status(d, "/health", "pass")

        write_status_file(deg, "fail", "deg broke")
        r = self.wait_status(d, "/health", "warn")
        self.assertEqual(r.status, 200, r)
        self.assertIn("deg", r.json()["output"], r)

        write_status_file(deg, "pass")
        self.wait_status(d, "/health", "pass")
        write_status_file(shr, "fail", "central redis down")
        r = self.wait_status(d, "/health", "warn", output="shr")
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("deg", r.json()["output"], r)
        self.assertIn("shared", r.json()["output"], r)

        # A critical local check still fails the group next to a shared failure.
        write_status_file(crit, "fail", "crit broke")
        r = self.wait_status(d, "/health", "fail")
        self.assertEqual(r.status, 503, r)

    def test_shared_fail_policy_fail(self):
        shr = self.status_file("shr", "fail", "central redis down")
        ok = self.status_file("ok", "pass")
        d = self.start_daemon(self.fixture_config([file_check("ok", ok), file_check("shr", shr, scope="shared")],
                                                  policy={"shared_fail": "fail"}))
        self.wait_check(d, "shr", lambda b: b["effectiveStatus"] == "fail")
        r = self.wait_status(d, "/health", "fail", output="shr")
        self.assertEqual(r.status, 503, r)
        write_status_file(shr, "pass")
        self.assertEqual(self.wait_status(d, "/health", "pass").status, 200)

    def test_http_status_global_and_per_group(self):
        a = self.status_file("a", "pass")
        d = self.start_daemon(self.fixture_config(
            [file_check("a", a)],
            policy={"http_status": {"warn": 299, "fail": 500}},
            groups={"alb": {"checks": ["a"], "http_status": {"warn": 429}},
                    "plain": {"checks": ["a"]}}))
        for path in ("/health", "/health/alb", "/health/plain"):
            self.assertEqual(self.wait_status(d, path, "pass").status, 200)

        write_status_file(a, "warn", "slow")
        self.wait_status(d, "/health", "warn")
        self.assert_status(d.get("/health"), 299, "warn")        # global policy.http_status
        self.assert_status(d.get("/health/plain"), 299, "warn")  # a group without its own map
        self.assert_status(d.get("/health/alb"), 429, "warn")    # the group's own map
        self.assertEqual(d.get("/health/alb", method="HEAD").status, 429)

        write_status_file(a, "fail", "down")
        self.wait_status(d, "/health", "fail")
        self.assert_status(d.get("/health"), 500, "fail")
        self.assert_status(d.get("/health/plain"), 500, "fail")
        # Keys the group leaves out come from policy.http_status.
        self.assert_status(d.get("/health/alb"), 500, "fail")

    def test_reserved_group_names_rejected(self):
        for reserved in ("history", "checks"):
            with self.subTest(group=reserved):
                cfg = self.write_config(self.fixture_config(
                    [file_check("a", self.status_file("a"))],
                    groups={reserved: {"checks": ["a"]}}), name="reserved-%s.json" % reserved)
                p = self.run_vitals(["validate", "--config", cfg])
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn("groups." + reserved, p.stderr)
                self.assertIn("reserved", p.stderr)


# --- drain (SPEC 4) ------------------------------------------------------------------------------

class DrainTest(OpsTestCase):
    def test_admin_drain_and_resume(self):
        a = self.status_file("a", "pass")
        d = self.start_daemon(self.fixture_config(
            [file_check("a", a)],
            groups={"alb": {"checks": ["a"]}, "live": {"checks": ["a"], "drain": False}}))
        for path in ("/health", "/health/alb", "/health/live"):
            self.wait_status(d, path, "pass")

        r = self.post(d, "/admin/drain")
        self.assertEqual(r.status, 200, r)
        for path in ("/health", "/health/alb"):
            r = self.wait_status(d, path, "fail", timeout=5)
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json().get("output"), "draining", r)
            self.assertEqual(d.get(path, method="HEAD").status, 503)
        self.assert_status(d.get("/health/live"), 200, "pass")
        self.assertEqual(value(self.metrics(d), "vitals_draining"), 1)
        # Checks keep running and their own status is theirs, not "draining".
        self.assertEqual(self.check_detail(d, "a")["status"], "pass")
        # Draining twice is harmless.
        self.assertEqual(self.post(d, "/admin/drain").status, 200)
        self.assert_status(d.get("/health"), 503, "fail")

        r = self.post(d, "/admin/resume")
        self.assertEqual(r.status, 200, r)
        for path in ("/health", "/health/alb", "/health/live"):
            self.assertEqual(self.wait_status(d, path, "pass", timeout=5).status, 200)
        self.assertEqual(value(self.metrics(d), "vitals_draining"), 0)

        # A real failure during a drain is still reported by a drain:false group.
        self.post(d, "/admin/drain")
        write_status_file(a, "fail", "a down")
        r = self.wait_status(d, "/health/live", "fail")
        self.assertEqual(r.status, 503)
        self.assertRegex(r.json()["output"], r"\ba: fail\b")
        self.assertEqual(d.get("/health").json().get("output"), "draining")

    def test_admin_endpoints_need_post(self):
        d = self.start_daemon(self.fixture_config([file_check("a", self.status_file("a"))]))
        self.wait_status(d, "/health", "pass")
        for path in ("/admin/drain", "/admin/resume", "/admin/reload"):
            for method in ("GET", "HEAD", "PUT"):
                with self.subTest(path=path, method=method):
                    r = d.get(path, method=method)
                    self.assertEqual(r.status, 405, r)
                    if method != "HEAD":
                        self.assertProblem(r, 405)
                    allow = [m.strip().upper() for m in r.headers.get("Allow", "").split(",")]
                    self.assertEqual(allow, ["POST"], r.headers)
        # None of those drained anything.
        self.assert_status(d.get("/health"), 200, "pass")
        self.assertEqual(value(self.metrics(d), "vitals_draining"), 0)


# --- admin authentication and details (SPEC 2, 7) ------------------------------------------------

class AdminAuthTest(OpsTestCase):
    def assert_unauthorized(self, r):
        body = self.assertProblem(r, 401)
        self.assertTrue(r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers)
        self.assertNotIn(TOKEN, r.body.decode("utf-8", "replace"))
        return body

    def test_token_from_default_env(self):
        a = self.status_file("a", "pass")
        far = self.netns_peer()  # a client that is not loopback
        # 0.0.0.0: one listener reached from 127.0.0.1 and from the namespace (at far.host_addr).
        d = self.start_daemon(self.fixture_config([file_check("a", a)], server={"address": "0.0.0.0"}),
                              env=daemon_env(extra={"VITALS_ADMIN_TOKEN": TOKEN}))
        self.wait_status(d, "/health", "pass")

        self.assert_unauthorized(self.post(d, "/admin/drain"))
        self.assert_unauthorized(self.post(d, "/admin/drain", headers=bearer("wrong-token")))
        self.assert_unauthorized(self.post(d, "/admin/drain", headers=bearer(TOKEN + "x")))
        self.assert_unauthorized(self.post(d, "/admin/drain", headers={"Authorization": "Basic " + TOKEN}))
        self.assert_unauthorized(self.post(d, "/admin/reload"))
        # Nothing was drained by the refused requests.
        self.assert_status(d.get("/health"), 200, "pass")

        r = self.post(d, "/admin/drain", headers=bearer(TOKEN))
        self.assertEqual(r.status, 200, r)
        r = self.wait_status(d, "/health", "fail", timeout=5, output="draining")
        self.assertEqual(r.status, 503)
        self.assert_unauthorized(self.post(d, "/admin/resume"))
        self.assertEqual(self.post(d, "/admin/resume", headers=bearer(TOKEN)).status, 200)
        self.wait_status(d, "/health", "pass", timeout=5)

        # With a token configured, the token (not the address) decides, also for non-loopback clients.
        self.assert_unauthorized(far.request(d.port, "/admin/drain", method="POST", body=b""))
        r = far.request(d.port, "/admin/drain", method="POST", body=b"", headers=bearer(TOKEN))
        self.assertEqual(r.status, 200, r)
        self.wait_status(d, "/health", "fail", timeout=5, output="draining")
        r = far.request(d.port, "/admin/resume", method="POST", body=b"", headers=bearer(TOKEN))
        self.assertEqual(r.status, 200, r)
        self.wait_status(d, "/health", "pass", timeout=5)
        self.assertNotIn(TOKEN, d.log())

    def test_bearer_scheme_is_case_insensitive(self):
        # RFC 9110 section 11.1: the auth-scheme is a case-insensitive token; RFC 6750 section 2.1:
        # "Bearer" 1*SP b64token.
        a = self.status_file("a", "pass")
        d = self.start_daemon(self.fixture_config([file_check("a", a)]),
                              env=daemon_env(extra={"VITALS_ADMIN_TOKEN": TOKEN}))
        self.wait_status(d, "/health", "pass")
        for scheme in ("bearer ", "BEARER ", "Bearer  "):
            with self.subTest(authorization=scheme + "<token>"):
                r = self.post(d, "/admin/resume", headers={"Authorization": scheme + TOKEN})
                self.assertEqual(r.status, 200, r)

    def test_custom_admin_token_env(self):
        a = self.status_file("a", "pass")
        d = self.start_daemon(self.fixture_config([file_check("a", a)],
                                                  server={"address": "127.0.0.1", "admin_token_env": "OPS_TOKEN"}),
                              env=daemon_env(extra={"OPS_TOKEN": TOKEN, "VITALS_ADMIN_TOKEN": "not-this-one"}))
        self.wait_status(d, "/health", "pass")
        self.assert_unauthorized(self.post(d, "/admin/drain"))
        self.assert_unauthorized(self.post(d, "/admin/drain", headers=bearer("not-this-one")))
        self.assertEqual(self.post(d, "/admin/drain", headers=bearer(TOKEN)).status, 200)
        self.wait_status(d, "/health", "fail", timeout=5, output="draining")

    def test_no_token_allows_loopback_only(self):
        a = self.status_file("a", "pass")
        far = self.netns_peer()  # a client that is not loopback
        # 0.0.0.0: one listener reached from 127.0.0.1 and from the namespace (at far.host_addr).
        d = self.start_daemon(self.fixture_config([file_check("a", a)], server={"address": "0.0.0.0"}))
        self.wait_status(d, "/health", "pass")
        r = self.post(d, "/admin/drain")
        self.assertEqual(r.status, 200, r)
        self.wait_status(d, "/health", "fail", timeout=5, output="draining")
        self.assertEqual(self.post(d, "/admin/resume").status, 200)
        self.wait_status(d, "/health", "pass", timeout=5)

        self.assertProblem(far.request(d.port, "/admin/drain", method="POST", body=b""), 403)
        # Even a bearer token does not help when none is configured: still 403 (there is no token it
        # could be invalid against, so not 401).
        r = far.request(d.port, "/admin/drain", method="POST", body=b"", headers=bearer("anything"))
        self.assertProblem(r, 403)
        self.assertNotIn("WWW-Authenticate", r.headers)
        self.assert_status(d.get("/health"), 200, "pass")

    def test_details_token(self):
        a = self.status_file("a", "pass")
        d = self.start_daemon(self.fixture_config([file_check("a", a)],
                                                  server={"address": "127.0.0.1", "details": "token"}),
                              env=daemon_env(extra={"VITALS_ADMIN_TOKEN": TOKEN}))
        r = self.wait_status(d, "/health", "pass", headers=bearer(TOKEN))
        full = r.json()
        self.assertIn("checks", full, r)
        self.assertIn("a", [k.split(":")[0] for k in full["checks"]])

        for headers in (None, bearer("wrong-token"), {"Authorization": TOKEN}):
            with self.subTest(headers=headers):
                brief = d.get("/health", headers=headers)
                self.assertEqual(brief.status, 200, brief)
                self.assertEqual(content_type(brief), "application/health+json")
                self.assertEqual(brief.json(), {"status": "pass"})
                detail = d.get("/health/checks/a", headers=headers)
                self.assertEqual(detail.json(), {"status": "pass"})

        detail = self.check_detail(d, "a", headers=bearer(TOKEN))
        self.assertEqual(detail["name"], "a", detail)
        self.assertIn("counters", detail)

        write_status_file(a, "fail", "a down")
        r = self.wait_status(d, "/health", "fail")
        self.assertEqual((r.status, r.json()), (503, {"status": "fail"}))
        full = d.get("/health", headers=bearer(TOKEN)).json()
        self.assertIn("a", full.get("output", ""), full)


# --- reload (SPEC 7) -----------------------------------------------------------------------------

class ReloadTest(OpsTestCase):
    def running_config(self, d):
        """The configuration file the daemon was started with, as a dict to edit."""
        with open(d.config_path) as f:
            return json.load(f)

    def reload_counts(self, d):
        m = self.metrics(d)
        return (value(m, "vitals_config_reloads_total", result="success"),
                value(m, "vitals_config_reloads_total", result="failure"),
                value(m, "vitals_config_last_reload_successful"))

    def test_sighup_with_broken_config_keeps_running_configuration(self):
        a = self.status_file("a", "pass", "a ok")
        b = self.status_file("b", "warn", "b slow")
        cfg = self.fixture_config([file_check("a", a), file_check("b", b)])
        d = self.start_daemon(cfg)
        base = self.running_config(d)
        r = self.wait_status(d, "/health", "warn")
        before_checks = sorted(k.split(":")[0] for k in r.json()["checks"])
        self.assertEqual(before_checks, ["a", "b"])
        runs = self.check_detail(d, "a")["counters"]["runs"]

        # 1. Not JSON at all.
        with open(d.config_path, "w") as f:
            f.write('{"checks": [ {"name": "a", ')
        d.signal(signal.SIGHUP)
        self.wait_for(lambda: self.reload_counts(d)[1] == 1, 10, "a failed reload to be counted")
        self.assertTrue(d.alive(), d.log())
        self.assertRegex(d.log(), r"(?i)reload.*fail")
        self.assertEqual(self.reload_counts(d), (0, 1, 0))

        # 2. Valid JSON with an unknown option: the error names its path.
        broken = json.loads(json.dumps(base))
        broken["checks"][1]["options"]["prot"] = 1
        broken["checks"].append(file_check("c", a))
        self.write_config(broken, os.path.basename(d.config_path))
        d.signal(signal.SIGHUP)
        self.wait_for(lambda: self.reload_counts(d)[1] == 2, 10, "the second failed reload to be counted")
        self.wait_for(lambda: "checks[1].options.prot" in d.log(), 5, "the log to name checks[1].options.prot")

        # The old configuration still serves: same checks, same status, and they keep running.
        self.assertTrue(d.alive(), d.log())
        r = d.get("/health")
        self.assert_status(r, 200, "warn")
        self.assertEqual(sorted(k.split(":")[0] for k in r.json()["checks"]), before_checks)
        self.assertProblem(d.get("/health/checks/c"), 404)
        self.wait_check(d, "a", lambda body: body["counters"]["runs"] >= runs + 3,
                        message="check a to keep running after failed reloads")
        self.assertEqual(self.check_detail(d, "b")["status"], "warn")

    def test_admin_reload_broken_then_fixed(self):
        a = self.status_file("a", "pass")
        cfg = self.fixture_config([file_check("a", a)])
        d = self.start_daemon(cfg)
        self.wait_status(d, "/health", "pass")
        self.assertEqual(self.reload_counts(d), (0, 0, 1))

        broken = self.running_config(d)
        broken["checks"].append(file_check("b", a, options={"path": a, "prot": 1}))
        self.write_config(broken, os.path.basename(d.config_path))
        r = self.post(d, "/admin/reload")
        body = self.assertProblem(r, 422)
        self.assertIn("checks[1].options.prot", body["detail"], body)
        self.assertEqual(self.reload_counts(d), (0, 1, 0))
        self.assertProblem(d.get("/health/checks/b"), 404)
        self.assert_status(d.get("/health"), 200, "pass")

        # A check its plugin refuses to create is caught before anything is swapped, too.
        refused = self.running_config(d)
        refused["checks"][1] = {"name": "b", "type": "fixture_create_fails", "options": {"reason": "not today"}}
        self.write_config(refused, os.path.basename(d.config_path))
        body = self.assertProblem(self.post(d, "/admin/reload"), 422)
        self.assertIn("checks[1]", body["detail"], body)
        self.assertIn("not today", body["detail"], body)
        self.assertEqual(self.reload_counts(d), (0, 2, 0))
        self.assertProblem(d.get("/health/checks/b"), 404)

        fixed = json.loads(json.dumps(broken))
        fixed["checks"][1]["options"] = {"path": a}
        self.write_config(fixed, os.path.basename(d.config_path))
        r = self.post(d, "/admin/reload")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.reload_counts(d), (1, 2, 1))
        self.wait_check(d, "b", lambda body: body["counters"]["runs"] >= 1, message="the new check b to run")

    def test_sighup_applies_new_configuration_keeping_unchanged_checks(self):
        keep = self.status_file("keep", "pass")
        change = self.status_file("change", "pass")
        gone = self.status_file("gone", "pass")
        new = self.status_file("new", "warn", "new is slow")
        cfg = self.fixture_config([file_check("keep", keep), file_check("change", change),
                                   file_check("gone", gone)],
                                  groups={"alb": {"checks": ["keep", "gone"]}})
        d = self.start_daemon(cfg)
        self.wait_status(d, "/health", "pass")
        keep_before = self.wait_check(d, "keep", lambda b: b["counters"]["runs"] >= 8)["counters"]["runs"]
        change_before = self.wait_check(d, "change", lambda b: b["counters"]["runs"] >= 8)["counters"]["runs"]

        nxt = self.running_config(d)
        nxt["checks"] = [file_check("keep", keep), file_check("change", change, interval="300ms"),
                         file_check("new", new)]
        nxt["groups"] = {"alb": {"checks": ["keep", "new"]}}
        self.write_config(nxt, os.path.basename(d.config_path))
        d.signal(signal.SIGHUP)

        new_body = self.wait_check(d, "new", lambda b: b["counters"]["runs"] >= 1, message="the new check to run")
        self.assertEqual(new_body["status"], "warn", new_body)
        change_after = self.check_detail(d, "change")
        keep_after = self.check_detail(d, "keep")
        self.assertProblem(d.get("/health/checks/gone"), 404)
        # Unchanged: the same state, counters carry on.
        self.assertGreaterEqual(keep_after["counters"]["runs"], keep_before, keep_after)
        self.assertEqual(keep_after["effectiveStatus"], "pass")
        # Changed: a fresh check with the new settings.
        self.assertLess(change_after["counters"]["runs"], change_before, change_after)
        self.assertEqual(change_after["settings"]["interval"], "300ms", change_after)

        r = self.wait_status(d, "/health", "warn")
        self.assertEqual(sorted(k.split(":")[0] for k in r.json()["checks"]), ["change", "keep", "new"])
        alb = self.wait_status(d, "/health/alb", "warn")
        self.assertEqual(sorted(k.split(":")[0] for k in alb.json()["checks"]), ["keep", "new"])
        m = self.metrics(d)
        self.assertEqual(value(m, "vitals_config_reloads_total", result="success"), 1)
        self.assertEqual(series(m, "vitals_check_status", check="gone"), [])
        self.wait_check(d, "keep", lambda b: b["counters"]["runs"] >= keep_after["counters"]["runs"] + 2,
                        message="keep to carry on running")


# --- metrics (SPEC 8) ----------------------------------------------------------------------------

class MetricsTest(OpsTestCase):
    def test_metrics_exposition(self):
        a = self.status_file("a", "pass")
        b = self.status_file("b", "warn", "b slow")
        c = self.status_file("c", "fail", "c down")
        d = self.start_daemon(self.fixture_config(
            [file_check("a", a), file_check("b", b), file_check("c", c, impact="ignore"),
             {"name": "slow", "type": "fixture_sleep", "interval": "300ms", "timeout": "250ms",
              "options": {"ms": "120ms"}}],
            groups={"alb": {"checks": ["a"]}}))
        self.wait_status(d, "/health", "warn")
        for n in ("a", "b", "c", "slow"):
            self.wait_check(d, n, lambda body: body["counters"]["runs"] >= 2)
        version = d.get("/health").json()["version"]

        for _ in range(3):
            self.assertEqual(d.get("/health").status, 200)
        self.assertEqual(d.get("/health/checks/a").status, 200)
        self.assertEqual(d.get("/health/checks/x-not-a-check").status, 404)
        self.assertEqual(d.get("/nope").status, 404)
        self.assertEqual(d.get("/health/alb").status, 200)

        r = d.get("/metrics")
        self.assertEqual(r.status, 200, r)
        ctype = [p.strip() for p in r.headers.get("Content-Type", "").split(";")]
        self.assertEqual(ctype[0], "text/plain", r.headers)
        self.assertIn("version=0.0.4", ctype, r.headers)
        text = r.body.decode("utf-8")

        self.assertPromtoolClean(text)

        m = parse_metrics(text)
        # Stateset: exactly one 1 per check, on its current status.
        for check, expected in (("a", "pass"), ("b", "warn"), ("c", "fail")):
            states = {lbl["status"]: v for lbl, v in series(m, "vitals_check_status", check=check)}
            self.assertEqual(set(states), {"pass", "warn", "fail"}, states)
            self.assertEqual([s for s, v in states.items() if v == 1], [expected], states)
            self.assertEqual(sum(states.values()), 1, states)
            # Histogram by check.
            buckets = series(m, "vitals_check_duration_seconds_bucket", check=check)
            self.assertGreaterEqual(len(buckets), 2, buckets)
            inf = value(m, "vitals_check_duration_seconds_bucket", check=check, le="+Inf")
            count = value(m, "vitals_check_duration_seconds_count", check=check)
            self.assertEqual(inf, count)
            self.assertGreaterEqual(count, 2)
            value(m, "vitals_check_duration_seconds_sum", check=check)
            ordered = sorted((float(lbl["le"]), v) for lbl, v in buckets)
            self.assertEqual([v for _, v in ordered], sorted(v for _, v in ordered), "buckets not cumulative")
            runs = {lbl["result"]: v for lbl, v in series(m, "vitals_check_runs_total", check=check)}
            self.assertGreaterEqual(runs.get(expected, 0), 2, runs)
        self.assertEqual(series(m, "vitals_check_status", check="x-not-a-check"), [])
        # Durations are in seconds: runs that sleep 120 ms land above the 0.1 bucket.
        slow_count = value(m, "vitals_check_duration_seconds_count", check="slow")
        slow_sum = value(m, "vitals_check_duration_seconds_sum", check="slow")
        self.assertGreaterEqual(slow_count, 2)
        self.assertTrue(0.1 <= slow_sum / slow_count < 5, "mean duration %.4f s for 120 ms runs" % (slow_sum / slow_count))
        self.assertEqual(value(m, "vitals_check_duration_seconds_bucket", check="slow", le="0.1"), 0)

        for group, expected in (("default", "warn"), ("alb", "pass")):
            states = {lbl["status"]: v for lbl, v in series(m, "vitals_group_status", group=group)}
            self.assertEqual([s for s, v in states.items() if v == 1], [expected], states)
        value(m, "vitals_history_write_errors_total")
        self.assertEqual(value(m, "vitals_build_info", version=version), 1)

        # Request counters by route template, never by raw path.
        paths = {lbl["path"] for lbl, _ in series(m, "vitals_http_requests_total")}
        self.assertLessEqual(paths, ROUTE_TEMPLATES, paths)
        self.assertIn("/health/checks/{name}", paths)
        self.assertIn("other", paths)
        self.assertNotIn("x-not-a-check", text)
        self.assertNotIn("/nope", text)
        self.assertGreaterEqual(value(m, "vitals_http_requests_total", path="/health/checks/{name}", code="404"), 1)
        self.assertGreaterEqual(value(m, "vitals_http_requests_total", path="other", code="404"), 1)
        health_200 = value(m, "vitals_http_requests_total", path="/health", code="200")
        self.assertGreaterEqual(health_200, 3)

        for _ in range(4):
            d.get("/health")
        later = self.metrics(d)
        self.assertGreaterEqual(value(later, "vitals_http_requests_total", path="/health", code="200"), health_200 + 4)
        self.assertGreater(value(later, "vitals_check_runs_total", check="a", result="pass"), 0)

        head = d.get("/metrics", method="HEAD")
        self.assertEqual((head.status, head.body), (200, b""))
        self.assertProblem(d.get("/metrics", method="POST", body=b""), 405)


# --- SIGTERM drain (SPEC 4) ----------------------------------------------------------------------

class ShutdownDrainTest(OpsTestCase):
    def drain_config(self, drain):
        a = self.status_file("a", "pass")
        # The load balancer probes /health/alb, which nobody here does: the drain is probe-aware
        # (SPEC 9, test_lb_view.py) and, with no prober of the balancer's path seen, lasts all of
        # shutdown.drain while these tests poll /health.
        return self.fixture_config([file_check("a", a)], shutdown={"drain": drain},
                                   groups={"live": {"checks": ["a"], "drain": False}, "alb": {"checks": ["a"]}},
                                   load_balancer={"path": "/health/alb"})

    def test_sigterm_drains_then_exits_zero(self):
        drain = 2.0
        d = self.start_daemon(self.drain_config("2s"))
        self.wait_status(d, "/health", "pass")
        self.wait_status(d, "/health/live", "pass")

        sent = time.monotonic()
        d.signal(signal.SIGTERM)
        r = self.wait_status(d, "/health", "fail", timeout=drain, output="draining")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json()["output"], "draining")
        self.assert_status(d.get("/health/live"), 200, "pass")
        # Still serving, still draining, for most of the drain period.
        while time.monotonic() - sent < drain - 0.7:
            r = d.get("/health")
            self.assertEqual((r.status, r.json().get("output")), (503, "draining"), r)
            self.assertEqual(d.get("/health/live").status, 200)
            time.sleep(0.1)

        rc = d.proc.wait(drain + 30)  # a hang guard
        took = time.monotonic() - sent
        self.assertEqual(rc, 0, d.log())
        self.assertGreaterEqual(took, drain - 0.5, "exited %.2f s after SIGTERM, before the drain ended" % took)
        self.assertNotIn("second signal", d.log())  # the drain ended it, not a signal

    def test_resume_does_not_cancel_shutdown_drain(self):
        # POST /admin/resume ends a manual drain (SPEC 4); a process that is going away after SIGTERM
        # must keep failing its drainable groups until it exits, or the load balancer sends it new
        # traffic moments before it stops.
        d = self.start_daemon(self.drain_config("3s"))
        self.wait_status(d, "/health", "pass")
        sent = time.monotonic()
        d.signal(signal.SIGTERM)
        self.wait_status(d, "/health", "fail", timeout=2, output="draining")
        # /health reports draining only after the SIGTERM drain began, so the resume is refused.
        body = self.assertProblem(self.post(d, "/admin/resume"), 409)
        self.assertIn("a SIGTERM drain cannot be resumed", body["detail"], body)
        seen = []
        while d.alive() and time.monotonic() - sent < 2.0:
            try:
                r = d.get("/health", timeout=2)
            except OSError:
                break
            seen.append((r.status, r.json().get("status"), r.json().get("output")))
            time.sleep(0.1)
        self.assertTrue(seen)
        self.assertEqual(set(seen), {(503, "fail", "draining")},
                         "/health during the SIGTERM drain after POST /admin/resume: %s" % sorted(set(seen)))
        self.assertEqual(d.proc.wait(10), 0, d.log())

    def test_second_sigterm_exits_at_once(self):
        # A drain of an hour: an exit within the test can only come from the second signal.
        d = self.start_daemon(self.drain_config("1h"))
        self.wait_status(d, "/health", "pass")
        d.signal(signal.SIGTERM)
        self.wait_status(d, "/health", "fail", timeout=5, output="draining")
        d.signal(signal.SIGTERM)
        rc = d.proc.wait(30)  # a hang guard
        self.assertEqual(rc, 0, d.log())
        log = d.log()
        self.assertIn("SIGTERM: draining for 1h", log)
        self.assertIn("second signal: exiting now", log)
        self.assertIn("stopped", log)


# --- logs (SPEC 7) -------------------------------------------------------------------------------

class JsonLogTest(OpsTestCase):
    def test_json_lines_and_transitions_logged_once(self):
        flip = self.status_file("flip", "pass", "fine")
        d = self.start_daemon(self.fixture_config([file_check("flip", flip, interval="100ms", timeout="50ms")],
                                                  log={"format": "json", "level": "info"}))
        self.wait_check(d, "flip", lambda b: b["effectiveStatus"] == "pass" and b["counters"]["runs"] >= 2)

        def hold(status, output_bytes):
            """Makes flip return `status` and waits until it has, several runs in a row."""
            with open(flip + ".tmp", "wb") as f:
                f.write(status.encode() + b" " + output_bytes + b"\n")
            os.replace(flip + ".tmp", flip)
            body = self.wait_check(d, "flip", lambda b: b["effectiveStatus"] == status and b["rawStatus"] == status,
                                   message="flip to become %s" % status)
            n = body["counters"]["runs"]
            self.wait_check(d, "flip", lambda b: b["counters"]["runs"] >= n + 3 and b["rawStatus"] == status,
                            message="several %s results in a row" % status)

        hold("warn", b"flip slow")
        # Quotes, a backslash and bytes that are not UTF-8 in the output must not break a JSON line.
        hold("fail", b'flip broke: "quoted" C:\\dir \xff\xfe end')
        hold("pass", b"fine again")
        # A reload adds other kinds of lines.
        self.assertEqual(self.post(d, "/admin/reload").status, 200)
        self.assertEqual(d.stop(), 0)

        with open(d.log_path, "rb") as f:
            raw = f.read()
        lines = [l for l in raw.split(b"\n") if l.strip()]
        self.assertGreater(len(lines), 3, lines)
        records = []
        for line in lines:
            try:
                rec = json.loads(line.decode("utf-8"))
            except ValueError as e:
                self.fail("stderr line is not one UTF-8 JSON object (%s): %r" % (e, line))
            self.assertIsInstance(rec, dict, line)
            for key in ("time", "level", "logger", "message"):
                self.assertIn(key, rec, line)
            self.assertRegex(rec["time"], RFC3339)
            self.assertIn(rec["level"], ("trace", "debug", "info", "warning", "error", "critical"), line)  # spdlog's names
            records.append(rec)

        transitions = [(r["level"], r["message"]) for r in records
                       if re.match(r"check flip\b", r["message"]) and "->" in r["message"]]
        expected = [("info", r"-> pass"), ("warning", r"pass -> warn"), ("warning", r"warn -> fail"),
                    ("info", r"fail -> pass")]
        self.assertEqual(len(transitions), len(expected), transitions)
        for (level, message), (want_level, pattern) in zip(transitions, expected):
            self.assertEqual(level, want_level, transitions)
            self.assertRegex(message, pattern, transitions)
        self.assertIn('"quoted" C:\\dir', transitions[2][1])

        group_down = [r for r in records if re.search(r"\bdefault\b.*pass -> warn", r["message"])]
        self.assertEqual(len(group_down), 1, group_down)
        group_fail = [r for r in records if re.search(r"\bdefault\b.*warn -> fail", r["message"])]
        self.assertEqual(len(group_fail), 1, group_fail)
        self.assertEqual(group_fail[0]["level"], "warning", group_fail)


if __name__ == "__main__":
    unittest.main()
