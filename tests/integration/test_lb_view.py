"""What the load balancer saw (SPEC section 9), against a real scenario: three emulated ALB nodes
(alb_nodes.py: their own source addresses in 127.0.0.0/8, ELB-HealthChecker/2.0, a new connection per
probe, their own counters) probe /health/alb while the daemon is stalled (SIGSTOP: answers later
than the nodes' timeout), a real redis-server is stopped and restarted and the real WebSocket server
is killed. Each node logs its own decisions; /health/replay and `vitals replay` must reproduce every
one of them: same states in the same order, times within one probe interval, ALB's reason codes and
the group's cause in force. Then the probe-aware drain: SIGTERM with shutdown.drain 30s ends as soon
as every node has seen two 503s, and no node ever sees a refused connection. Intervals are scaled
down (250 ms probes) to keep the test short; nothing here asserts a time."""

import json
import os
import signal
import time
import unittest

from alb_nodes import USER_AGENT, phase_sleep, start_nodes, wait_states
from peers import RedisServer, start_peer_script
from vitals_harness import VitalsTestCase, file_check, write_status_file

INTERVAL = 0.25  # the nodes' and load_balancer's probe interval, seconds
TIMEOUT = 0.2
LB = {"interval": "250ms", "timeout": "200ms", "healthy_threshold": 2, "unhealthy_threshold": 2,
      "path": "/health/alb"}
# Set to a file name to keep the scenario's `vitals replay` output (the README's example).
SAMPLE_OUT = os.environ.get("VITALS_REPLAY_SAMPLE")


