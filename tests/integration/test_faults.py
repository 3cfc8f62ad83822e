"""Faults in operation (issue 12): a second daemon on the same port, plugins that crash or hang while
loading, a reload that adds checks while the load balancer polls, SIGTERM during a slow reload."""

import os
import shutil
import signal
import subprocess
import threading
import time
import unittest

from vitals_harness import (FIXTURE_DIR, PLUGIN_DIR, VITALS, VitalsTestCase, check_config, daemon_env,
                            file_check)

LOAD_FAULTS = os.path.join(FIXTURE_DIR, "load_faults")


class SecondDaemonOnThePort(VitalsTestCase):
    def test_second_daemon_on_the_same_port_fails_at_once(self):
        ok = self.status_file("ok")
        plugins = self.plugins_with_fixtures()
        first = self.start_daemon({"plugins": plugins, "checks": [file_check("a", ok)]})
        self.wait_for(lambda: first.get("/health").status == 200, message="first daemon to pass")
        cfg = self.write_config({"server": {"address": "127.0.0.1", "port": first.port},
                                 "history": {"path": self.path("second.db")}, "plugins": plugins,
                                 "checks": [file_check("a", ok)]}, "second.json")
        proc = subprocess.run([VITALS, "serve", "-c", cfg], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=daemon_env(), timeout=30, text=True, cwd=self.tmp)
        self.assertNotEqual(proc.returncode, 0, proc.stdout)
        self.assertIn("address already in use", proc.stdout.lower())
        self.assertNotIn("listening on", proc.stdout)
        # Every probe reaches the first daemon: none is answered by anything else.
        for _ in range(20):
            self.assertEqual(first.get("/health").status, 200)
        self.assertTrue(first.alive())


