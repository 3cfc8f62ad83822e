"""Shared helpers for the vitals integration tests (Python 3 standard library only).

The tests run the real build/vitals binary on ephemeral ports against real peers:

    class MyTest(VitalsTestCase):
        def test_something(self):
            d = self.start_daemon({"checks": [...]})
            status, headers, body = d.get("/health")

Everything a test starts (daemons, listeners, temp dirs, network namespaces) is cleaned up through
addCleanup, also when the test fails; a failing test prints the log of every daemon it started.

Traffic goes to loopback only, or to the addresses of a veth pair a test creates: a client that must
not be loopback (details visibility, admin refusals) runs in a network namespace (netns_peer(), as
root), never against this host's own network address. Time is never asserted: waits have generous
bounds that fail naming what did not happen (hang guards), and timing figures live in tests/bench.

Environment (set by tests/CMakeLists.txt; defaults work from a checkout with build/ at the top):
    VITALS_BUILD_DIR    the CMake build directory (holds vitals, plugins/, fixtures/)
    VITALS_SOURCE_DIR   the source tree
    VITALS_FIXTURE_DIR  the fixture plugins (faults.so, bad_abi_major.so, ...)
"""

import base64
import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("VITALS_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD_DIR = os.environ.get("VITALS_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
FIXTURE_DIR = os.environ.get("VITALS_FIXTURE_DIR") or os.path.join(BUILD_DIR, "fixtures")
VITALS = os.path.join(BUILD_DIR, "vitals")
PLUGIN_DIR = os.path.join(BUILD_DIR, "plugins")

POLL_SECONDS = 0.05
STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
LISTENING_RE = re.compile(r"listening on (\S+):(\d+)")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
# One result row of `vitals check`: name, type, status, duration in ms, two spaces, output.
CHECK_ROW_RE = re.compile(r"^(\S+)\s+(\S+)\s+(pass|warn|fail)\s+(\d+)\s\s(.*)$")


def build_sanitizers(build_dir=BUILD_DIR):
    """The -fsanitize= list the build was configured with (tests/sanitize/run: "address,undefined" or
    "thread"), "" for a plain build. Memory and speed figures mean nothing under a sanitizer (shadow
    memory, redzones, quarantine of freed blocks)."""
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
            m = re.search(r"^CMAKE_CXX_FLAGS:STRING=.*-fsanitize=(\S+)", f.read(), re.M)
    except OSError:
        return ""
    return m.group(1) if m else ""


SANITIZERS = build_sanitizers()


def require_build():
    """Fails loudly (never skips) when the build output is missing."""
    missing = [p for p in (VITALS, PLUGIN_DIR, FIXTURE_DIR) if not os.path.exists(p)]
    if missing:
        raise AssertionError("build output missing (build first: ninja -C build): " + ", ".join(missing))


def daemon_env(plugin_dir=None, extra=None):
    """The environment for a vitals process: ours without VITALS_PLUGIN_DIR (unless plugin_dir is
    given) or an admin token, plus `extra` (a value of None removes the variable)."""
    env = dict(os.environ)
    env.pop("VITALS_PLUGIN_DIR", None)
    env.pop("VITALS_ADMIN_TOKEN", None)
    if plugin_dir is not None:
        env["VITALS_PLUGIN_DIR"] = plugin_dir
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def wait_for(predicate, timeout, message="condition", interval=POLL_SECONDS):
    """Polls predicate() every `interval` s until it returns something truthy, and returns that.
    Fails after `timeout` s naming `message` and the last value (or exception) seen. `timeout` is a
    generous bound on waiting, not a speed claim."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except (AssertionError, OSError, ValueError, KeyError, IndexError, TypeError, http.client.HTTPException) as e:
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s; last value: %r" % (timeout, message, last))
        time.sleep(interval)


def write_atomic(path, text):
    """Writes `text` to `path` through a temporary file and rename(), so a reader never sees half."""
    tmp = "%s.tmp.%d.%d" % (path, os.getpid(), threading.get_ident())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_status_file(path, status, output="", value=None, unit=""):
    """Sets what a fixture_file check returns on its next run: `status` (pass|warn|fail) and output,
    and optionally an observed value."""
    text = ("%s %s" % (status, output)).rstrip() + "\n"
    if value is not None:
        text += ("value %s %s" % (value, unit)).rstrip() + "\n"
    write_atomic(path, text)


def check_config(name, type_, interval, timeout, **extra):
    """A `checks` config entry: name, type, interval and timeout, plus the keys in `extra` (which win)."""
    c = {"name": name, "type": type_, "interval": interval, "timeout": timeout}
    c.update(extra)
    return c


def file_check(name, path, interval="200ms", timeout="100ms", **extra):
    """A fixture_file check (faults.so) reading its result from `path` (see write_status_file); keys
    in `extra` (impact, scope, even options) are added or replace the defaults."""
    return check_config(name, "fixture_file", interval, timeout, **dict({"options": {"path": path}}, **extra))


def strip_value(output):
    """`vitals check` appends " [<value> <unit>]" to the output when there is an observed value."""
    return re.sub(r" \[[^\[\]]*\]$", "", output)


def content_type(response):
    """The media type of a Response's Content-Type header, without parameters ("" when absent)."""
    return response.headers.get("Content-Type", "").split(";")[0].strip()


# --- a client that is not loopback: a network namespace of the test's own ----------------------

IP = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "/bin/ip"  # iproute2
NETNS_SUBNET = "10.250.%d.%d"  # /30s of 10.250.0.0/16: addresses only inside the veth pairs tests create

# Run inside the namespace: one HTTP request, answered as JSON on stdout (body in base64).
_NETNS_CLIENT = r"""
import base64, http.client, json, sys
host, port, method, path, headers, body, timeout = json.loads(sys.argv[1])
c = http.client.HTTPConnection(host, port, timeout=timeout)
c.connect()
source = c.sock.getsockname()[0]
c.request(method, path, body=None if body is None else base64.b64decode(body), headers=headers)
r = c.getresponse()
data = r.read()
print(json.dumps([r.status, r.msg.as_string(), base64.b64encode(data).decode(), source]))
"""


class NetnsUnavailable(Exception):
    """This host cannot make a network namespace (not root, no iproute2, no netns support)."""


class NetnsPeer:
    """A network namespace joined to this one by a veth pair with a /30 of 10.250.0.0/16: the daemon
    listens on (or on 0.0.0.0, which includes) `host_addr`, the host side; request() runs a client
    inside the namespace, whose source address `client_addr` is not loopback. Nothing is sent to any
    address of this host other than the pair's. Use VitalsTestCase.netns_peer(), which cleans up."""

    _count = 0

    def __init__(self):
        NetnsPeer._count += 1
        n = os.getpid() * 64 + NetnsPeer._count % 64
        self.ns = "vitals-it-%d-%d" % (os.getpid(), NetnsPeer._count)
        self.host_if, self.ns_if = "vit%xh" % n, "vit%xn" % n  # at most 15 characters
        self.host_addr = self.client_addr = None
        try:
            self._ip("netns", "add", self.ns)
        except OSError as e:
            raise NetnsUnavailable(str(e))
        try:
            self._ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            self._ip("link", "set", self.ns_if, "netns", self.ns)
            self.host_addr, self.client_addr = self._claim_subnet(n)
            self._ip("link", "set", self.host_if, "up")
            for args in (("addr", "add", self.client_addr + "/30", "dev", self.ns_if),
                         ("link", "set", self.ns_if, "up"), ("link", "set", "lo", "up")):
                self._ip("netns", "exec", self.ns, IP, *args)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _ip(*args):
        p = subprocess.run([IP] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        if p.returncode != 0:
            raise OSError("ip %s: %s" % (" ".join(args), p.stdout.strip() or "exit %d" % p.returncode))
        return p.stdout

    def _claim_subnet(self, seed):
        """Gives the host side the first /30 (from `seed` on, 64 tries) that no interface here holds
        yet, so that concurrent test runs do not route each other's pairs; returns (host, client)."""
        for i in range(64):
            k = (seed + i * 97) % 16384
            third, first = k >> 6, (k & 63) << 2
            if self._ip("-4", "-o", "addr", "show", "to", NETNS_SUBNET % (third, first) + "/30").strip():
                continue
            self._ip("addr", "add", NETNS_SUBNET % (third, first + 1) + "/30", "dev", self.host_if)
            return NETNS_SUBNET % (third, first + 1), NETNS_SUBNET % (third, first + 2)
        raise OSError("no free /30 in 10.250.0.0/16 after 64 tries")

    def request(self, port, path, method="GET", headers=None, body=None, timeout=5.0, host=None):
        """One HTTP request from inside the namespace to `host` (default host_addr):`port`. Returns
        a Response; asserts the client's source address was the namespace's own."""
        args = [host or self.host_addr, port, method, path, headers or {},
                None if body is None else base64.b64encode(body).decode(), timeout]
        p = subprocess.run([IP, "netns", "exec", self.ns, "/usr/bin/python3", "-c", _NETNS_CLIENT, json.dumps(args)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout + 30)  # a hang guard
        if p.returncode != 0:
            raise AssertionError("client in namespace %s failed: %s" % (self.ns, p.stderr.strip()))
        status, head, body_b64, source = json.loads(p.stdout)
        if source != self.client_addr:
            raise AssertionError("the client's source address was %s, not %s" % (source, self.client_addr))
        headers = http.client.parse_headers(io.BytesIO(head.encode("latin-1")))
        return Response(status, headers, base64.b64decode(body_b64))

    def close(self):
        """Deletes the namespace, and with it its end of the pair (which takes the host's end along)."""
        subprocess.run([IP, "netns", "delete", self.ns], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        subprocess.run([IP, "link", "delete", self.host_if], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)  # already gone unless the move failed


# --- raw HTTP/1.1 over sockets (the health port's conformance and flood tests) ------------------

HANG_GUARD = 10.0  # seconds a raw client waits for bytes the server must send: a hang guard, not a bound
MAX_RAW_BYTES = 8 << 20  # a raw exchange stops reading after this much


def read_until(sock, done=lambda data: False, total=HANG_GUARD, limit=MAX_RAW_BYTES):
    """Reads from `sock` until done(bytes so far) holds, the server closes or resets, the socket's
    timeout passes without a byte, or `total` s pass (the last two are hang guards). Returns (bytes,
    how it ended: "closed", "reset" or "open")."""
    data = b""
    deadline = time.monotonic() + total
    while time.monotonic() < deadline and len(data) < limit and not done(data):
        try:
            b = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return data, "reset"
        if not b:
            return data, "closed"
        data += b
    return data, "open"


def raw_exchange(port, data, idle=3.0, shut_wr=False, total=HANG_GUARD, host="127.0.0.1"):
    """Connects, sends `data` (bytes) and, with `shut_wr`, shuts down the write side; then reads until
    the server closes, `idle` s pass without a byte, or `total` s pass (all hang guards). Returns
    (bytes received, how it ended: "closed", "reset" or "open")."""
    s = socket.create_connection((host, port), timeout=idle)
    try:
        try:
            s.sendall(data)
            if shut_wr:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed while we sent; read what it answered
        return read_until(s, total=total)
    finally:
        s.close()


def raw(port, data, timeout=3.0):
    """Sends raw bytes; returns everything the server sends back before closing (or `timeout` s of silence)."""
    return raw_exchange(port, data, idle=timeout)[0]


def status_of(response_bytes):
    """The status code of the first response in `response_bytes`, or None when it holds none."""
    line = response_bytes.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else None


STATUS_LINE_RE = re.compile(rb"HTTP/1\.\d \d\d\d[ \r]")


class RawResponse:
    """One response parsed out of a byte stream: status, headers (lower-case name -> [values]) and
    body; `complete` is False when the stream ended before the body did."""

    def __init__(self, status, headers, body, complete):
        self.status, self.headers, self.body, self.complete = status, headers, body, complete

    def header(self, name, default=None):
        values = self.headers.get(name.lower())
        return values[-1] if values else default

    def __repr__(self):
        return "<%d %r%s>" % (self.status, self.body[:200], "" if self.complete else " (truncated)")


def _chunked_length(data, start):
    """How many bytes a chunked body starting at `start` takes, or None when it is incomplete."""
    pos = start
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(data[pos:eol].split(b";")[0].strip() or b"0", 16)
        pos = eol + 2
        if size == 0:
            end = data.find(b"\r\n\r\n", pos - 2)
            return None if end < 0 else end + 4 - start
        pos += size + 2
        if pos > len(data):
            return None


def parse_responses(data):
    """The responses in a byte stream a server sent, in order (1xx included). A body is framed by
    Content-Length or chunked; a response whose declared body is followed at once by another status
    line is taken as an answer to HEAD (no body). Stops at bytes that are not a status line."""
    out = []
    pos = 0
    while pos < len(data) and STATUS_LINE_RE.match(data, pos):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            out.append(RawResponse(int(data[pos + 9:pos + 12]), {}, b"", False))
            break
        lines = data[pos:end].split(b"\r\n")
        status = int(lines[0][9:12])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.setdefault(name.strip().lower().decode("latin-1"), []).append(value.strip().decode("latin-1"))
        body_start = end + 4
        te = ",".join(headers.get("transfer-encoding", [])).lower()
        if status < 200 or status in (204, 304):
            length = 0
        elif "chunked" in te:
            length = _chunked_length(data, body_start)
        elif "content-length" in headers:
            length = int(headers["content-length"][-1])
            if STATUS_LINE_RE.match(data, body_start):
                length = 0  # HEAD
        else:
            length = len(data) - body_start  # delimited by the close
        if length is None or body_start + length > len(data):
            out.append(RawResponse(status, headers, data[body_start:], False))
            break
        out.append(RawResponse(status, headers, data[body_start:body_start + length], True))
        pos = body_start + length
    return out


class Response:
    """What get() returns; unpacks as (status, headers, body)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage: case-insensitive .get()
        self.body = body  # bytes

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError as e:
            raise AssertionError("response is not valid JSON (%s): %r" % (e, self.body[:2000]))

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.headers.get("Content-Type"), self.body[:500])


def http_request(host, port, path, method="GET", headers=None, body=None, timeout=5.0):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.msg, data)
    finally:
        conn.close()


class Daemon:
    """One `vitals serve` process. Use VitalsTestCase.start_daemon() so it is always stopped."""

    def __init__(self, config_path, log_path, env=None, args=None, cwd=None):
        self.config_path = config_path
        self.cwd = cwd or os.path.dirname(config_path)  # relative paths (history's var/) stay in the temp dir
        self.log_path = log_path
        self.env = env if env is not None else daemon_env()
        self.args = list(args or [])
        self.proc = None
        self.host = None
        self.port = None
        self.returncode = None

    def start(self, timeout=STARTUP_TIMEOUT):
        require_build()
        self._log_file = open(self.log_path, "wb")
        cmd = [VITALS, "serve", "-c", self.config_path, "--port", "0"] + self.args
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=self._log_file, env=self.env, cwd=self.cwd)
        deadline = time.monotonic() + timeout
        while True:
            m = LISTENING_RE.search(self.log())
            if m:
                self.host = m.group(1)
                if self.host in ("0.0.0.0", "::", "[::]"):
                    self.host = "127.0.0.1"
                self.port = int(m.group(2))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("vitals exited with %s before listening; log:\n%s"
                                     % (self.proc.returncode, self.log()))
            if time.monotonic() >= deadline:
                raise AssertionError("vitals did not log 'listening on ...' within %.0f s; log:\n%s"
                                     % (timeout, self.log()))
            time.sleep(POLL_SECONDS)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self):
        """The daemon's resident set size in KiB (VmRSS of /proc/<pid>/status)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc/%d/status" % self.proc.pid)

    def serving_threads(self):
        """How many threads the daemon runs, leaving out the check workers (vitals-check), whose pool
        grows and shrinks with the checks' own load: what clients of the health port could cost."""
        n = 0
        for tid in os.listdir("/proc/%d/task" % self.proc.pid):
            try:
                with open("/proc/%d/task/%s/comm" % (self.proc.pid, tid)) as f:
                    n += f.read().strip() != "vitals-check"
            except OSError:
                pass  # the thread ended meanwhile
        return n

    def get(self, path, method="GET", headers=None, body=None, timeout=5.0):
        """One request on a fresh connection: a Response, which unpacks as (status, headers, body)."""
        return http_request(self.host, self.port, path, method, headers, body, timeout)

    def get_json(self, path, headers=None):
        r = self.get(path, headers=headers)
        return r.status, r.json()

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait up to `timeout` s, then SIGKILL. Returns the exit code (negative: signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._log_file.closed:
            self._log_file.close()
        self.returncode = self.proc.returncode
        return self.returncode


class Listener:
    """A real TCP peer on 127.0.0.1:<ephemeral>: accepts and closes connections in a thread."""

    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        """Stops accepting and closes the listening socket: connects are refused from now on."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


class VitalsTestCase(unittest.TestCase):
    """Base class: a temp dir per test, daemons and listeners stopped on cleanup, logs on failure."""

    maxDiff = None

    def setUp(self):
        require_build()
        tmp = tempfile.TemporaryDirectory(prefix="vitals-it-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.daemons = []
        self.addCleanup(self._dump_logs_on_failure)  # runs after the daemons are stopped (LIFO)

    # --- files -----------------------------------------------------------------------------------

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write_config(self, config, name="vitals.json"):
        """Writes a dict as JSON (or a str as is) into the temp dir; returns the path."""
        p = self.path(name)
        with open(p, "w") as f:
            f.write(config if isinstance(config, str) else json.dumps(config, indent=2))
        return p

    def status_file(self, name, status="pass", output="", value=None, unit=""):
        """A fixture_file check's result file, initialised to `status`; returns its path."""
        p = self.path(name)
        write_status_file(p, status, output, value, unit)
        return p

    def fixture_plugin_dir(self, files=("faults.so",), name="fixture-plugins", mode=0o755):
        """A private plugin dir holding copies of the named fixture libraries (default faults.so)."""
        d = self.path(name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        for f in files:
            dst = os.path.join(d, f)
            shutil.copyfile(os.path.join(FIXTURE_DIR, f), dst)
            os.chmod(dst, mode)
        return d

    def plugins_with_fixtures(self, raw=False):
        """A `plugins` config section: the built-in plugins plus faults.so (and faults_raw.so)."""
        files = ("faults.so", "faults_raw.so") if raw else ("faults.so",)
        return {"dirs": [PLUGIN_DIR, self.fixture_plugin_dir(files)]}

    # --- processes -------------------------------------------------------------------------------

    def start_daemon(self, config, env=None, args=None, name=None):
        """Writes `config` (server.address defaults to 127.0.0.1, history.path to a file in the temp
        dir), starts `vitals serve` on port 0 in the temp dir, waits for it to listen. Stopped
        (SIGTERM, then SIGKILL after 5 s) on cleanup."""
        n = name or "d%d" % len(self.daemons)
        if isinstance(config, dict):
            config = json.loads(json.dumps(config))
            config.setdefault("server", {}).setdefault("address", "127.0.0.1")
            config.setdefault("history", {}).setdefault("path", self.path(n + ".db"))
        cfg = self.write_config(config, n + ".json")
        d = Daemon(cfg, self.path(n + ".log"), env=env, args=args)
        d.name = n
        self.daemons.append(d)
        self.addCleanup(d.stop)
        d.start()
        return d

    def netns_peer(self):
        """A NetnsPeer (a client that is not loopback), deleted on cleanup; skips the test when this
        host cannot make network namespaces (not root, no iproute2); any later setup failure is an error."""
        if not os.path.exists(IP):
            self.skipTest("cannot create a network namespace: %s not found (iproute2)" % IP)
        try:
            peer = NetnsPeer()
        except NetnsUnavailable as e:
            self.skipTest("cannot create a network namespace: %s" % e)
        self.addCleanup(peer.close)
        return peer

    def listener(self, port=0):
        lst = Listener(port)
        self.addCleanup(lst.close)
        return lst

    def run_vitals(self, args, env=None, timeout=30, cwd=None):
        """Runs the vitals CLI to completion; returns CompletedProcess with text stdout/stderr."""
        return subprocess.run([VITALS] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env if env is not None else daemon_env(),
                              timeout=timeout, text=True, cwd=cwd or self.tmp)

    def wait_for(self, predicate, timeout=10.0, message="condition"):
        return wait_for(predicate, timeout, message)

    def check_detail(self, d, name):
        """The parsed body of GET /health/checks/<name> on daemon `d`. Subclasses may override it with
        stricter checks of the answer; wait_check() polls through it."""
        return d.get("/health/checks/" + name).json()

    def wait_check(self, d, name, predicate, timeout=10.0, message=None):
        """Polls self.check_detail(d, name) until predicate(body) holds; returns that body."""
        def probe():
            body = self.check_detail(d, name)
            return body if predicate(body) else None
        return self.wait_for(probe, timeout, message or "check %s to satisfy a condition" % name)

    def check_once(self, checks, expect_code=None, secrets=()):
        """Runs `vitals check` on these checks (no plugins section: the built-in plugins); returns
        ({name: (status, output without value)}, CompletedProcess). Asserts a row for every check and none other, the exit code when
        `expect_code` is given, and that no string in `secrets` shows on stdout or stderr."""
        cfg = self.write_config({"checks": checks}, "check-%d.json" % time.monotonic_ns())
        proc = self.run_vitals(["check", "-c", cfg])
        rows = {}
        for line in proc.stdout.splitlines()[1:]:
            m = CHECK_ROW_RE.match(line)
            if m:
                rows[m.group(1)] = (m.group(3), strip_value(m.group(5)))
        self.assertEqual(sorted(rows), sorted(c["name"] for c in checks), proc.stdout + proc.stderr)
        if expect_code is not None:
            self.assertEqual(proc.returncode, expect_code, proc.stdout + proc.stderr)
        for secret in secrets:
            self.assertNotIn(secret, proc.stdout + proc.stderr)
        return rows, proc

    # --- assertions ------------------------------------------------------------------------------

    def assertRows(self, rows, expected, proc):
        """Rows of check_once(): expected is {name: (status, regex on the output)}."""
        for name, (status, pattern) in expected.items():
            with self.subTest(check=name):
                self.assertEqual(rows[name][0], status, (name, proc.stdout))
                self.assertRegex(rows[name][1], pattern, (name, proc.stdout))

    def assertOptionErrors(self, type_, mistakes, secrets=()):
        """`vitals validate` on one check of type `type_` per (options, message) of `mistakes`: exit 2
        and, for each, an error naming its path, the type and the message; no string in `secrets`
        in the output."""
        checks = [{"name": "bad%d" % i, "type": type_, "options": options} for i, (options, _) in enumerate(mistakes)]
        p = self.run_vitals(["validate", "-c", self.write_config({"checks": checks})])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        for i, (_, message) in enumerate(mistakes):
            self.assertRegex(p.stderr, r"checks\[%d\]\.options: %s: .*%s" % (i, type_, re.escape(message)))
        for secret in secrets:
            self.assertNotIn(secret, p.stdout + p.stderr)

    def assertSchemaShown(self, type_, options, patterns=()):
        """`vitals plugins` lists check type `type_` with a row for each of `options`, and its
        section matches each regex of `patterns`."""
        p = self.run_vitals(["plugins"])
        self.assertEqual(p.returncode, 0, p.stderr)
        section = p.stdout[p.stdout.index("\n%s " % type_):]
        section = section[:section.index("\n\n")]
        for option in options:
            self.assertRegex(section, r"\n    %s\s" % option)
        for pattern in patterns:
            self.assertRegex(section, pattern)

    def assertProblem(self, response, status):
        """An RFC 9457 problem+json answer with this status."""
        self.assertEqual(response.status, status, response)
        self.assertEqual(response.headers.get("Content-Type", "").split(";")[0].strip(),
                         "application/problem+json", response)
        body = response.json()
        for key in ("type", "title", "status", "detail"):
            self.assertIn(key, body, response)
        self.assertEqual(body["status"], status, response)
        return body

    def assertValidateErrors(self, type_, checks, expected):
        """Runs `vitals validate` on `checks` and asserts that it refuses them (exit 2), reporting each
        (index, message) of `expected` as "checks[<index>].options: <type_>: ...<message>", and
        nothing for the checks whose index `expected` does not name. Returns the error output."""
        proc = self.run_vitals(["validate", "-c", self.write_config({"checks": checks})])
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        err = proc.stderr
        for index, message in expected:
            self.assertRegex(err, r"checks\[%d\]\.options: %s: .*%s" % (index, re.escape(type_), re.escape(message)), err)
        for index in sorted(set(range(len(checks))) - {index for index, _ in expected}):
            self.assertNotIn("checks[%d]" % index, err)
        return err

    def assertPasswordNeverShows(self, make_check, wrong, secrets, bad_output):
        """The end-to-end leak test of a plugin's secret password option. make_check(name, interval,
        timeout, **options) builds a check that passes with the right password; `wrong` is a wrong
        one (also a secret). Runs a "good" and a "bad" (wrong password) check at debug level until
        both have results; asserts no string of `secrets` shows in the responses, the history, the
        metrics or the log, that the bad check's detail contains `bad_output` (what the server said),
        and that none shows in the output of validate (also beside an invalid option: port 0), check
        and plugins."""
        d = self.start_daemon({"checks": [make_check("good", "200ms", "150ms"),
                                          make_check("bad", "200ms", "150ms", password=wrong)],
                               "log": {"level": "debug"}})

        def both_ran():
            body = d.get("/health").json()
            return (health_check_entry(body, "good")["status"] == "pass" and
                    health_check_entry(body, "bad")["status"] == "fail")
        self.wait_for(both_ran, 10.0, "both checks to have a result")
        time.sleep(0.5)  # a few more runs, and whatever they log

        paths = ["/health", "/health/checks/good", "/health/checks/bad", "/metrics",
                 "/health/history", "/health/history?check=bad"]
        for path in paths:
            r = d.get(path)
            for secret in secrets:
                self.assertNotIn(secret.encode(), r.body, path)
        self.assertIn(bad_output, str(d.get("/health/checks/bad").json()))
        d.stop()
        for secret in secrets:
            self.assertNotIn(secret, d.log())

        cfg = self.write_config({"checks": [make_check("bad", "5s", "2s", password=wrong)]}, "cli.json")
        bad_cfg = self.write_config({"checks": [make_check("bad", "5s", "2s", password=wrong, port=0)]}, "cli-bad.json")
        for args in (["validate", "-c", cfg], ["check", "-c", cfg], ["validate", "-c", bad_cfg],
                     ["check", "-c", bad_cfg], ["plugins"]):
            proc = self.run_vitals(args)
            for secret in secrets:
                self.assertNotIn(secret, proc.stdout + proc.stderr, args)

    def assertRunsAfterBreakFail(self, d, name, break_peer, timeout=10.0):
        """Calls break_peer(), then asserts, in runs rather than seconds, that every run of check
        `name` that began after the break failed and that /health of daemon `d` failed with them.
        Waits (`timeout` s: a hang guard) for two runs after the break: the first may have been in
        flight when the peer broke, so only the second on is certain to have begun after it.
        Returns the failing /health Response."""
        break_peer()
        runs_at_break = self.check_detail(d, name)["counters"]["runs"]

        def probe():
            r = d.get("/health")
            return r.status == 503 and self.check_detail(d, name)["counters"]["runs"] >= runs_at_break + 2 and r
        failed = self.wait_for(probe, timeout, "/health to fail and %s to run twice after the break" % name)
        body = self.check_detail(d, name)
        since = body["counters"]["runs"] - runs_at_break
        self.assertLessEqual(since, len(body["recent"]), "too many runs since the break to tell: %s" % body)
        begun_after = [result["status"] for result in reversed(body["recent"][:since - 1])]  # oldest first
        self.assertEqual(begun_after, ["fail"] * (since - 1), body)
        return failed

    def assertStoppedPeerFailsHealth(self, d, name, stop_peer, secret):
        """The common course of a "stopped peer" daemon test: waits for /health of daemon `d` to pass;
        asserts check `name`'s entry is a component with a positive value in ms; calls stop_peer() and
        asserts every run of the check begun after that failed, and /health with them
        (assertRunsAfterBreakFail); stops `d` and asserts `secret` shows in none of the /health and
        /health/checks/<name> bodies seen before and after, nor in the daemon's log. Returns the check's output seen once /health failed, for
        the caller to assert on."""
        self.wait_for(lambda: d.get("/health").status == 200, 10.0, "/health to pass")
        entry = health_check_entry(d.get("/health").json(), name)
        self.assertEqual(entry["componentType"], "component", entry)
        self.assertEqual(entry["observedUnit"], "ms", entry)
        self.assertGreater(entry["observedValue"], 0, entry)
        bodies = [d.get("/health").body, d.get("/health/checks/" + name).body]

        failed = self.assertRunsAfterBreakFail(d, name, stop_peer)
        output = health_check_entry(failed.json(), name)["output"]
        bodies += [failed.body, d.get("/health").body, d.get("/health/checks/" + name).body]
        d.stop()
        for text in [b.decode("utf-8", "replace") for b in bodies] + [d.log()]:
            self.assertNotIn(secret, text)
        return output

    # --- failure diagnostics ---------------------------------------------------------------------

    def _failed(self):
        """Whether this test (or one of its subtests) has failed so far. Called from a cleanup, where
        unittest's own outcome.success is reset, so look at what the result has recorded."""
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return True
        result = getattr(outcome, "result", None)
        for test, _ in list(getattr(result, "failures", [])) + list(getattr(result, "errors", [])):
            if test is self or getattr(test, "test_case", None) is self:
                return True
        # Python < 3.11 collects errors on the outcome until the test ends.
        for _, exc_info in getattr(outcome, "errors", []) or []:
            if exc_info is not None:
                return True
        return False

    def _dump_logs_on_failure(self):
        if not self._failed():
            return
        for d in self.daemons:
            sys.stderr.write("\n----- vitals log (%s, exit %s) -----\n%s----- end of log -----\n"
                             % (d.name, d.returncode, d.log()))
        sys.stderr.flush()


def health_check_entry(body, name):
    """The first entry for check `name` in a health+json body's "checks" map (keys "name:measurement")."""
    for key, entries in body.get("checks", {}).items():
        if key.split(":", 1)[0] == name:
            return entries[0]
    raise AssertionError("no check %r in %r" % (name, body))


def entry_statuses(body):
    """The set of statuses of every entry in a health+json body's "checks" map."""
    return {entry["status"] for entries in body.get("checks", {}).values() for entry in entries}