class ReplayScenarioTest(VitalsTestCase):

    def start_scenario(self):
        self.redis = RedisServer(self.path("redis")).start()
        self.addCleanup(lambda: self.redis.stop())
        self.ws = start_peer_script(self, "ws_server.py")
        # stale_after: a stalled daemon's results must not turn stale under it (the stall is
        # about late answers, not about failing checks).
        checks = [
            {"name": "ws", "type": "websocket", "interval": "200ms", "timeout": "150ms", "stale_after": "30s",
             "options": {"url": "ws://127.0.0.1:%d/" % self.ws.port}},
            {"name": "redis", "type": "redis", "interval": "200ms", "timeout": "150ms", "stale_after": "30s",
             "options": {"host": "127.0.0.1", "port": self.redis.port}},
        ]
        return self.start_daemon({"checks": checks, "groups": {"alb": {"checks": ["ws", "redis"]}},
                                  "load_balancer": LB})

    def replay(self, d, query=""):
        r = d.get("/health/replay" + query)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_replay_reproduces_every_node_decision_with_reasons_and_causes(self):
        d = self.start_scenario()
        self.wait_for(lambda: d.get("/health/alb").status == 200, 15.0, "/health/alb to pass")
        nodes = start_nodes(self, d.port, "/health/alb", interval=INTERVAL, timeout=TIMEOUT, healthy=2, unhealthy=2)
        wait_states(self, nodes, "healthy", 1)

        # 1. The daemon stalls for about 1.2 s: every answer meanwhile comes later than the nodes'
        # timeout. It stops and resumes between probes (the nodes probe in step): 100 ms after one
        # was answered, and 225 ms after one was sent (past the 200 ms timeout, 25 ms before the
        # next), so no answer is within a scheduling hiccup of the timeout, on either side.
        phase_sleep(nodes[0], 0.1)
        d.signal(signal.SIGSTOP)
        phase_sleep(nodes[0], 0.225, at_least=1.1)
        d.signal(signal.SIGCONT)
        wait_states(self, nodes, "unhealthy", 1)
        wait_states(self, nodes, "healthy", 2)
        # 2. Redis stops, and comes back on the same port.
        self.redis.stop()
        wait_states(self, nodes, "unhealthy", 2)
        self.redis = RedisServer(self.path("redis"), port=self.redis.port).start()
        wait_states(self, nodes, "healthy", 3)
        # 3. The WebSocket server dies.
        self.ws.proc.kill()
        self.ws.proc.wait(10)
        wait_states(self, nodes, "unhealthy", 3)
        for n in nodes:
            n.stop()

        # Every answer the nodes got is in history once the rows of their last second are written.
        def replayed():
            body = self.replay(d, "?since=-5m")
            counts = {p["address"]: p["probes"] for p in body["probers"] if p["user_agent"] == USER_AGENT}
            wanted = {n.source: len(n.snapshot()[0]) for n in nodes}
            return body if counts == wanted else None
        body = self.wait_for(replayed, 15.0, "the replay to hold every probe of every node")
        self.assertEqual(body["source"], "probes")
        self.assertEqual(body["settings"]["unhealthy_threshold"], 2)
        by_address = {p["address"]: p for p in body["probers"]}
        expected_unhealthy = [
            ("Target.Timeout", None, "all counted checks pass"),
            ("Target.ResponseCodeMismatch", [503], "redis: fail (critical)"),
            ("Target.ResponseCodeMismatch", [503], "ws: fail (critical)"),
        ]
        for n in nodes:
            probes, decisions, _ = n.snapshot()
            replayed_changes = by_address[n.source]["changes"]
            mine = [(c.state, c.reason, c.codes or None) for c in decisions]
            theirs = [(c["state"], c["reason"], c.get("codes")) for c in replayed_changes]
            self.assertEqual(theirs, mine, "node %s decided %r, the replay says %r" % (n.name, decisions, replayed_changes))
            # Times: the initial state at the first probe, every change within one probe interval.
            times = [probes[0].time] + [c.time for c in decisions[1:]]
            for when, change in zip(times, replayed_changes):
                replay_time = parse_time(change["time"])
                near = [p for p in probes if abs(p.time - when) < 1.0]
                self.assertLessEqual(abs(replay_time - when), INTERVAL, (n.name, change, when, near))
            unhealthy = [(c["reason"], c.get("codes"), c["cause"]) for c in replayed_changes if c["state"] == "unhealthy"]
            self.assertEqual(unhealthy, expected_unhealthy, n.name)
            # The stalled answers were 200s, but late: slower than the timeout as vitals measured them
            # from the request's arrival, or answered after the node had given up and closed.
            timeout_change = [c for c in replayed_changes if c["reason"] == "Target.Timeout"][0]
            self.assertEqual(timeout_change["answer"]["code"], 200)
            answer = timeout_change["answer"]
            self.assertTrue(answer.get("abandoned") or answer["latency_ms"] > TIMEOUT * 1000, answer)
            summary = by_address[n.source]["summary"]
            self.assertEqual(summary["unhealthy_episodes"], 3, summary)
            self.assertIsNone(summary["episodes"][-1]["end"])  # still unhealthy: the ws server is gone
        self.assertEqual(body["summary"]["episodes"][1]["cause"], "redis: fail (critical)")

        # The CLI reads the same file and says the same; --json is the API's body.
        d.stop()
        cli = self.run_vitals(["replay", "-c", d.config_path, "--since", "-5m", "--prober", nodes[0].source])
        self.assertEqual(cli.returncode, 0, cli.stderr)
        if SAMPLE_OUT:
            with open(SAMPLE_OUT, "w") as f:
                f.write(cli.stdout)
        lines = [l for l in cli.stdout.splitlines() if l.startswith("  20")]
        states = [l.split()[1] for l in lines if len(l.split()) > 1 and l.split()[1] in ("initial", "healthy", "unhealthy")]
        self.assertEqual(states, [c[0] for c in [(d_.state,) for d_ in nodes[0].snapshot()[1]]], cli.stdout)
        self.assertIn("Target.ResponseCodeMismatch [503]", cli.stdout)
        self.assertIn("cause: redis: fail (critical)", cli.stdout)
        self.assertIn("Target.Timeout", cli.stdout)
        as_json = self.run_vitals(["replay", "-c", d.config_path, "--since", "-5m", "--json"])
        self.assertEqual(as_json.returncode, 0, as_json.stderr)
        self.assertEqual([p["changes"] for p in json.loads(as_json.stdout)["probers"]],
                         [p["changes"] for p in body["probers"]])

        # The what-if over the same recorded status. With the nodes' own settings it shows no
        # Target.Timeout: the status never failed during the stall, only the answers were late.
        # With 5 s x 2 the redis outage (about a second of failing status) would not have pulled it.
        def what_if(*extra):
            out = self.run_vitals(["replay", "-c", d.config_path, "--json", "--source", "status", "--group", "alb",
                                   "--since", "-5m"] + list(extra))
            self.assertEqual(out.returncode, 0, out.stderr)
            return json.loads(out.stdout)
        same = what_if()
        self.assertEqual(same["source"], "status")
        self.assertEqual(len(same["probers"]), 1)
        self.assertTrue(same["probers"][0]["simulated"])
        reasons = {c["reason"] for c in same["probers"][0]["changes"]}
        self.assertNotIn("Target.Timeout", reasons)
        self.assertIn("Target.ResponseCodeMismatch", reasons)
        self.assertNotIn("all counted checks pass", [e["cause"] for e in same["summary"]["episodes"]])
        slow = what_if("--interval", "5s", "--timeout", "2s")
        self.assertEqual(slow["settings"]["interval_ms"], 5000)
        self.assertNotIn("redis: fail (critical)", [e["cause"] for e in slow["summary"]["episodes"]], slow["summary"])