class PluginsThatFaultWhileLoading(VitalsTestCase):
    def load_fault_dir(self, *names):
        d = self.path("load-faults")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        for n in names:
            dst = os.path.join(d, n)
            shutil.copyfile(os.path.join(LOAD_FAULTS, n), dst)
            os.chmod(dst, 0o755)
        return d

    def config(self, fault_dir, checks, load_timeout=None):
        plugins = {"dirs": [PLUGIN_DIR, self.fixture_plugin_dir(), fault_dir]}
        if load_timeout:
            plugins["load_timeout"] = load_timeout
        return {"plugins": plugins, "checks": checks}

    def serve_then_drop_in(self, fault, load_timeout):
        """A daemon serving one passing check; then the fault plugin `fault` (its file <fault>.so,
        its type `fault`) is dropped into its plugin directory and a check of that type added to its
        configuration file, for the test to reload."""
        d = self.load_fault_dir()
        config = self.config(d, [file_check("a", self.status_file("ok"))], load_timeout=load_timeout)
        daemon = self.start_daemon(config)
        self.wait_for(lambda: daemon.get("/health").status == 200, message="/health to pass")
        shutil.copyfile(os.path.join(LOAD_FAULTS, fault + ".so"), os.path.join(d, fault + ".so"))
        os.chmod(os.path.join(d, fault + ".so"), 0o755)
        config["checks"].append(check_config("f", fault, "1s", "500ms"))
        self.write_config(dict(config, server={"address": "127.0.0.1"}, history={"path": self.path("d0.db")}),
                          "d0.json")
        return daemon

    def test_validate_and_plugins_refuse_a_plugin_that_crashes_or_hangs_while_loading(self):
        d = self.load_fault_dir("crash_on_load.so", "hang_on_load.so")
        cfg = self.write_config(self.config(d, [file_check("a", self.status_file("ok"))], load_timeout="500ms"))
        for args in (["validate", "-c", cfg], ["plugins", "-c", cfg]):
            with self.subTest(command=args[0]):
                proc = self.run_vitals(args)
                out = proc.stdout + proc.stderr
                self.assertEqual(proc.returncode, 0, out)
                self.assertIn("crash_on_load.so: crashed while loading: SIGSEGV", out)
                self.assertIn("hang_on_load.so: hung while loading", out)
                # The good plugins still load and serve their types.
                self.assertIn("fixture_file" if args[0] == "plugins" else ": OK: 1 checks", out)

    def test_serve_with_a_check_whose_plugin_crashes_while_loading_is_a_config_error(self):
        d = self.load_fault_dir("crash_on_load.so")
        cfg = self.write_config(self.config(d, [check_config("c", "crash_on_load", "1s", "500ms")]))
        proc = subprocess.run([VITALS, "serve", "-c", cfg, "--port", "0"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=daemon_env(), timeout=30,
                              text=True, cwd=self.tmp)
        self.assertEqual(proc.returncode, 2, proc.stdout)  # a configuration error, not a signal
        self.assertIn("crash_on_load.so: crashed while loading: SIGSEGV", proc.stdout)
        self.assertIn('unknown check type "crash_on_load"', proc.stdout)

    def test_reload_after_a_crashing_plugin_is_dropped_in_keeps_the_daemon(self):
        daemon = self.serve_then_drop_in("crash_on_load", None)
        r = daemon.get("/admin/reload", method="POST", timeout=30)
        body = self.assertProblem(r, 422)
        self.assertIn("crash_on_load.so: crashed while loading: SIGSEGV", body["detail"])
        self.assertTrue(daemon.alive())
        self.assertEqual(daemon.get("/health").status, 200)
        self.assertEqual(sorted(daemon.get("/health").json()["checks"]), ["a:status"])


    def test_reload_with_a_plugin_that_hangs_while_loading_is_refused_and_the_daemon_serves(self):
        daemon = self.serve_then_drop_in("hang_on_load", "300ms")
        for _ in range(2):  # and again, with the file unchanged: still refused, still serving
            body = self.assertProblem(daemon.get("/admin/reload", method="POST", timeout=30), 422)
            self.assertIn("hang_on_load.so: hung while loading", body["detail"])
        self.assertEqual(daemon.get("/health").status, 200)
        self.assertTrue(daemon.alive())


class RefusedPluginsAreRememberedAcrossReloads(VitalsTestCase):
    def test_a_reload_starts_no_worker_for_a_plugin_refused_before(self):
        """Every file not loaded in the daemon is first loaded in a `vitals worker` child. A file a
        child refused (here: built for another ABI) is remembered with its identity, like a crash:
        reloads do not start a child for it again while the file is unchanged (each reload used to
        start one per refused file at once), and a changed file is tried again."""
        d = self.path("plugins")
        os.makedirs(d)
        for name in ("faults.so", "bad_abi_major.so"):
            shutil.copyfile(os.path.join(FIXTURE_DIR, name), os.path.join(d, name))
            os.chmod(os.path.join(d, name), 0o755)
        config = {"plugins": {"dirs": [d]}, "log": {"level": "debug"},
                  "checks": [file_check("a", self.status_file("ok"))]}
        daemon = self.start_daemon(config)
        self.wait_for(lambda: daemon.get("/health").status == 200, message="/health to pass")
        # (The start-up load ran before the configured debug level took effect: reloads are counted.)
        spawned = "bad_abi_major.so: loading it in a worker process first"
        for _ in range(2):
            self.assertEqual(daemon.get("/admin/reload", method="POST", timeout=30).status, 200)
        log = daemon.log()
        self.assertEqual(log.count(spawned), 0, log)
        self.assertEqual(log.count("bad_abi_major.so: built for plugin ABI 2.0"), 3, log)  # still said each time
        # The file changes (a new mtime and size): tried again, once.
        with open(os.path.join(d, "bad_abi_major.so"), "ab") as f:
            f.write(b"\0")
        self.assertEqual(daemon.get("/admin/reload", method="POST", timeout=30).status, 200)
        self.assertEqual(daemon.log().count(spawned), 1, daemon.log())


class ReloadUnderPolling(VitalsTestCase):
    """A reload that adds a check to the load balancer's group must not fail the group until that check
    has a result: a fleet-wide `systemctl reload` would otherwise pull every target."""

    def poll(self, daemon, path, stop, codes):
        while not stop.is_set():
            try:
                codes.append(daemon.get(path, timeout=5).status)
            except OSError as e:
                codes.append(repr(e))
            time.sleep(0.02)

    def reload_while_polling(self, daemon, config, until):
        stop, codes = threading.Event(), []
        poller = threading.Thread(target=self.poll, args=(daemon, "/health/alb", stop, codes), daemon=True)
        poller.start()
        try:
            time.sleep(0.2)
            self.write_config(config, "d0.json")
            r = daemon.get("/admin/reload", method="POST", timeout=30)
            self.assertEqual(r.status, 200, r)
            self.wait_for(until, 20.0, "the new check's first result")
            time.sleep(0.2)
        finally:
            stop.set()
            poller.join(10)
        return codes

    def base(self, ok):
        return {"server": {"address": "127.0.0.1"}, "history": {"path": self.path("d0.db")},
                "plugins": self.plugins_with_fixtures(),
                "groups": {"alb": {"checks": ["a"]}},
                "checks": [file_check("a", ok)]}

    def test_reload_adding_a_slow_passing_check_never_fails_the_group(self):
        ok = self.status_file("ok")
        config = self.base(ok)
        daemon = self.start_daemon(config)
        self.wait_for(lambda: daemon.get("/health/alb").status == 200, message="/health/alb to pass")
        config["checks"].append(check_config("slow", "fixture_sleep", "5s", "3s", options={"ms": "1s"}))
        config["groups"]["alb"]["checks"].append("slow")

        def slow_has_passed():
            return daemon.get("/health/checks/slow").json()["effectiveStatus"] == "pass"
        codes = self.reload_while_polling(daemon, config, slow_has_passed)
        self.assertGreater(len(codes), 10, codes)
        self.assertEqual(set(codes), {200}, codes)
        self.assertIn("slow:responseTime", daemon.get("/health/alb").json()["checks"])

    def test_a_check_added_by_reload_counts_from_its_first_result(self):
        ok, bad = self.status_file("ok"), self.status_file("bad", "fail", "broken")
        config = self.base(ok)
        daemon = self.start_daemon(config)
        self.wait_for(lambda: daemon.get("/health/alb").status == 200, message="/health/alb to pass")
        config["checks"].append(file_check("b", bad))
        config["groups"]["alb"]["checks"].append("b")
        self.write_config(config, "d0.json")
        self.assertEqual(daemon.get("/admin/reload", method="POST", timeout=30).status, 200)
        self.wait_for(lambda: daemon.get("/health/alb").status == 503, message="/health/alb to fail on b")
        body = daemon.get("/health/alb").json()
        self.assertIn("b: fail (critical)", body["output"])


class SigtermDuringReload(VitalsTestCase):
    def test_sigterm_drains_at_once_while_a_slow_reload_runs(self):
        ok = self.status_file("ok")
        config = {"server": {"address": "127.0.0.1"}, "history": {"path": self.path("d0.db")},
                  "plugins": self.plugins_with_fixtures(), "shutdown": {"drain": "1s"},
                  "checks": [file_check("a", ok)]}
        daemon = self.start_daemon(config)
        self.wait_for(lambda: daemon.get("/health").status == 200, message="/health to pass")
        # create() of the new check takes 30 s: the reload is still running when SIGTERM comes.
        config["checks"].append(check_config("slow", "fixture_sleep", "5s", "1s", options={"create_ms": "30s"}))
        self.write_config(config, "d0.json")
        daemon.signal(signal.SIGHUP)
        self.wait_for(lambda: "SIGHUP: reloading" in daemon.log(), message="the reload to start")
        daemon.signal(signal.SIGTERM)
        r = self.wait_for(lambda: (lambda r: r if r.status == 503 else None)(daemon.get("/health")),
                          10.0, "/health to report draining")
        self.assertEqual(r.json()["output"], "draining")
        self.assertNotIn("reloaded", daemon.log())  # the drain began while the reload still ran
        daemon.proc.wait(25)  # hang guard: the reload would take 30 s more
        self.assertEqual(daemon.proc.returncode, 0, daemon.log())
        self.assertIn("a reload is still running; exiting without waiting for it", daemon.log())
        self.assertNotIn("reloaded", daemon.log())


class SecretsContainingTheMask(VitalsTestCase):
    """Issue 14 item 11: a secret equal to or containing the mask "***" is scrubbed like any other
    (scrubbing used to loop forever on it), and create() errors are scrubbed too (they used to reach
    the reload's 422 body, the log and an isolated check's output verbatim)."""

    def test_a_mask_secret_does_not_hang_and_create_errors_are_scrubbed(self):
        secret = "s3cret-***-x"
        config = {"plugins": self.plugins_with_fixtures(),
                  "checks": [check_config("mask", "fixture_leaky", "100ms", "50ms", options={"password": "***"}),
                             check_config("iso", "fixture_leaky_create", "100ms", "80ms", isolation="process",
                                          options={"password": secret})]}
        d = self.start_daemon(config)

        def result(name):
            r = d.get("/health/checks/" + name).json().get("lastResult")
            return r if r and r.get("output") else None
        # Hang guard only: before the fix the run's scrubbing never returned, so no result came.
        r = self.wait_for(lambda: result("mask"), 10.0, "a result of the check whose secret is the mask")
        self.assertEqual(r["output"], "AUTH failed for password '***' (***)")
        r = self.wait_for(lambda: result("iso"), 10.0, "a result of the isolated check")
        self.assertEqual(r["output"], "fixture_leaky_create: cannot log in with password '***' (***)")

        config["checks"].append(check_config("refuser", "fixture_leaky_create", "1s", "500ms",
                                             options={"password": secret}))
        self.write_config(dict(config, server={"address": "127.0.0.1"}, history={"path": self.path("d0.db")}),
                          "d0.json")
        body = self.assertProblem(d.get("/admin/reload", method="POST", body=b""), 422)
        self.assertIn("checks[2].options: fixture_leaky_create: cannot log in with password '***' (***)",
                      body["detail"])
        self.assertNotIn(secret, body["detail"])
        self.assertIn("cannot log in with password '***' (***)", d.log())
        self.assertNotIn(secret, d.log())

        proc = self.run_vitals(["validate", "-c", d.config_path])
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("cannot log in with password '***' (***)", proc.stdout + proc.stderr)
        self.assertNotIn(secret, proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
