"""The prober record (SPEC section 9) on the real daemon: three emulated ALB nodes on their own
source addresses, /health/probers with each node's modelled state, observed interval and silence,
the metrics, history kind `probe` (at most one row per prober per second, a flood counted into it),
`vitals history --kind probe`, and bad parameters answered 400 naming them."""

import http.client
import json
import time
import unittest

from alb_nodes import USER_AGENT, start_nodes, wait_states
from vitals_harness import VitalsTestCase, file_check, write_status_file


class ProberRecordTest(VitalsTestCase):

    def start(self, **lb):
        self.a = self.status_file("a.status", "pass", "a is fine")
        settings = {"interval": "250ms", "timeout": "200ms", "healthy_threshold": 2, "unhealthy_threshold": 2,
                    "path": "/health/alb"}
        settings.update(lb)
        return self.start_daemon({
            "plugins": self.plugins_with_fixtures(),
            "checks": [file_check("a", self.a, interval="100ms", timeout="50ms")],
            "groups": {"alb": {"checks": ["a"]}},
            "load_balancer": settings,
        })

    def probers(self, d, query=""):
        r = d.get("/health/probers" + query)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Content-Type"), "application/json")
        return r.json()["probers"]

    def test_each_node_is_a_prober_with_its_modelled_state_and_interval(self):
        d = self.start()
        nodes = start_nodes(self, d.port, "/health/alb")
        wait_states(self, nodes, "healthy")
        write_status_file(self.a, "fail", "a broke")
        wait_states(self, nodes, "unhealthy")
        for n in nodes:
            n.stop()
        probers = {p["address"]: p for p in self.probers(d) if p["user_agent"] == USER_AGENT}
        self.assertEqual(sorted(probers), ["127.0.0.2", "127.0.0.3", "127.0.0.4"], probers)
        for n in nodes:
            p = probers[n.source]
            probes, decisions, state = n.snapshot()
            self.assertEqual(p["path"], "/health/alb")
            self.assertEqual(p["probes"], len(probes), p)
            self.assertEqual(p["last_code"], probes[-1].code, p)
            self.assertEqual(p["state"], state, p)
            self.assertEqual(p["state"], "unhealthy", p)
            self.assertEqual(p["reason"], "Target.ResponseCodeMismatch", p)
            self.assertEqual(p["consecutive"]["healthy"], False, p)
            self.assertGreaterEqual(p["consecutive"]["count"], 2, p)
            # The observed interval: the median gap between the node's own probes, as the node sent them.
            gaps = sorted(b.time - a.time for a, b in zip(probes, probes[1:]))
            self.assertAlmostEqual(p["interval_ms"], gaps[len(gaps) // 2] * 1000, delta=25, msg=p)
        # Silent once three of its intervals pass without a probe.
        self.wait_for(lambda: all(p["silent"] for p in self.probers(d, "?path=/health/alb")), 10.0,
                      "the stopped nodes to be silent")
        self.assertEqual([p["address"] for p in self.probers(d, "?address=127.0.0.3")], ["127.0.0.3"])
        self.assertEqual(self.probers(d, "?silent=false&path=/health/alb"), [])
        metrics = d.get("/metrics").body.decode()
        self.assertIn('vitals_probers{state="silent"} 3\n', metrics)
        total_503 = sum(sum(1 for p in n.snapshot()[0] if p.code == 503) for n in nodes)
        line = [l for l in metrics.splitlines() if l.startswith('vitals_probes_total{code="503"}')]
        self.assertEqual(line, ['vitals_probes_total{code="503"} %d' % total_503])

    def test_history_has_at_most_one_row_per_prober_per_second_and_counts_a_flood(self):
        d = self.start()
        # Every answer of the flood is a 200: it starts once `a` has passed (before that, /health is
        # 503 while the check is pending; a flood begun at once got a few of those).
        self.wait_for(lambda: d.get("/health", headers={"User-Agent": "wait/1"}).status == 200, 10.0, "/health 200")
        # A flood on one keep-alive connection: 3,000 answers as fast as they come.
        conn = http.client.HTTPConnection(d.host, d.port, timeout=10)
        started = time.time()
        for _ in range(3000):
            conn.request("GET", "/health", headers={"User-Agent": "flood/1"})
            conn.getresponse().read()
        elapsed = time.time() - started
        conn.close()

        def rows():
            r = d.get("/health/history?kind=probe&prober=127.0.0.1&limit=1000")
            items = [i for i in r.json()["items"] if i["prober"]["user_agent"] == "flood/1"]
            return items if sum(i["count"] for i in items) == 3000 else None
        items = self.wait_for(rows, 10.0, "the flood's rows with all 3,000 answers")
        self.assertLessEqual(len(items), int(elapsed) + 2, "rows for %.1f s of flood: %r" % (elapsed, items[:3]))
        times = sorted(i["time"] for i in items)
        for item in items:
            self.assertEqual(item["kind"], "probe")
            self.assertEqual(item["check"], "default")
            self.assertEqual(item["code"], 200)
            self.assertEqual(item["prober"], {"address": "127.0.0.1", "user_agent": "flood/1", "path": "/health"})
            self.assertLessEqual(len(item["answers"]), 32)
        self.assertEqual(len(times), len(set(times)))
        # Results and transitions stay what history answers without kind.
        self.assertFalse([i for i in d.get("/health/history?limit=1000").json()["items"] if i["kind"] == "probe"])
        d.stop()
        out = self.run_vitals(["history", "-c", d.config_path, "--kind", "probe", "--prober", "127.0.0.1"])
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = [l for l in out.stdout.splitlines() if '"flood/1" /health: 200 in' in l]
        self.assertEqual(len(lines), len(items), out.stdout)
        bad = self.run_vitals(["history", "-c", d.config_path, "--kind", "probes"])
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--kind", bad.stderr)

    def test_bad_parameters_are_400_naming_them_and_the_daemon_keeps_serving(self):
        d = self.start()
        for query, parameter in [("?silent=maybe", "silent"), ("?address=127.0.0", "address"),
                                 ("?nosuch=1", "nosuch"), ("?path=/metrics", "path"),
                                 ("?address=127.0.0.2&address=127.0.0.3", "address")]:
            body = self.assertProblem(d.get("/health/probers" + query), 400)
            self.assertTrue(body["detail"].startswith("parameter %s:" % parameter), body)
        for query, parameter in [("?kind=probe,nope", "kind"), ("?prober=host.example", "prober"),
                                 ("?prober=127.0.0.2&kind=result", "prober")]:
            body = self.assertProblem(d.get("/health/history" + query), 400)
            self.assertTrue(body["detail"].startswith("parameter %s:" % parameter), body)
        self.assertEqual(d.get("/health/alb").status, 200)


if __name__ == "__main__":
    unittest.main()