class ReplayBadInputTest(VitalsTestCase):

    def test_bad_parameters_unknown_group_and_an_empty_range(self):
        a = self.status_file("a.status", "pass")
        d = self.start_daemon({"plugins": self.plugins_with_fixtures(),
                               "checks": [file_check("a", a)], "groups": {"alb": {"checks": ["a"]}},
                               "load_balancer": LB})
        for query, parameter in [("?group=nosuch", "group"), ("?source=logs", "source"),
                                 ("?interval=5", "interval"), ("?interval=1s&timeout=1s", "timeout"),
                                 ("?healthy_threshold=11", "healthy_threshold"), ("?since=yesterday", "since"),
                                 ("?since=-1h&until=-2h", "since"), ("?prober=node-1", "prober"),
                                 ("?match=2xx", "match"), ("?colour=red", "colour")]:
            body = self.assertProblem(d.get("/health/replay" + query), 400)
            self.assertTrue(body["detail"].startswith("parameter %s:" % parameter), (query, body))
        self.wait_for(lambda: d.get("/health/history?limit=1").json()["items"], 10.0, "some history")
        empty = d.get("/health/replay?source=probes&since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z")
        self.assertEqual(empty.status, 200, empty)
        self.assertEqual(empty.json()["probers"], [])
        self.assertEqual(empty.json()["note"],
                         "no probes recorded from 2020-01-01T00:00:00.000Z to 2020-01-02T00:00:00.000Z")
        self.assertEqual(d.get("/health/alb").status, 200)  # still serving
        d.stop()
        cli = self.run_vitals(["replay", "-c", d.config_path, "--group", "nosuch"])
        self.assertEqual(cli.returncode, 2)
        self.assertIn("--group: \"nosuch\" is not a group of the configuration", cli.stderr)
        cli = self.run_vitals(["replay", "-c", d.config_path, "--unhealthy-threshold", "1"])
        self.assertEqual(cli.returncode, 2)
        self.assertIn("--unhealthy-threshold: must be an integer from 2 to 10", cli.stderr)
        cli = self.run_vitals(["replay", "-c", d.config_path, "--source", "probes", "--until", "1600000000"])
        self.assertEqual(cli.returncode, 0, cli.stderr)
        self.assertIn("no probes recorded from", cli.stdout)


class ProbeAwareDrainTest(VitalsTestCase):

    def test_sigterm_drain_ends_once_every_node_has_seen_two_503s(self):
        a = self.status_file("a.status", "pass")
        lb = dict(LB, interval="200ms", timeout="150ms")
        d = self.start_daemon({"plugins": self.plugins_with_fixtures(),
                               "checks": [file_check("a", a)],
                               "groups": {"alb": {"checks": ["a"]}, "live": {"checks": ["a"], "drain": False}},
                               "shutdown": {"drain": "30s"}, "load_balancer": lb})
        nodes = start_nodes(self, d.port, "/health/alb", interval=0.2, timeout=0.15, healthy=2, unhealthy=2,
                            stop_when_unhealthy=True)
        # A liveness prober of a group that never drains is not waited for.
        live = start_nodes(self, d.port, "/health/live", sources=("127.0.0.5",), interval=0.2, timeout=0.15)
        wait_states(self, nodes + live, "healthy", 1)
        d.signal(signal.SIGTERM)
        self.wait_for(lambda: not d.alive(), 40.0, "the daemon to exit after its drain")
        for n in nodes + live:
            n.stop()
        self.assertEqual(d.stop(), 0, d.log())
        log = d.log()
        self.assertIn("drain ended after", log)
        self.assertIn("every prober (3) has had 2 consecutive unhealthy answers", log)
        self.assertNotIn("shutdown.drain (30s) elapsed", log)
        for n in nodes:
            probes, decisions, state = n.snapshot()
            self.assertEqual(state, "unhealthy", (n.name, probes))
            outcomes = [p.outcome for p in probes]
            self.assertNotIn("refused", outcomes, (n.name, probes))
            self.assertNotIn("error", outcomes, (n.name, probes))
            self.assertEqual([p.code for p in probes[-2:]], [503, 503], (n.name, probes))
            self.assertEqual(decisions[-1].reason, "Target.ResponseCodeMismatch")


    def test_admin_drain_with_exit_drains_like_sigterm(self):
        a = self.status_file("a.status", "pass")
        d = self.start_daemon({"plugins": self.plugins_with_fixtures(), "checks": [file_check("a", a)],
                               "groups": {"alb": {"checks": ["a"]}}, "shutdown": {"drain": "30s"},
                               "load_balancer": dict(LB, interval="200ms", timeout="150ms")})
        (node,) = start_nodes(self, d.port, "/health/alb", sources=("127.0.0.6",), interval=0.2, timeout=0.15,
                              stop_when_unhealthy=True)
        wait_states(self, [node], "healthy", 1)
        body = self.assertProblem(d.get("/admin/drain?exit=maybe", method="POST"), 400)
        self.assertTrue(body["detail"].startswith("parameter exit:"), body)
        self.assertEqual(d.get("/health/alb").status, 200)  # the bad request drained nothing
        r = d.get("/admin/drain?exit=true", method="POST")
        self.assertEqual((r.status, r.json()), (200, {"status": "draining", "exit": True}))
        self.wait_for(lambda: not d.alive(), 40.0, "the daemon to exit after its drain")
        node.stop()
        self.assertEqual(d.stop(), 0, d.log())
        self.assertIn("every prober (1) has had 2 consecutive unhealthy answers", d.log())
        probes, _, state = node.snapshot()
        self.assertEqual(state, "unhealthy")
        self.assertNotIn("refused", [p.outcome for p in probes])


def parse_time(text):
    """RFC 3339 with milliseconds and Z, as vitals writes it, to unix seconds."""
    import calendar
    base, frac = text.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(frac) / 1000.0


if __name__ == "__main__":
    unittest.main()
