"""`"isolation": "process"` (SPEC section 3, issue 6): a plugin that crashes or hangs in its child
costs only its own result; the daemon keeps serving and its other checks keep running."""

import os
import time
import unittest

from peers import proc_stat
from vitals_harness import VitalsTestCase, check_config, health_check_entry


def check(name, type_, interval="500ms", timeout="400ms", **extra):
    """A check of `type_` run in a worker process ("isolation": "process"); `extra` adds or replaces keys."""
    return check_config(name, type_, interval, timeout, **dict({"isolation": "process"}, **extra))


def js(d, path):
    """The JSON body of GET path."""
    return d.get(path).json()


def worker_children(daemon_pid):
    """PIDs of `vitals worker` processes whose parent is the daemon."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().split(b"\0")
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == daemon_pid and len(cmd) > 1 and cmd[1] == b"worker":
            found.append(int(pid))
    return found


class ProcessIsolationTest(VitalsTestCase):

    def start(self, checks, groups=None):
        cfg = {"plugins": self.plugins_with_fixtures(), "checks": checks}
        if groups:
            cfg["groups"] = groups
        return self.start_daemon(cfg)

    def test_a_segfaulting_plugin_fails_its_check_and_nothing_else(self):
        d = self.start([check("crash", "fixture_crash"),
                        {"name": "count", "type": "fixture_counter", "interval": "100ms", "timeout": "50ms"}],
                       groups={"others": {"checks": ["count"]}})
        body = self.wait_for(lambda: (lambda b: b if b.get("lastResult") else None)(
            js(d, "/health/checks/crash")), message="a result for the crashing check")
        # Under AddressSanitizer the child exits instead of dying by the signal.
        self.assertRegex(body["lastResult"]["output"], r"^(crashed: SIGSEGV|worker exited with code \d+ without a result)$")
        self.assertEqual(d.get("/health").status, 503)
        runs = js(d, "/health/checks/count")["counters"]["runs"]
        self.wait_for(lambda: js(d, "/health/checks/count")["counters"]["runs"] >= runs + 5, message="others run")
        self.wait_for(lambda: js(d, "/health/checks/crash")["counters"]["runs"] >= 3, message="crashes again")
        self.assertEqual(d.get("/health/others").status, 200)
        self.assertTrue(d.alive())

    def test_a_hanging_plugin_is_killed_at_its_deadline_and_reaped(self):
        d = self.start([check("hang", "fixture_hang", interval="400ms", timeout="200ms")])
        body = self.wait_for(lambda: (lambda b: b if b["counters"]["runs"] >= 3 else None)(
            js(d, "/health/checks/hang")), message="three runs of the hanging check")
        self.assertEqual(body["lastResult"]["output"], "timed out after 200 ms (worker killed)")
        self.assertFalse(body["stuck"], "a killed worker never leaves the check stuck")
        # Every child is killed and reaped: at most the current run's worker exists, no zombies.
        self.assertLessEqual(len(worker_children(d.proc.pid)), 1)
        for pid in worker_children(d.proc.pid):
            with open("/proc/%d/stat" % pid) as f:
                self.assertNotEqual(f.read().rsplit(")", 1)[1].split()[0], "Z")

    def test_a_worker_that_closes_its_reply_pipe_and_hangs_is_killed_at_its_deadline(self):
        # EOF long before the exit: the wait for the exit is bounded by the deadline too (it used to
        # be a waitpid() without one, holding a scheduler worker forever).
        d = self.start([check("closer", "fixture_close_fds", interval="400ms", timeout="200ms")])
        body = self.wait_for(lambda: (lambda b: b if b["counters"]["runs"] >= 2 else None)(
            js(d, "/health/checks/closer")), message="two runs of the check whose worker closed its pipe")
        self.assertEqual(body["lastResult"]["output"], "timed out after 200 ms (worker killed)")
        self.assertFalse(body["stuck"], body)

    def test_a_grandchild_holding_the_reply_pipe_neither_delays_the_result_nor_survives(self):
        # The worker answers and exits; a grandchild it left keeps the pipe open. The run ends at the
        # worker's exit (not at EOF, which would come only at the deadline), and the worker's group,
        # grandchild included, is killed before the worker is reaped.
        pids_file = self.path("forks.pids")
        d = self.start([check("forks", "fixture_forks", interval="30s", timeout="5s",
                              options={"pids_file": pids_file})])
        body = self.wait_for(lambda: (lambda b: b if b.get("lastResult") else None)(
            js(d, "/health/checks/forks")), message="a result")
        self.assertEqual((body["lastResult"]["status"], body["lastResult"]["output"]), ("pass", "forked"))
        with open(pids_file) as f:
            grandchild = int(f.read().split()[0])
        self.wait_for(lambda: (lambda st: st is None or st[0] in ("Z", "X"))(proc_stat(grandchild)), 5.0,
                      "the grandchild to be killed")

    def test_each_run_is_a_fresh_process(self):
        d = self.start([check("count", "fixture_counter", interval="500ms", timeout="450ms")])
        self.wait_for(lambda: js(d, "/health/checks/count")["counters"]["runs"] >= 3, message="three runs")
        entry = health_check_entry(js(d, "/health"), "count")
        self.assertEqual(entry["status"], "pass")
        # An in-process instance counts up; a fresh child per run always says "run 1".
        for r in js(d, "/health/checks/count")["recent"]:
            self.assertEqual(r["output"], "run 1")

    def test_create_failures_in_the_child_fail_the_check_with_the_reason(self):
        d = self.start([check("bad", "fixture_create_fails", options={"reason": "no host"})])
        body = self.wait_for(lambda: (lambda b: b if b.get("lastResult") else None)(
            js(d, "/health/checks/bad")), message="a result")
        self.assertEqual(body["lastResult"]["output"], "fixture_create_fails: refusing to start: no host")

    def test_validate_accepts_process_isolation(self):
        cfg = self.write_config({"plugins": self.plugins_with_fixtures(), "checks": [check("c", "fixture_crash")]})
        r = self.run_vitals(["validate", "-c", cfg])
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
