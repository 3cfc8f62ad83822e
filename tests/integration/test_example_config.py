"""The example configuration that `make run` serves (config/vitals.json): it must validate and pass
on a fresh machine. The test runs it as `make run` does, on a free port instead of 8081."""

import os
import shutil
import socket
import unittest

from vitals_harness import SOURCE_DIR, Daemon, VitalsTestCase, daemon_env, entry_statuses, health_check_entry

EXAMPLE = os.path.join(SOURCE_DIR, "config", "vitals.json")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ExampleConfigTest(VitalsTestCase):

    def test_example_config_validates(self):
        r = self.run_vitals(["validate", "-c", EXAMPLE])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_example_config_serves_200_with_health_json(self):
        # A copy, so relative paths (history's var/) land in the temp dir, not in config/.
        cfg = self.path("vitals.json")
        shutil.copyfile(EXAMPLE, cfg)
        port = free_port()
        # VITALS_PORT feeds both server.port and the tcp self-check, as in the example file.
        d = Daemon(cfg, self.path("example.log"), env=daemon_env(extra={"VITALS_PORT": str(port)}),
                   args=["--port", str(port)])
        self.daemons.append(d)
        self.addCleanup(d.stop)
        d.start()
        self.assertEqual(d.port, port)
        r = self.wait_for(lambda: (lambda r: r if r.status == 200 else None)(d.get("/health")), timeout=10,
                          message="/health 200 with the example config")
        self.assertEqual(r.headers.get("Content-Type"), "application/health+json")
        body = r.json()
        # The disk check is "degraded" in the example: on a nearly full disk (this host's, not ours to
        # set) it does not pass, and the group warns instead of failing, still 200.
        self.assertEqual(body["status"], "pass" if entry_statuses(body) == {"pass"} else "warn", body)
        self.assertEqual(health_check_entry(body, "self")["status"], "pass")
        self.assertIn("self:responseTime", body["checks"])
        self.assertIn("root-disk:freeSpace", body["checks"])
        # The Quick start's target group path, and the liveness group, exist and pass.
        alb = d.get("/health/alb")
        self.assertEqual(alb.status, 200, alb)
        self.assertEqual(sorted(alb.json()["checks"]), ["root-disk:freeSpace", "self:responseTime"])
        live = d.get("/health/live")
        self.assertEqual(live.status, 200, live)
        self.assertEqual(sorted(live.json()["checks"]), ["self:responseTime"])


if __name__ == "__main__":
    unittest.main()
