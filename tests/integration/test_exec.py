"""The exec check type (SPEC section 3): real monitoring-plugins programs
(/usr/lib/nagios/plugins/check_*) and small scripts from peers/ that hang with a grandchild, flood
stdout, or die of a signal. Also: the child's environment and descriptors, option validation, and no
leaked descriptors, zombies or leftover processes."""

import os
import re
import shutil
import stat
import time
import unittest

from peers import children, group_members, proc_stat, quiet_fd_count, zombie_children
from vitals_harness import HERE, VitalsTestCase

NAGIOS = "/usr/lib/nagios/plugins"
PEERS = os.path.join(HERE, "peers")
# The plugin's own timeout result. The tests that expect it give the check 2 s, so the plugin gives
# up 200 ms early (give_up_at): time enough to kill and reap on a loaded machine, which the 40-100
# ms margins of 200-500 ms timeouts were not (the host's "timed out after 300 ms" won, 1 run in ~10).
KILLED = re.compile(r"^timed out after \d+ ms \(process group killed\)$")


def exec_check(name, command, interval="5s", timeout="2s", env=None):
    options = {"command": command}
    if env is not None:
        options["env"] = env
    return {"name": name, "type": "exec", "interval": interval, "timeout": timeout, "options": options}


def dead(pid):
    """True when `pid` no longer runs: gone, or a zombie (killed; its parent has not reaped it)."""
    st = proc_stat(pid)
    return st is None or st[0] in ("Z", "X")


class ExecTestCase(VitalsTestCase):
    def peer(self, name):
        """A copy of peers/<name> in the temp dir, executable whatever the checkout's modes."""
        dst = self.path(name)
        shutil.copyfile(os.path.join(PEERS, name), dst)
        os.chmod(dst, 0o755)
        return dst

    def wait_result(self, d, name, predicate=lambda r: True, timeout=10.0):
        """Polls until check `name` has a last result satisfying predicate; returns that result."""
        def probe():
            r = self.check_detail(d, name).get("lastResult")
            return r if r and predicate(r) else None
        return self.wait_for(probe, timeout, "a result of check %s" % name)


