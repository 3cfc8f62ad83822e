"""Walking-skeleton acceptance of `vitals serve` (SPEC sections 2, 3, 4): the real binary on an
ephemeral port, real TCP peers, and fixture plugins whose results a test drives from outside."""

import re
import signal
import time
import unittest

from vitals_harness import RFC3339, VitalsTestCase, content_type, file_check, health_check_entry, write_status_file


def disk_check(name="root", interval="1s", timeout="500ms"):
    """A disk check on / that passes on any filesystem that is not completely full."""
    return {"name": name, "type": "disk", "interval": interval, "timeout": timeout,
            "options": {"path": "/", "warn_free_percent": 0, "fail_free_percent": 0,
                        "fail_free_inodes_percent": 0}}


def tcp_check(name, port, interval="1s", timeout="500ms"):
    return {"name": name, "type": "tcp", "interval": interval, "timeout": timeout,
            "options": {"host": "127.0.0.1", "port": port}}


class ServeTestCase(VitalsTestCase):
    def check_detail(self, d, name):
        """GET /health/checks/<name>: asserts health+json, returns the parsed body."""
        r = d.get("/health/checks/" + name)
        self.assertEqual(content_type(r), "application/health+json", r)
        return r.json()

    def wait_body(self, d, path, predicate, timeout=10.0, message=None):
        """Polls `path` until predicate(parsed body) holds; returns the Response."""
        def probe():
            r = d.get(path)
            return r if predicate(r.json()) else None
        return self.wait_for(probe, timeout, message or "%s to satisfy a condition" % path)

    def wait_status(self, d, path, status, timeout=10.0):
        """Polls `path` until its body's status is `status`; returns the Response."""
        def probe():
            r = d.get(path)
            return r if r.json().get("status") == status else None
        return self.wait_for(probe, timeout, "%s to report %s" % (path, status))


