"""Emulated ALB nodes for the load balancer's view tests (SPEC section 9): each node is a thread that
probes one health path on 127.0.0.1 from its own source address in 127.0.0.0/8 (bind before
connect), with `User-Agent: ELB-HealthChecker/2.0` and a new connection per probe, on a fixed
schedule, and decides as an ALB node does: `initial` until the first healthy answer, `unhealthy`
after `unhealthy` consecutive failures (a code outside `match`, no answer within `timeout`, or no
connection), `healthy` again after `healthy` consecutive successes. Every probe and decision is
logged with the time the probe was sent. Traffic goes to 127.0.0.1 only."""

import socket
import struct
import threading
import time

USER_AGENT = "ELB-HealthChecker/2.0"
SO_TIMESTAMPNS = 35  # Linux: the kernel's receive time of each segment, as ancillary data
# How long past its timeout a node still waits for bytes before it gives up (well within its
# interval, so the next probe goes out on schedule): the answer is judged by the kernel's receive
# time against the time the request was sent, so a node thread that runs late (the GIL, a busy
# machine) still judges by when the answer arrived, as a real node would.
GRACE = 0.03


class Probe:
    def __init__(self, time_sent, outcome, code, latency):
        self.time = time_sent  # unix seconds, when the request was sent
        self.outcome = outcome  # healthy | mismatch | timeout | refused | error
        self.code = code  # None without an answer
        self.latency = latency

    def __repr__(self):
        return "<%.3f %s %s %.1fms>" % (self.time, self.outcome, self.code, self.latency * 1000)


class Decision:
    def __init__(self, time_, state, reason, codes):
        self.time, self.state, self.reason, self.codes = time_, state, reason, codes

    def __repr__(self):
        return "<%.3f %s %s %s>" % (self.time, self.state, self.reason, self.codes)


class AlbNode:
    def __init__(self, name, source, port, path, interval=0.25, timeout=0.2, healthy=2, unhealthy=2,
                 match=(200,), host="127.0.0.1", max_probes=2000, stop_when_unhealthy=False, epoch=None):
        self.name, self.source, self.port, self.path, self.host = name, source, port, path, host
        self.interval, self.timeout, self.healthy, self.unhealthy, self.match = interval, timeout, healthy, unhealthy, match
        self.max_probes = max_probes  # a bound on the loop, whatever happens
        self.stop_when_unhealthy = stop_when_unhealthy  # its point made: the drain was seen
        # Probe k is sent at epoch + k * interval (time.monotonic()): nodes given the same epoch probe
        # in step, so a test can act between two probes (see phase_sleep).
        self.epoch = epoch
        self.probes = []
        self.decisions = []
        self.state = "initial"
        self._streak_ok = None
        self._streak = 0
        self._failing = []  # the outcomes of the current failing run
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(10)

    def snapshot(self):
        with self._lock:
            return list(self.probes), list(self.decisions), self.state

    def _probe_once(self):
        request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n"
                   % (self.path, self.port, USER_AGENT)).encode()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((self.source, 0))
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sent = time.time()
        try:
            s.settimeout(self.timeout)
            try:
                s.connect((self.host, self.port))  # on loopback: the kernel answers at once, even for a stalled server
            except ConnectionRefusedError:
                return Probe(sent, "refused", None, time.time() - sent)
            except socket.timeout:
                return Probe(sent, "timeout", None, time.time() - sent)
            sent = time.time()
            give_up = time.monotonic() + min(self.timeout + GRACE, (self.timeout + self.interval) / 2)
            s.sendall(request)
            data = b""
            arrived = None
            while b"\r\n" not in data:
                left = give_up - time.monotonic()
                if left <= 0:
                    return Probe(sent, "timeout", None, time.time() - sent)
                s.settimeout(left)
                try:
                    chunk, ancillary, _, _ = s.recvmsg(4096, 256)
                except socket.timeout:
                    return Probe(sent, "timeout", None, time.time() - sent)
                if not chunk:
                    return Probe(sent, "error", None, time.time() - sent)
                for level, kind, value in ancillary:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and arrived is None:
                        sec, nsec = struct.unpack("qq", value[:16])
                        arrived = sec + nsec / 1e9
                data += chunk
            latency = (arrived if arrived is not None else time.time()) - sent
            if latency > self.timeout:
                return Probe(sent, "timeout", None, latency)
            code = int(data.split(b" ", 2)[1])
            return Probe(sent, "healthy" if code in self.match else "mismatch", code, latency)
        except (ConnectionResetError, BrokenPipeError, OSError):
            return Probe(sent, "error", None, time.monotonic() - start)
        finally:
            s.close()

    def _decide(self, p):
        ok = p.outcome == "healthy"
        if ok != self._streak_ok:
            self._streak_ok, self._streak, self._failing = ok, 0, []
        self._streak += 1
        if not ok:
            self._failing.append(p)
        new = self.state
        if ok and (self.state == "initial" or (self.state == "unhealthy" and self._streak >= self.healthy)):
            new = "healthy"
        elif not ok and self.state != "unhealthy" and self._streak >= self.unhealthy:
            new = "unhealthy"
        if new == self.state:
            return
        self.state = new
        reason, codes = None, []
        if new == "unhealthy":
            kinds = {f.outcome for f in self._failing}
            codes = sorted({f.code for f in self._failing if f.outcome == "mismatch"})
            if kinds == {"timeout"}:
                reason = "Target.Timeout"
            elif kinds == {"mismatch"}:
                reason = "Target.ResponseCodeMismatch"
            else:
                reason = "Target.FailedHealthChecks"
        self.decisions.append(Decision(p.time, new, reason, codes))

    def _run(self):
        first = self.epoch if self.epoch is not None else time.monotonic()
        if first > time.monotonic():
            time.sleep(first - time.monotonic())
        with self._lock:
            self.decisions.append(Decision(time.time(), "initial", "Elb.InitialHealthChecking", []))
        for k in range(self.max_probes):
            if self._stop.is_set():
                return
            p = self._probe_once()
            with self._lock:
                self.probes.append(p)
                self._decide(p)
                if self.stop_when_unhealthy and self.state == "unhealthy":
                    return
            # The next probe on the node's own schedule, whatever this one took.
            wait = first + (k + 1) * self.interval - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return


def start_nodes(testcase, port, path, sources=("127.0.0.2", "127.0.0.3", "127.0.0.4"), **settings):
    """Starts one AlbNode per source address, probing in step (one epoch); each is stopped on cleanup."""
    nodes = []
    settings.setdefault("epoch", time.monotonic() + 0.05)
    for i, source in enumerate(sources):
        node = AlbNode("node%d" % (i + 1), source, port, path, **settings).start()
        testcase.addCleanup(node.stop)
        nodes.append(node)
    return nodes


def phase_sleep(node, phase, at_least=0.0):
    """Sleeps for at least `at_least` s, then until `phase` s after one of `node`'s probe times."""
    now = time.monotonic()
    k = int((now + at_least - node.epoch - phase) / node.interval) + 1
    time.sleep(max(0.0, node.epoch + k * node.interval + phase - now))


def wait_states(testcase, nodes, state, count=1, timeout=20.0, message=None):
    """Waits until every node has made `count` decisions for `state` (a hang guard, not a bound)."""
    def reached():
        return all(sum(1 for d in n.snapshot()[1] if d.state == state) >= count for n in nodes)
    testcase.wait_for(reached, timeout, message or "every node to decide %s (%d times)" % (state, count))