class ExecStatusTest(ExecTestCase):
    def test_exit_codes_map_to_statuses(self):
        dummy = os.path.join(NAGIOS, "check_dummy")
        script = self.peer("killed_by_signal.sh")
        rows, _ = self.check_once([
            exec_check("ok", [dummy, "0", "all good"]),
            exec_check("warning", [dummy, "1", "getting full"]),
            exec_check("critical", [dummy, "2", "on fire"]),
            exec_check("unknown", [dummy, "3", "cannot tell"]),
            exec_check("seven", ["/bin/sh", "-c", "echo seven; exit 7"]),
            exec_check("silent-fail", ["/bin/sh", "-c", "exit 2"]),
            exec_check("segv", [script]),
        ], expect_code=2)
        self.assertEqual(rows["ok"], ("pass", "OK: all good"))
        self.assertEqual(rows["warning"], ("warn", "WARNING: getting full"))
        self.assertEqual(rows["critical"], ("fail", "CRITICAL: on fire"))
        self.assertEqual(rows["unknown"], ("fail", "unknown: UNKNOWN: cannot tell"))
        self.assertEqual(rows["seven"], ("fail", "exit code 7: seven"))
        self.assertEqual(rows["silent-fail"], ("fail", "no output (exit code 2)"))
        self.assertEqual(rows["segv"], ("fail", "killed by SIGSEGV: about to crash"))

    def test_only_warn_gives_exit_code_1(self):
        dummy = os.path.join(NAGIOS, "check_dummy")
        rows, _ = self.check_once([exec_check("ok", [dummy, "0", "fine"]), exec_check("w", [dummy, "1", "hm"])],
                                  expect_code=1)
        self.assertEqual(rows["w"][0], "warn")

    def test_monitoring_plugins_perfdata_in_health(self):
        peer = self.listener()
        d = self.start_daemon({"checks": [
            exec_check("disk", [os.path.join(NAGIOS, "check_disk"), "-w", "0%", "-c", "0%", "-p", "/"]),
            exec_check("load", [os.path.join(NAGIOS, "check_load"), "-w", "1000,1000,1000", "-c", "2000,2000,2000"]),
            exec_check("tcp", [os.path.join(NAGIOS, "check_tcp"), "-H", "127.0.0.1", "-p", str(peer.port)]),
        ]})
        self.wait_for(lambda: d.get("/health").status == 200, 15.0, "/health to pass")
        checks = d.get("/health").json()["checks"]

        disk = checks["disk:/"][0]
        self.assertEqual(disk["componentType"], "component")
        self.assertEqual(disk["status"], "pass")
        self.assertEqual(disk["observedUnit"], "B")
        self.assertGreater(disk["observedValue"], 0)
        self.assertTrue(disk["output"].startswith("DISK OK"), disk)
        self.assertNotIn("|", disk["output"])

        load = checks["load:load1"][0]
        self.assertEqual(load["observedUnit"], "")
        self.assertGreaterEqual(load["observedValue"], 0)
        self.assertTrue(load["output"].startswith("LOAD OK - total load average: "), load)

        tcp = checks["tcp:time"][0]
        self.assertEqual(tcp["observedUnit"], "s")
        m = re.match(r"^TCP OK - ([\d.]+) second response time on 127\.0\.0\.1 port %d$" % peer.port, tcp["output"])
        self.assertTrue(m, tcp)
        # The value is the perfdata's time, which the output gives rounded to milliseconds.
        self.assertAlmostEqual(tcp["observedValue"], float(m.group(1)), delta=0.0005, msg=tcp)

    def test_check_tcp_against_a_closed_port(self):
        peer = self.listener()
        port = peer.port
        peer.close()
        rows, _ = self.check_once([exec_check("tcp", [os.path.join(NAGIOS, "check_tcp"), "-H", "127.0.0.1",
                                                      "-p", str(port)])], expect_code=2)
        self.assertEqual(rows["tcp"], ("fail", "connect to address 127.0.0.1 and port %d: Connection refused" % port))

    def test_measurement_key_survives_a_failure_without_perfdata(self):
        peer = self.listener()
        d = self.start_daemon({"checks": [
            exec_check("tcp", [os.path.join(NAGIOS, "check_tcp"), "-H", "127.0.0.1", "-p", str(peer.port)],
                       interval="200ms", timeout="150ms"),
        ]})
        self.wait_for(lambda: "tcp:time" in d.get("/health").json()["checks"], 10.0, "the tcp:time key")
        peer.close()
        r = self.wait_for(lambda: (lambda r: r if r.status == 503 else None)(d.get("/health")), 10.0, "/health 503")
        checks = r.json()["checks"]
        self.assertEqual(list(checks), ["tcp:time"], checks)
        self.assertEqual(checks["tcp:time"][0]["output"],
                         "connect to address 127.0.0.1 and port %d: Connection refused" % peer.port)
        self.assertNotIn("observedValue", checks["tcp:time"][0])

    def test_output_beyond_4k_is_read_and_discarded(self):
        d = self.start_daemon({"checks": [exec_check("flood", [self.peer("print_a_lot.sh")], timeout="4s")]})
        r = self.wait_result(d, "flood")
        self.assertEqual(r["status"], "pass", r)
        self.assertEqual(r["output"], "OK - printed a lot")
        self.assertEqual(r.get("observedValue"), 1048576, r)
        self.assertEqual(r.get("observedUnit"), "B", r)
        body = d.get("/health").json()
        self.assertIn("flood:bytes", body["checks"], body)
        # (A pass, not "timed out after 4000 ms": reading the megabyte never blocked the run.)

    def test_environment_is_exactly_the_configured_one_and_no_descriptor_leaks_in(self):
        # Under `vitals serve`, whose listening socket and history database are open while checks run.
        script = self.peer("show_env.sh")
        d = self.start_daemon({"checks": [
            exec_check("default-path", [script], env={"A": "1", "B": "two words"}),
            exec_check("own-path", [script], env={"PATH": "/bin"}),
            exec_check("nothing", [script]),
        ]})
        out = self.wait_result(d, "default-path")["output"]
        self.assertIn("env: A=1,B=two words,PATH=/usr/bin:/bin fds:", out)
        self.assertIn("env: PATH=/bin fds:", self.wait_result(d, "own-path")["output"])
        self.assertIn("env: PATH=/usr/bin:/bin fds:", self.wait_result(d, "nothing")["output"])
        # stdin and stderr are /dev/null, stdout a pipe; nothing of the daemon's (its sockets, its log,
        # its history database) reaches the child. The shell itself may hold one more descriptor: the
        # script it reads.
        fds = dict(item.split("=", 1) for item in out.split(" fds: ", 1)[1].split())
        self.assertEqual(fds.get("0"), "/dev/null", fds)
        self.assertTrue(fds.get("1", "").startswith("pipe:"), fds)
        self.assertEqual(fds.get("2"), "/dev/null", fds)
        for fd, target in fds.items():
            if fd in ("0", "1", "2"):
                continue
            self.assertEqual(target, script, fds)