class HealthEndpointTest(ServeTestCase):
    def test_tcp_and_disk_pass(self):
        peer = self.listener()
        d = self.start_daemon({"checks": [tcp_check("upstream", peer.port), disk_check("root")]})
        r = self.wait_status(d, "/health", "pass")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(content_type(r), "application/health+json")
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        body = r.json()
        self.assertEqual(body["status"], "pass")
        self.assertNotIn("output", body)  # omitted on pass
        self.assertIn("version", body)
        self.assertIn("serviceId", body)
        checks = body["checks"]
        self.assertEqual(sorted(k.split(":")[0] for k in checks), ["root", "upstream"], checks)
        for key, entries in checks.items():
            name, _, measurement = key.partition(":")
            self.assertTrue(measurement, "key %r is not <check>:<measurement>" % key)
            self.assertIsInstance(entries, list)
            self.assertEqual(len(entries), 1, entries)
            entry = entries[0]
            for field in ("componentType", "status", "time"):
                self.assertIn(field, entry, "%s lacks %s" % (key, field))
            self.assertEqual(entry["status"], "pass", entry)
            self.assertRegex(entry["time"], RFC3339)
        self.wait_for(lambda: peer.accepted >= 1, 5, "the tcp check to connect to the peer")

        head = d.get("/health", method="HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertEqual(content_type(head), "application/health+json")

    def test_broken_tcp_target_fails_on_its_next_runs(self):
        peer = self.listener()
        d = self.start_daemon({"checks": [tcp_check("upstream", peer.port, "1s", "500ms"), disk_check("root")]})
        self.wait_status(d, "/health", "pass")

        r = self.assertRunsAfterBreakFail(d, "upstream", peer.close)
        body = r.json()
        self.assertEqual(body["status"], "fail", body)
        self.assertIn("upstream", body.get("output", ""), body)
        self.assertEqual(health_check_entry(body, "upstream")["status"], "fail", body)
        self.assertEqual(health_check_entry(body, "root")["status"], "pass", body)
        head = d.get("/health", method="HEAD")
        self.assertEqual((head.status, head.body), (503, b""))

    def test_check_detail_and_errors(self):
        peer = self.listener()
        d = self.start_daemon({"checks": [tcp_check("upstream", peer.port, "200ms", "100ms")]})
        body = self.wait_check(d, "upstream", lambda b: b["counters"]["runs"] >= 2)
        self.assertEqual(body["status"], "pass")
        self.assertEqual(body["name"], "upstream")
        self.assertEqual(body["type"], "tcp")
        self.assertEqual(body["effectiveStatus"], "pass")
        self.assertEqual(body["rawStatus"], "pass")
        for counter in ("runs", "pass", "warn", "fail", "timeouts"):
            self.assertIn(counter, body["counters"])
        self.assertGreaterEqual(body["counters"]["pass"], 2)
        self.assertEqual(body["counters"]["fail"], 0)
        self.assertGreaterEqual(len(body["recent"]), 2)
        for result in body["recent"]:
            self.assertEqual(result["status"], "pass", result)
            self.assertRegex(result["time"], RFC3339)
        self.assertIn("lastResult", body)
        keys = list(body["checks"])
        self.assertEqual(len(keys), 1, keys)
        self.assertRegex(keys[0], r"^upstream:\w+")

        self.assertProblem(d.get("/health/checks/nope"), 404)
        self.assertProblem(d.get("/health/no-such-group"), 404)
        self.assertProblem(d.get("/nope"), 404)
        self.assertProblem(d.get("/"), 404)

        post = d.get("/health", method="POST", body=b"")
        self.assertProblem(post, 405)
        allow = [m.strip().upper() for m in post.headers.get("Allow", "").split(",")]
        self.assertIn("GET", allow, post.headers)
        self.assertIn("HEAD", allow, post.headers)
        self.assertProblem(d.get("/health/checks/upstream", method="DELETE"), 405)

        malformed = "the request target has a malformed percent-encoding"
        for bad, detail in (("/health/%zz", malformed), ("/health/checks/%", malformed),
                            ("/health/checks/%00x", "the request target encodes a NUL byte"), ("/health/%2", malformed)):
            with self.subTest(path=bad):
                self.assertEqual(self.assertProblem(d.get(bad), 400)["detail"], detail)
        # Still alive and answering.
        self.assertTrue(d.alive(), d.log())
        self.assertEqual(d.get("/health").status, 200)

    def test_error_bodies_are_utf8_json_for_undecodable_paths(self):
        # Percent-escapes that decode to bytes that are not UTF-8: the problem+json body must still
        # be valid JSON (RFC 8259: UTF-8), whatever the detail says about the path.
        d = self.start_daemon({"checks": [disk_check("root", "200ms", "100ms")]})
        # Well-formed escapes: the path is decoded, its invalid UTF-8 shown as U+FFFD, and not found.
        for bad, detail in (("/%ff%fe", "no such endpoint: /\ufffd\ufffd"),
                            ("/health/checks/%ff", 'no check named "\ufffd"'),
                            ("/health/%c3%28", 'no group named "\ufffd("')):
            with self.subTest(path=bad):
                self.assertEqual(self.assertProblem(d.get(bad), 404)["detail"], detail)
        self.assertTrue(d.alive(), d.log())

    def test_details_never_gives_status_only(self):
        peer = self.listener()
        d = self.start_daemon({"server": {"address": "127.0.0.1", "details": "never"},
                               "checks": [tcp_check("upstream", peer.port, "200ms", "100ms")]})
        r = self.wait_for(lambda: (lambda r: r if r.status == 200 else None)(d.get("/health")), 10, "/health to pass")
        self.assertEqual(r.json(), {"status": "pass"})
        self.assertEqual(content_type(r), "application/health+json")
        detail = d.get("/health/checks/upstream")
        self.assertEqual(detail.json(), {"status": "pass"})

    def test_details_loopback_default(self):
        peer = self.listener()
        far = self.netns_peer()  # a client that is not loopback
        # 0.0.0.0: one listener reached from 127.0.0.1 and from the namespace (at far.host_addr).
        d = self.start_daemon({"server": {"address": "0.0.0.0"},
                               "checks": [tcp_check("upstream", peer.port, "200ms", "100ms")]})
        r = self.wait_status(d, "/health", "pass")
        body = r.json()
        self.assertIn("checks", body)  # full body to 127.0.0.1
        self.assertIn("upstream", [k.split(":")[0] for k in body["checks"]])

        # From a client that is not loopback, only {"status": ...}.
        for path in ("/health", "/health/checks/upstream"):
            with self.subTest(path=path):
                r = far.request(d.port, path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(content_type(r), "application/health+json", r)
                self.assertEqual(r.json(), {"status": "pass"})
        # History holds check details: refused to it outright.
        self.assertProblem(far.request(d.port, "/health/history"), 403)
        self.assertEqual(d.get("/health/history").status, 200)  # and served to loopback

    def test_sigterm_exits_zero_with_a_hung_call_in_flight(self):
        peer = self.listener()
        d = self.start_daemon({"plugins": self.plugins_with_fixtures(),
                               "checks": [tcp_check("upstream", peer.port, "200ms", "100ms"),
                                          {"name": "hang", "type": "fixture_hang", "interval": "1s",
                                           "timeout": "300ms"}]})
        self.wait_check(d, "upstream", lambda b: b["counters"]["runs"] >= 1)
        # The hanging plugin call is in flight (it started at once) and never returns.
        self.wait_check(d, "hang", lambda b: b["counters"]["timeouts"] >= 1)
        # fixture_hang sleeps an hour: an exit within the test did not wait for the call.
        d.signal(signal.SIGTERM)
        rc = d.proc.wait(30)  # a hang guard
        self.assertEqual(rc, 0, d.log())
        self.assertIn("SIGTERM: shutting down", d.log())
        self.assertIn("stopped", d.log())


class GroupsTest(ServeTestCase):
    def test_named_group_and_impact(self):
        a = self.status_file("a", "pass", "a ok")
        b = self.status_file("b", "pass", "b ok")
        deg = self.status_file("deg", "pass", "deg ok")
        ign = self.status_file("ign", "pass", "ign ok")
        d = self.start_daemon({
            "plugins": self.plugins_with_fixtures(),
            "groups": {"alb": {"checks": ["a"]}},
            "checks": [file_check("a", a), file_check("b", b),
                       file_check("deg", deg, impact="degraded"), file_check("ign", ign, impact="ignore")]})
        r = self.wait_status(d, "/health", "pass")
        self.assertEqual(sorted(k.split(":")[0] for k in r.json()["checks"]), ["a", "b", "deg", "ign"])
        alb = d.get("/health/alb")
        self.assertEqual(alb.status, 200, alb)
        self.assertEqual(content_type(alb), "application/health+json")
        self.assertEqual(list(alb.json()["checks"]), ["a:status"])
        self.assertEqual(d.get("/health/alb", method="HEAD").status, 200)

        # b (critical, not in alb) fails: default fails, alb is unaffected.
        write_status_file(b, "fail", "b broke")
        r = self.wait_status(d, "/health", "fail")
        self.assertEqual(r.status, 503)
        self.assertRegex(r.json()["output"], r"\bb\b")
        alb = d.get("/health/alb")
        self.assertEqual((alb.status, alb.json()["status"]), (200, "pass"), alb)

        # a fails: alb fails too.
        write_status_file(a, "fail", "a broke")
        r = self.wait_status(d, "/health/alb", "fail")
        self.assertEqual(r.status, 503)
        self.assertRegex(r.json()["output"], r"\ba\b")
        write_status_file(a, "pass", "a ok")
        write_status_file(b, "pass", "b ok")
        self.wait_status(d, "/health", "pass")

        # An ignored check failing changes nothing.
        write_status_file(ign, "fail", "ign broke")
        self.wait_check(d, "ign", lambda body: body["effectiveStatus"] == "fail")
        r = d.get("/health")
        self.assertEqual((r.status, r.json()["status"]), (200, "pass"), r)
        self.assertEqual(health_check_entry(r.json(), "ign")["status"], "fail")  # shown, not counted

        # A degraded check failing makes the group warn, still HTTP 200.
        write_status_file(deg, "fail", "deg broke")
        r = self.wait_status(d, "/health", "warn")
        self.assertEqual(r.status, 200, r)
        self.assertIn("deg", r.json()["output"])
        self.assertNotIn("ign", r.json()["output"])
        # A warn from a critical check also warns.
        write_status_file(deg, "pass", "deg ok")
        write_status_file(a, "warn", "a slow")
        r = self.wait_body(d, "/health", lambda b: b["status"] == "warn" and re.search(r"\ba\b", b.get("output", ""))
                           and "deg" not in b.get("output", ""), message="/health to warn because of a")
        self.assertEqual(r.status, 200)
        alb = d.get("/health/alb")
        self.assertEqual((alb.status, alb.json()["status"]), (200, "warn"))

    def test_default_group_can_be_redefined(self):
        a = self.status_file("a", "pass")
        b = self.status_file("b", "fail", "b broke")
        d = self.start_daemon({"plugins": self.plugins_with_fixtures(),
                               "groups": {"default": {"checks": ["a"]}},
                               "checks": [file_check("a", a), file_check("b", b)]})
        self.wait_check(d, "b", lambda body: body["counters"]["runs"] >= 1)
        r = self.wait_status(d, "/health", "pass")
        self.assertEqual(r.status, 200)
        self.assertEqual(list(r.json()["checks"]), ["a:status"])


class RiseFallTest(ServeTestCase):
    def test_rise_and_fall_damping(self):
        f = self.status_file("flappy", "pass", "fine")
        d = self.start_daemon({"plugins": self.plugins_with_fixtures(),
                               "checks": [file_check("flappy", f, interval="500ms", timeout="200ms",
                                                     rise=2, fall=2)]})
        self.wait_check(d, "flappy", lambda b: b["effectiveStatus"] == "pass",
                        message="flappy to become pass after two passes")

        def leading(body, status):
            n = 0
            for r in body["recent"]:
                if r["status"] != status:
                    break
                n += 1
            return n

        def watch(new_status, old_status):
            """Polls until the effective status is new_status; checks on every body that it only
            moves after two consecutive raw results, and that the one-result state was seen."""
            seen_one = []

            def probe():
                body = self.check_detail(d, "flappy")
                n = leading(body, new_status)
                if n == 1:
                    seen_one.append(body)
                    self.assertEqual(body["effectiveStatus"], old_status,
                                     "one %s result flipped the effective status: %s" % (new_status, body))
                    self.assertEqual(body["rawStatus"], new_status, body)
                elif n == 0:
                    self.assertEqual(body["effectiveStatus"], old_status, body)
                return body if body["effectiveStatus"] == new_status else None

            body = wait_for_strict(probe, 10, "flappy to become %s" % new_status)
            self.assertGreaterEqual(leading(body, new_status), 2, body)
            self.assertTrue(seen_one, "never saw the state with exactly one %s result" % new_status)
            return seen_one[0]

        write_status_file(f, "fail", "broken")
        one = watch("fail", "pass")
        self.assertEqual(one["status"], "pass", one)  # the check still counts as pass while held
        write_status_file(f, "pass", "fine again")
        watch("pass", "fail")


def wait_for_strict(predicate, timeout, message):
    """Like wait_for, but an AssertionError raised by the predicate fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, message))
        time.sleep(0.05)


class PendingTest(ServeTestCase):
    def slow_config(self, **policy):
        cfg = {"plugins": self.plugins_with_fixtures(),
               "checks": [{"name": "slow", "type": "fixture_sleep", "interval": "5s", "timeout": "2s",
                           "options": {"ms": "1500ms"}}]}
        if policy:
            cfg["policy"] = policy
        return cfg

    def test_pending_fails_until_first_result(self):
        d = self.start_daemon(self.slow_config())
        r = d.get("/health")
        self.assertEqual(r.status, 503, r)
        body = r.json()
        self.assertEqual(body["status"], "fail")
        self.assertIn("slow", body.get("output", ""), body)
        self.assertIn("pending", body.get("output", ""), body)
        self.assertIn("pending", health_check_entry(body, "slow").get("output", ""), body)
        detail = self.check_detail(d, "slow")
        self.assertEqual(detail["counters"]["runs"], 0, detail)  # really before the first result
        self.assertEqual(detail["effectiveStatus"], "pending", detail)
        # Then the first result arrives and the target earns its pass.
        r = self.wait_status(d, "/health", "pass", timeout=10)
        self.assertEqual(r.status, 200)

    def test_start_period_makes_pending_warn(self):
        d = self.start_daemon(self.slow_config(start_period="30s"))
        r = d.get("/health")
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["status"], "warn", body)
        self.assertIn("pending", health_check_entry(body, "slow").get("output", ""), body)
        self.assertEqual(self.check_detail(d, "slow")["counters"]["runs"], 0)


class TimeoutAndStuckTest(ServeTestCase):
    def test_timeout_then_stuck_while_others_run(self):
        d = self.start_daemon({"plugins": self.plugins_with_fixtures(),
                               "checks": [{"name": "hang", "type": "fixture_hang", "interval": "1s",
                                           "timeout": "300ms"},
                                          {"name": "steady", "type": "fixture_counter", "interval": "100ms",
                                           "timeout": "50ms"}]})
        body = self.wait_check(d, "hang", lambda b: any("timed out after 300 ms" in r.get("output", "")
                                                        for r in b["recent"]),
                               message="a 'timed out after 300 ms' result")
        self.assertEqual(body["counters"]["timeouts"], 1, body)
        self.assertEqual(body["recent"][-1]["status"], "fail")

        body = self.wait_check(d, "hang", lambda b: b["stuck"] is True, message="hang to be marked stuck")
        self.assertEqual(body["status"], "fail")
        self.assertIn("stuck", body.get("output", ""), body)
        self.assertIn("stuck", body["recent"][0].get("output", ""), body)
        r = d.get("/health")
        self.assertEqual(r.status, 503)
        self.assertIn("hang", r.json()["output"])
        stuck_runs = body["counters"]["runs"]

        # The other check keeps running, /health keeps answering, and no new run of hang starts.
        steady_before = self.check_detail(d, "steady")["counters"]["runs"]
        self.wait_check(d, "steady", lambda b: b["counters"]["runs"] >= steady_before + 12,
                        message="steady to keep running while hang is stuck")
        for _ in range(3):
            self.assertEqual(d.get("/health").status, 503)
        body = self.check_detail(d, "hang")
        self.assertTrue(body["stuck"], body)
        self.assertEqual(body["counters"]["runs"], stuck_runs, "a stuck check started a new run: %s" % body)
        self.assertEqual(body["counters"]["timeouts"], 1, body)
        steady = self.check_detail(d, "steady")
        self.assertEqual(steady["status"], "pass", steady)

    def test_slow_check_does_not_block_serving(self):
        d = self.start_daemon({"plugins": self.plugins_with_fixtures(),
                               "checks": [{"name": "slow", "type": "fixture_sleep", "interval": "1s",
                                           "timeout": "900ms", "options": {"ms": "700ms"}}]})
        # While the first run sleeps, 20 requests are answered (each bounded by a 5 s client timeout).
        for _ in range(20):
            self.assertEqual(d.get("/health").status, 503)
        self.wait_status(d, "/health", "pass")


class PluginFaultTest(ServeTestCase):
    def start_with(self, check):
        return self.start_daemon({"plugins": self.plugins_with_fixtures(raw=True),
                                  "checks": [dict(check, interval="200ms", timeout="100ms"),
                                             {"name": "ok", "type": "fixture_counter", "interval": "100ms",
                                              "timeout": "50ms"}]})

    def assert_other_check_runs(self, d):
        self.wait_check(d, "ok", lambda b: b["counters"]["runs"] >= 3 and b["status"] == "pass",
                        message="the healthy check to keep running")
        self.assertTrue(d.alive(), d.log())

    def test_throwing_plugin(self):
        d = self.start_with({"name": "thrower", "type": "fixture_throws"})
        body = self.wait_check(d, "thrower", lambda b: b["counters"]["runs"] >= 2)
        self.assertEqual(body["status"], "fail", body)
        self.assertIn("exception: boom", body["lastResult"].get("output", ""), body)
        self.assert_other_check_runs(d)
        r = d.get("/health")
        self.assertEqual(r.status, 503)
        self.assertIn("boom", health_check_entry(r.json(), "thrower").get("output", ""))

    def test_invalid_status(self):
        d = self.start_with({"name": "weird", "type": "fixture_invalid_status"})
        body = self.wait_check(d, "weird", lambda b: b["counters"]["runs"] >= 2)
        self.assertEqual(body["status"], "fail", body)
        self.assertEqual(body["rawStatus"], "fail", body)
        self.assertIn("invalid status", body["lastResult"].get("output", ""), body)
        self.assert_other_check_runs(d)

    def test_unterminated_strings(self):
        d = self.start_with({"name": "unterm", "type": "fixture_unterminated"})
        body = self.wait_check(d, "unterm", lambda b: b["counters"]["runs"] >= 3)
        self.assert_other_check_runs(d)
        # Status and value are valid (only the strings lack their NUL): the result is a pass, bounded.
        self.assertEqual(body["status"], "pass", body)
        r = d.get("/health")
        health = r.json()  # valid JSON
        self.assertEqual(r.status, 200, r)
        last = body["lastResult"]
        output = last.get("output", "")
        self.assertLessEqual(len(output), 1024, "output longer than the plugin's buffer")
        self.assertEqual(set(output) - {"x"}, set(), "bytes from beyond the output buffer: %r" % output[-64:])
        unit = last.get("observedUnit", "")
        self.assertLessEqual(len(unit), 32)
        self.assertEqual(set(unit) - {"u"}, set(), unit)
        for key in list(health["checks"]) + list(body["checks"]):
            name, _, measurement = key.partition(":")
            if name == "unterm":
                self.assertLessEqual(len(measurement), 48, key)
                self.assertEqual(set(measurement) - {"m"}, set(), key)

    def test_create_fails_is_a_configuration_error(self):
        # Commit 4078680: options the plugin's create() rejects are configuration errors naming the
        # check's path, so `serve` refuses to start (exit 2) instead of running a failing check.
        cfg = self.write_config({"server": {"address": "127.0.0.1"},
                                 "plugins": self.plugins_with_fixtures(),
                                 "checks": [{"name": "ok", "type": "fixture_counter", "interval": "100ms",
                                             "timeout": "50ms"},
                                            {"name": "refuser", "type": "fixture_create_fails",
                                             "options": {"reason": "no database today"}}]})
        p = self.run_vitals(["serve", "-c", cfg, "--port", "0"], timeout=10)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("checks[1]", p.stderr)
        self.assertIn("no database today", p.stderr)
        self.assertNotIn("listening on", p.stderr)


if __name__ == "__main__":
    unittest.main()
