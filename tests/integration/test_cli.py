"""The `vitals` command line (SPEC section 7): --version/--help, validate, check, plugins, and the
plugin loader's refusals as an operator sees them."""

import os
import re
import signal
import threading
import unittest

from vitals_harness import (CHECK_ROW_RE, PLUGIN_DIR, POLL_SECONDS, SOURCE_DIR, VitalsTestCase, daemon_env, file_check,
                            strip_value)


def project_version():
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        m = re.search(r"project\(\s*vitals\s+VERSION\s+([0-9][0-9.]*)", f.read())
    return m.group(1) if m else None


def tcp_check(name, port=9, **extra):
    c = {"name": name, "type": "tcp", "interval": "5s", "timeout": "1s",
         "options": {"host": "127.0.0.1", "port": port}}
    c.update(extra)
    return c


class CliBasicsTest(VitalsTestCase):
    def test_version(self):
        p = self.run_vitals(["--version"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"\bvitals\b")
        self.assertRegex(p.stdout, r"\d+\.\d+\.\d+")
        version = project_version()
        if version:
            self.assertIn(version, p.stdout)

    def test_help(self):
        p = self.run_vitals(["--help"])
        self.assertEqual(p.returncode, 0, p.stderr)
        for word in ("serve", "validate", "check", "plugins", "--config", "--port"):
            self.assertIn(word, p.stdout)

    def test_usage_errors_exit_2(self):
        for args in (["--frobnicate"], ["validate", "--frobnicate"], ["frobnicate"], ["--port", "seventy"],
                     ["validate", "-c"]):
            with self.subTest(args=args):
                p = self.run_vitals(args, timeout=10)
                self.assertEqual(p.returncode, 2, (p.stdout, p.stderr))
                self.assertTrue(p.stderr.strip(), "no message on stderr")
        p = self.run_vitals(["--frobnicate"])
        self.assertIn("--frobnicate", p.stderr)

    def test_check_exits_3_unknown_on_usage_and_configuration_errors(self):
        # `vitals check` is itself a Nagios-style plugin: 2 would read as CRITICAL, 3 is UNKNOWN.
        bad = self.write_config({"checks": [{"name": "x", "type": "no-such-type"}]})
        for args in (["check", "--frobnicate"], ["--frobnicate", "check"], ["check", "-c", bad],
                     ["check", "-c", self.path("missing.json")]):
            with self.subTest(args=args):
                p = self.run_vitals(args, timeout=10)
                self.assertEqual(p.returncode, 3, (p.stdout, p.stderr))
                self.assertTrue(p.stderr.strip(), "no message on stderr")
        # The other commands keep 2 for the same errors.
        p = self.run_vitals(["validate", "-c", bad], timeout=10)
        self.assertEqual(p.returncode, 2, (p.stdout, p.stderr))

    def test_help_lists_the_history_cursor(self):
        p = self.run_vitals(["--help"])
        self.assertIn("--cursor", p.stdout)


class ValidateTest(VitalsTestCase):
    def good_config(self):
        return {"server": {"address": "127.0.0.1", "port": 18081, "details": "loopback"},
                "policy": {"start_period": "30s", "http_status": {"warn": 200, "fail": 503}},
                "groups": {"alb": {"checks": ["upstream"]}, "both": {"checks": ["upstream", "root"], "quorum": 1}},
                "checks": [tcp_check("upstream", 8080, rise=2, fall=3, impact="critical"),
                           {"name": "root", "type": "disk", "interval": "30s", "timeout": "2s",
                            "impact": "degraded", "options": {"path": "/", "warn_free_percent": 10}}],
                "shutdown": {"drain": "0s"},
                "log": {"level": "info", "format": "text"}}

    def test_good_config(self):
        cfg = self.write_config(self.good_config())
        p = self.run_vitals(["validate", "-c", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = self.run_vitals(["validate", "--config", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    # Each mistake, and the path its error must name.
    MISTAKES = [
        ("unknown top-level key", lambda c: c.update(bogus=1), "bogus"),
        ("unknown option", lambda c: c["checks"][1].update(options={"host": "127.0.0.1", "port": 1, "prot": 3}),
         "checks[1].options.prot"),
        ("bad duration", lambda c: c["checks"][0].update(interval="5x"), "checks[0].interval"),
        ("timeout >= interval", lambda c: c["checks"][2].update(interval="1s", timeout="2s"), "checks[2].timeout"),
        ("unknown check type", lambda c: c["checks"][3].update(type="nosuchtype"), "checks[3].type"),
        ("reserved group name", lambda c: c.update(groups={"history": {"checks": ["c0"]}}), "groups.history"),
        ("unset variable", lambda c: c["checks"][4]["options"].update(host="${VITALS_IT_SURELY_UNSET}"),
         "checks[4].options.host"),
    ]

    def base(self):
        return {"server": {"address": "127.0.0.1"},
                "checks": [tcp_check("c%d" % i, 1000 + i) for i in range(5)]}

    def test_each_mistake_names_its_path(self):
        env = daemon_env(extra={"VITALS_IT_SURELY_UNSET": None})
        for what, mutate, path in self.MISTAKES:
            with self.subTest(mistake=what):
                cfg = self.base()
                mutate(cfg)
                p = self.run_vitals(["validate", "-c", self.write_config(cfg, "one.json")], env=env)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn(path, p.stderr)

    def test_all_mistakes_reported_at_once(self):
        cfg = self.base()
        for _, mutate, _ in self.MISTAKES:
            mutate(cfg)
        p = self.run_vitals(["validate", "-c", self.write_config(cfg)],
                            env=daemon_env(extra={"VITALS_IT_SURELY_UNSET": None}))
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        missing = [path for _, _, path in self.MISTAKES if path not in p.stderr]
        self.assertEqual(missing, [], "errors not reported:\n%s" % p.stderr)

    def test_malformed_json(self):
        cfg = self.write_config('{"checks": [ {"name": "a", "type": "tcp",, } ]')
        p = self.run_vitals(["validate", "-c", cfg])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn(cfg, p.stderr)

    def test_duplicate_keys_are_errors_with_their_paths(self):
        # The second "checks" would silently replace the first: the file validated as "0 checks".
        text = """{
  "checks": [{"name": "a", "type": "tcp", "options": {"host": "127.0.0.1", "port": 1, "port": 2}}],
  "server": {"address": "127.0.0.1", "port": 18081, "port": 18082},
  "checks": []
}"""
        p = self.run_vitals(["validate", "-c", self.write_config(text)])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        for error in ('checks: duplicate key "checks"', 'checks[0].options.port: duplicate key "port"',
                      'server.port: duplicate key "port"'):
            self.assertIn(error, p.stderr)

    def test_numbers_durations_and_defaults_follow_one_rule(self):
        # (what, check fields, error the output must hold, error it must not)
        cases = [
            ("a string for an integer", {"rise": "1"}, 'checks[0].rise: expected an integer, got a string ("1")', None),
            ("a string for an integer option", {"options": {"host": "127.0.0.1", "port": "1"}},
             "checks[0].options.port: expected an integer, got a string", None),
            ("a fraction for an integer", {"fall": 1.5},
             "checks[0].fall: expected an integer (digits only: no fraction or exponent), got 1.5", None),
            ("a number for a duration", {"interval": 10000},
             'checks[0].interval: expected a duration with a unit, such as "250ms" or "5s", got the number 10000', None),
            ("a huge number for a duration", {"interval": 1e300},
             'checks[0].interval: expected a duration with a unit, such as "250ms" or "5s", got the number', None),
            ("an invalid timeout is not compared", {"interval": "1s", "timeout": "2x"},
             'checks[0].timeout: invalid duration "2x"', "must be shorter than the interval"),
            ("a default is named as one", {"interval": "1s", "timeout": None},
             "checks[0].timeout: must be shorter than the interval (default timeout 2s >= interval 1s)", None),
        ]
        for what, fields, error, absent in cases:
            with self.subTest(what):
                check = tcp_check("c")
                check.update(fields)
                check = {k: v for k, v in check.items() if v is not None}
                p = self.run_vitals(["validate", "-c", self.write_config({"checks": [check]}, "one.json")])
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn(error, p.stderr)
                if absent:
                    self.assertNotIn(absent, p.stderr)
        # Plugin options follow the same rule: a duration option as a number is refused, with a unit it is fine.
        http = {"name": "api", "type": "http", "options": {"url": "http://127.0.0.1:1/", "warn_latency": 500}}
        p = self.run_vitals(["validate", "-c", self.write_config({"checks": [http]}, "http.json")])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("checks[0].options.warn_latency: expected a duration with a unit", p.stderr)
        http["options"]["warn_latency"] = "500ms"
        p = self.run_vitals(["validate", "-c", self.write_config({"checks": [http]}, "http.json")])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_config_must_be_a_regular_file_of_at_most_4_mib(self):
        directory = self.path("conf.d")
        os.mkdir(directory)
        fifo = self.path("fifo.json")
        os.mkfifo(fifo)  # opening it must not wait for a writer
        big = self.write_config('{"checks": []}' + " " * (4 << 20), "big.json")
        for path, error in ((directory, "is a directory, not a regular file"),
                            (fifo, "is a FIFO, not a regular file"),
                            (big, "too large; a configuration file is at most 4 MiB")):
            with self.subTest(path=path):
                p = self.run_vitals(["validate", "-c", path], timeout=10)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn(path + ": " + error, p.stderr)
                self.assertNotIn("unexpected end of text", p.stderr)
        # Exactly at the limit is still read.
        at_limit = self.write_config('{"checks": []}'.ljust(4 << 20), "at-limit.json")
        p = self.run_vitals(["validate", "-c", at_limit])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_missing_file(self):
        missing = self.path("no-such-config.json")
        p = self.run_vitals(["validate", "-c", missing])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn(missing, p.stderr)

    def test_checks_required(self):
        p = self.run_vitals(["validate", "-c", self.write_config({"server": {"port": 1}})])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("checks", p.stderr)

    def test_plugin_rejected_options_are_config_errors(self):
        cfg = self.write_config({"plugins": self.plugins_with_fixtures(),
                                 "checks": [tcp_check("fine"),
                                            {"name": "refuser", "type": "fixture_create_fails",
                                             "options": {"reason": "no database today"}}]})
        p = self.run_vitals(["validate", "-c", cfg])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("checks[1]", p.stderr)
        self.assertIn("no database today", p.stderr)

    def test_environment_substitution(self):
        peer = self.listener()
        cfg = self.write_config({
            "server": {"address": "${VITALS_IT_ADDR:-127.0.0.1}", "port": "${VITALS_IT_SERVER_PORT:-18081}"},
            "checks": [{"name": "upstream", "type": "tcp", "interval": "${VITALS_IT_INTERVAL:-2s}",
                        "timeout": "1s",
                        "options": {"host": "${VITALS_IT_HOST}", "port": "${VITALS_IT_PORT:-%d}" % peer.port}}]})
        env = daemon_env(extra={"VITALS_IT_HOST": "127.0.0.1", "VITALS_IT_ADDR": None, "VITALS_IT_PORT": None,
                                "VITALS_IT_SERVER_PORT": None, "VITALS_IT_INTERVAL": None})
        p = self.run_vitals(["validate", "-c", cfg], env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # The substituted values are the ones used: the check reaches the live peer.
        p = self.run_vitals(["check", "-c", cfg], env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.wait_for(lambda: peer.accepted >= 1, 5, "the peer to accept the check's connection")
        # A set variable wins over the default: a refused port makes the check fail.
        closed = self.listener()
        closed.close()
        env["VITALS_IT_PORT"] = str(closed.port)
        p = self.run_vitals(["check", "-c", cfg], env=env)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        # Unset without a default: an error naming the path.
        env.pop("VITALS_IT_HOST")
        p = self.run_vitals(["validate", "-c", cfg], env=env)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("checks[0].options.host", p.stderr)
        self.assertIn("VITALS_IT_HOST", p.stderr)

    def test_comments_allowed(self):
        text = """// vitals configuration with comments
{
  /* the server section
     spans lines */
  "server": {"address": "127.0.0.1"},  // trailing comment
  "plugins": {"dirs": ["%s//"]},  /* "//" inside a string is not a comment */
  "checks": [
    // a check
    {"name": "upstream", "type": "tcp", /* inline */ "options": {"host": "127.0.0.1", "port": 8080}}
  ]
}
""" % PLUGIN_DIR
        p = self.run_vitals(["validate", "-c", self.write_config(text)])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("OK", p.stdout)


class RssGuard:
    """Kills daemon `d` (SIGKILL) if its resident set grows past `limit_kib`: bounds what a test of
    an unbounded read may cost the machine. `fired` says whether it had to."""

    def __init__(self, d, limit_kib):
        self.d, self.limit_kib, self.fired = d, limit_kib, False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        while not self._stop.wait(POLL_SECONDS / 5) and self.d.alive():
            try:
                if self.d.rss_kib() > self.limit_kib:
                    self.fired = True
                    self.d.proc.kill()
                    return
            except (OSError, AssertionError):
                return

    def stop(self):
        self._stop.set()
        self._thread.join(5)


class ConfigFileReloadTest(VitalsTestCase):
    def test_reload_refuses_a_device_a_directory_and_a_huge_file(self):
        status = self.status_file("a.status", "pass")
        d = self.start_daemon({"plugins": self.plugins_with_fixtures(), "checks": [file_check("a", status)]})
        self.wait_for(lambda: d.get("/health").status == 200, 10, "/health to pass")
        with open(d.config_path) as f:
            good = f.read()
        rss_before = d.rss_kib()
        guard = RssGuard(d, rss_before + 512 * 1024)
        self.addCleanup(guard.stop)

        def remove_config():
            if os.path.isdir(d.config_path) and not os.path.islink(d.config_path):
                os.rmdir(d.config_path)
            else:
                os.remove(d.config_path)

        def huge(path):
            with open(path, "w") as f:
                f.write(good + " " * (5 << 20))

        for what, make, error in (("a symlink to /dev/zero", lambda p: os.symlink("/dev/zero", p),
                                   "is a character device, not a regular file"),
                                  ("a directory", os.mkdir, "is a directory, not a regular file"),
                                  ("a 5 MiB file", huge, "too large; a configuration file is at most 4 MiB")):
            with self.subTest(config=what):
                remove_config()
                make(d.config_path)
                message = d.config_path + ": " + error
                body = self.assertProblem(d.get("/admin/reload", method="POST", body=b""), 422)
                self.assertIn(message, body["detail"], body)
                logged = d.log().count(message)
                self.assertGreaterEqual(logged, 1, d.log())
                d.signal(signal.SIGHUP)
                self.wait_for(lambda: d.log().count(message) > logged, 10, "the SIGHUP reload's refusal in the log")
                self.assertEqual(d.get("/health").status, 200)
                self.assertTrue(d.alive(), d.log())

        self.assertFalse(guard.fired, "the daemon's memory ran away (killed at %d KiB)" % guard.limit_kib)
        grown = d.rss_kib() - rss_before
        self.assertLess(grown, 64 * 1024, "RSS grew by %d KiB over the refused reloads" % grown)
        # The same file, made regular again, reloads.
        remove_config()
        with open(d.config_path, "w") as f:
            f.write(good)
        r = d.get("/admin/reload", method="POST", body=b"")
        self.assertEqual(r.status, 200, r)


class CheckCommandTest(VitalsTestCase):
    def run_check(self, statuses, impacts=None):
        """`vitals check` over fixture_file checks c0.. with the given statuses; returns the process."""
        impacts = impacts or {}
        checks = []
        for i, status in enumerate(statuses):
            name = "check%d" % i
            path = self.status_file(name + ".status", status, "%s says %s" % (name, status))
            extra = {"impact": impacts[name]} if name in impacts else {}
            checks.append(file_check(name, path, interval="1s", timeout="500ms", **extra))
        cfg = self.write_config({"plugins": self.plugins_with_fixtures(), "checks": checks}, "check.json")
        return self.run_vitals(["check", "-c", cfg], timeout=20)

    def test_exit_codes(self):
        cases = [
            (["pass", "pass"], {}, 0),
            (["pass", "warn"], {}, 1),
            (["pass", "fail"], {}, 2),
            (["warn", "fail"], {}, 2),
            (["pass", "fail"], {"check1": "degraded"}, 1),
            (["pass", "fail"], {"check1": "ignore"}, 0),
        ]
        for statuses, impacts, code in cases:
            with self.subTest(statuses=statuses, impacts=impacts):
                p = self.run_check(statuses, impacts)
                self.assertEqual(p.returncode, code, p.stdout + p.stderr)
                for i, status in enumerate(statuses):
                    line = [l for l in p.stdout.splitlines() if l.split()[:1] == ["check%d" % i]]
                    self.assertEqual(len(line), 1, p.stdout)
                    self.assertIn(status, line[0].split(), line[0])
                    self.assertIn("check%d says %s" % (i, status), line[0])

    def test_tcp_and_disk(self):
        peer = self.listener()
        cfg = self.write_config({"checks": [
            tcp_check("upstream", peer.port),
            {"name": "root", "type": "disk", "options": {"path": "/", "warn_free_percent": 0,
                                                         "fail_free_percent": 0, "fail_free_inodes_percent": 0}}]})
        p = self.run_vitals(["check", "-c", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("upstream", p.stdout)
        self.assertIn("root", p.stdout)

    def test_hung_check_times_out(self):
        cfg = self.write_config({"plugins": self.plugins_with_fixtures(),
                                 "checks": [{"name": "hang", "type": "fixture_hang", "timeout": "300ms"},
                                            {"name": "fine", "type": "fixture_counter"}]})
        # fixture_hang sleeps an hour: finishing within run_vitals' hang guard, with a row for each
        # check, means vitals check did not wait for the call.
        p = self.run_vitals(["check", "-c", cfg], timeout=30)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        rows = {m.group(1): (m.group(3), strip_value(m.group(5)))
                for m in map(CHECK_ROW_RE.match, p.stdout.splitlines()) if m}
        self.assertEqual(rows, {"hang": ("fail", "timed out after 300 ms"), "fine": ("pass", "run 1")},
                         p.stdout + p.stderr)


class PluginsCommandTest(VitalsTestCase):
    def plugins_output(self, cfg=None, env=None):
        args = ["plugins"] + (["-c", cfg] if cfg else [])
        p = self.run_vitals(args, env=env)
        return p, p.stdout + p.stderr

    def test_lists_builtin_types_and_options(self):
        p, out = self.plugins_output()
        self.assertEqual(p.returncode, 0, out)
        for word in ("disk", "tcp", "warn_free_percent", "fail_free_percent", "host", "port"):
            self.assertRegex(out, r"\b%s\b" % word)
        self.assertNotIn("fixture_file", out)

    def test_plugin_dir_from_environment(self):
        d = self.fixture_plugin_dir()
        p, out = self.plugins_output(env=daemon_env(plugin_dir=d))
        self.assertEqual(p.returncode, 0, out)
        for word in ("fixture_file", "disk", "tcp"):
            self.assertRegex(out, r"\b%s\b" % word)

    def config_with_dir(self, d, **plugins):
        section = {"dirs": [PLUGIN_DIR, d]}
        section.update(plugins)
        return self.write_config({"plugins": section, "checks": []}, "plugins.json")

    def test_bad_abi_refused(self):
        d = self.fixture_plugin_dir(("bad_abi_major.so",), name="abi")
        cfg = self.config_with_dir(d)
        p, out = self.plugins_output(cfg)
        self.assertEqual(p.returncode, 0, out)
        refusal = [l for l in out.splitlines() if "bad_abi_major.so" in l]
        self.assertTrue(refusal, out)
        self.assertIn("ABI", "\n".join(refusal))
        self.assertRegex(out, r"\bdisk\b")  # the good plugins still load
        p = self.run_vitals(["validate", "-c", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("bad_abi_major.so", p.stdout + p.stderr)
        self.assertIn("ABI", p.stdout + p.stderr)
        # serve opens only the plugin files its check types need: with a disk check, disk.so
        # answers by its name and the broken file is never opened.
        disk = {"name": "root", "type": "disk", "interval": "200ms", "timeout": "100ms",
                "options": {"warn_free_percent": 0, "fail_free_percent": 0, "fail_free_inodes_percent": 0}}
        lean = self.start_daemon({"plugins": {"dirs": [PLUGIN_DIR, d]}, "checks": [disk]})
        self.wait_for(lambda: lean.get("/health").status == 200, 10, "/health to pass")
        self.assertNotIn("bad_abi_major.so", lean.log())
        self.assertIn("(1 plugin types loaded)", lean.log())
        with open("/proc/%d/maps" % lean.proc.pid) as f:
            maps = f.read()
        self.assertIn("/disk.so", maps)
        self.assertNotIn("/http.so", maps)  # nor OpenSSL's users
        # A type no file is named after (fixture_counter lives in faults.so) makes serve open every
        # file: it logs the refusal and keeps going.
        self.fixture_plugin_dir(("faults.so",), name="abi")  # joins bad_abi_major.so in d
        full = self.start_daemon({"plugins": {"dirs": [PLUGIN_DIR, d]},
                                  "checks": [disk, {"name": "count", "type": "fixture_counter"}]})
        refusal = [l for l in full.log().splitlines() if "bad_abi_major.so" in l]
        self.assertTrue(refusal, full.log())
        self.assertIn("ABI", "\n".join(refusal))
        self.wait_for(lambda: full.get("/health").status == 200, 10, "/health to pass")

    def test_group_writable_plugin_refused(self):
        d = self.fixture_plugin_dir(mode=0o666, name="writable")
        p, out = self.plugins_output(self.config_with_dir(d))
        self.assertEqual(p.returncode, 0, out)
        refusal = [l for l in out.splitlines() if "faults.so" in l and "refused" in l.lower()]
        self.assertTrue(refusal, out)
        self.assertIn("writable", "\n".join(refusal))
        self.assertNotRegex(out, r"\bfixture_file\b")
        # A config that uses a type from the refused plugin does not validate.
        cfg = self.write_config({"plugins": {"dirs": [PLUGIN_DIR, d]},
                                 "checks": [{"name": "f", "type": "fixture_counter"}]}, "uses.json")
        p = self.run_vitals(["validate", "-c", cfg])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("checks[0].type", p.stderr)
        self.assertIn("writable", p.stdout + p.stderr)

        # With strict_permissions off, it loads.
        p, out = self.plugins_output(self.config_with_dir(d, strict_permissions=False))
        self.assertEqual(p.returncode, 0, out)
        self.assertRegex(out, r"\bfixture_file\b")
        self.assertNotIn("refused", out)

    def test_group_writable_directory_refused(self):
        d = self.fixture_plugin_dir(name="opendir")
        os.chmod(d, 0o777)
        p, out = self.plugins_output(self.config_with_dir(d))
        self.assertEqual(p.returncode, 0, out)
        self.assertNotRegex(out, r"\bfixture_file\b")
        self.assertIn("writable", out)
        self.assertIn(d, out)


if __name__ == "__main__":
    unittest.main()