class ExecTimeoutTest(ExecTestCase):
    def test_timeout_kills_the_whole_process_group(self):
        pids_file = self.path("hang.pids")
        d = self.start_daemon({"checks": [
            exec_check("hang", [self.peer("hang_with_grandchild.sh"), pids_file], interval="30s", timeout="2s"),
        ]})
        r = self.wait_result(d, "hang")
        self.assertEqual(r["status"], "fail", r)
        self.assertRegex(r["output"], KILLED)  # the plugin's own result, not the host's timeout
        with open(pids_file) as f:
            leader, grandchild = (int(x) for x in f.readline().split())

        # Everything in the group is dead: the shell (reaped by vitals, so gone) and the grandchild
        # (killed; reparented to init, which reaps it or not — either way not running, not ours).
        self.wait_for(lambda: group_members(leader) == [], 5.0, "process group %d to be empty" % leader)
        self.assertIsNone(proc_stat(leader), "the group leader was not reaped")
        self.assertTrue(dead(grandchild), proc_stat(grandchild))
        st = proc_stat(grandchild)
        if st is not None:
            self.assertNotEqual(st[1], d.proc.pid, "the grandchild is a child of vitals")
        self.assertEqual(zombie_children(d.proc.pid), [])
        self.assertEqual(children(d.proc.pid), [])
        self.assertEqual(d.get("/health").status, 503)

    def test_a_program_that_closes_stdout_and_hangs_is_killed_at_the_timeout(self):
        # EOF on its stdout long before it exits: the run still ends at the deadline, killed.
        d = self.start_daemon({"checks": [
            exec_check("closer", ["/bin/sh", "-c", "exec >&-; sleep 30"], interval="3s", timeout="2s"),
        ]})
        r = self.wait_result(d, "closer")
        self.assertEqual(r["status"], "fail", r)
        # The plugin's own result, against the budget it was given (the 2 s timeout less the time the
        # run took to start).
        self.assertRegex(r["output"], KILLED)
        self.assertLessEqual(int(re.search(r"\d+", r["output"]).group()), 2000, r)
        self.assertEqual(self.check_detail(d, "closer")["stuck"], False)

    def test_a_grandchild_holding_stdout_does_not_delay_the_result(self):
        # The program prints and exits; the sleep it left behind holds stdout open. The result is the
        # program's, at its exit, and the sleep is killed with the group.
        rows, _ = self.check_once([
            exec_check("bg", ["/bin/sh", "-c", "sleep 30 & echo OK - left a sleep behind"],
                       interval="20s", timeout="10s"),
        ])
        self.assertEqual(rows["bg"][:2], ("pass", "OK - left a sleep behind"))

    def test_timeout_via_check_command(self):
        rows, _ = self.check_once([
            exec_check("hang", [self.peer("hang_with_grandchild.sh"), self.path("pids")], timeout="2s"),
            exec_check("endless-output", ["/usr/bin/yes"], timeout="2s"),
        ], expect_code=2)
        for name in ("hang", "endless-output"):
            status, output = rows[name]
            self.assertEqual(status, "fail", rows)
            # The plugin's own result (so it returned before the host's deadline), against the budget.
            self.assertRegex(output, KILLED)
            self.assertLessEqual(int(re.search(r"\d+", output).group()), 2000, rows)

    def test_program_removed_after_validation(self):
        program = self.path("check_gone")
        shutil.copyfile(os.path.join(NAGIOS, "check_dummy"), program)
        os.chmod(program, 0o755)
        d = self.start_daemon({"checks": [exec_check("gone", [program, "0", "here"], interval="200ms", timeout="100ms")]})
        self.wait_result(d, "gone", lambda r: r["status"] == "pass")
        os.unlink(program)
        r = self.wait_result(d, "gone", lambda r: r["status"] == "fail")
        self.assertEqual(r["output"], "cannot run %s: No such file or directory" % program)


class ExecResourceTest(ExecTestCase):
    def test_no_descriptor_leak_no_zombies_no_leftovers(self):
        pids_file = self.path("hang.pids")
        missing = self.path("missing")
        shutil.copyfile(os.path.join(NAGIOS, "check_dummy"), missing)
        os.chmod(missing, 0o755)
        d = self.start_daemon({"checks": [
            exec_check("fast", [os.path.join(NAGIOS, "check_dummy"), "0", "ok"], interval="100ms", timeout="80ms"),
            exec_check("hang", [self.peer("hang_with_grandchild.sh"), pids_file], interval="200ms", timeout="150ms"),
            exec_check("segv", [self.peer("killed_by_signal.sh")], interval="100ms", timeout="80ms"),
            exec_check("missing", [missing, "0"], interval="100ms", timeout="80ms"),
            exec_check("flood", [self.peer("print_a_lot.sh")], interval="300ms", timeout="250ms"),
        ]})
        os.unlink(missing)  # validated at start; every run now fails to spawn
        self.wait_for(lambda: self.check_detail(d, "hang")["counters"]["runs"] >= 3, 10.0, "warm-up runs")
        time.sleep(0.5)
        before = quiet_fd_count(d.proc.pid)
        runs_before = self.check_detail(d, "hang")["counters"]["runs"]
        time.sleep(3.0)
        runs_after = self.check_detail(d, "hang")["counters"]["runs"]
        time.sleep(0.2)
        after = quiet_fd_count(d.proc.pid)
        self.assertGreaterEqual(runs_after - runs_before, 8, "too few runs to tell")
        self.assertLessEqual(after - before, 6, "descriptors %d -> %d over %d runs"
                             % (before, after, runs_after - runs_before))

        # Zombies of vitals may exist for an instant between a child's exit and its reaping; none
        # may last.
        first = set(zombie_children(d.proc.pid))
        time.sleep(0.3)
        lasting = first & set(zombie_children(d.proc.pid))
        self.assertEqual(lasting, set(), "zombie children of vitals")

        # Every finished run of `hang` left nothing running (at most one run is in flight: the last).
        with open(pids_file) as f:
            runs = [tuple(int(x) for x in line.split()) for line in f if line.strip()]
        self.assertGreaterEqual(len(runs), 8)
        for leader, grandchild in runs[:-1]:
            self.assertEqual(group_members(leader), [], "run with group %d left processes" % leader)
            self.assertTrue(dead(grandchild), proc_stat(grandchild))
        # Ours, or (on a loaded machine, when killing and reaping overran the deadline) the host's.
        self.assertRegex(self.check_detail(d, "hang")["lastResult"]["output"],
                         r"^timed out after \d+ ms( \(process group killed\))?$")
        self.assertEqual(self.check_detail(d, "segv")["lastResult"]["output"], "killed by SIGSEGV: about to crash")
        self.assertTrue(self.check_detail(d, "missing")["lastResult"]["output"].startswith("cannot run "))


class ExecValidationTest(ExecTestCase):
    def test_invalid_options_are_configuration_errors(self):
        not_executable = self.path("plain-file")
        with open(not_executable, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(not_executable, 0o644)
        checks = [
            exec_check("relative", ["check_dummy", "0"]),
            exec_check("missing", [self.path("no-such-program")]),
            exec_check("not-executable", [not_executable]),
            exec_check("directory", ["/usr/lib"]),
            exec_check("empty", []),
            exec_check("bad-env", [os.path.join(NAGIOS, "check_dummy"), "0"], env={"A=B": "x"}),
            exec_check("fine", [os.path.join(NAGIOS, "check_dummy"), "0"], env={"LANG": "C"}),
        ]
        self.assertValidateErrors("exec", checks, [
            (0, "command[0] must be an absolute path (got 'check_dummy')"),
            (1, "command[0] %s: No such file or directory" % self.path("no-such-program")),
            (2, "command[0] %s: not executable" % not_executable),
            (3, "command[0] /usr/lib: not a regular file"),
            (4, "command must not be empty"),
            (5, "env: invalid variable name 'A=B'"),
        ])


if __name__ == "__main__":
    unittest.main()
