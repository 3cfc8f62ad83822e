"""Real peers for the integration tests (Python 3 standard library only): servers to check against
and helpers to inspect processes. Shared by several test files: add functions, do not change
existing ones."""

# --- Redis servers, TLS material and process inspection (test_redis.py, test_exec.py) ------------

import os as _os
import shutil as _shutil
import signal as _signal
import socket as _socket
import ssl as _ssl
import subprocess as _subprocess
import threading as _threading
import time as _time

REDIS_SERVER = _shutil.which("redis-server") or "/usr/bin/redis-server"
OPENSSL = _shutil.which("openssl") or "/usr/bin/openssl"


def stop_process(proc, sig=_signal.SIGTERM, timeout=5.0):
    """Sends `sig` to `proc` (a Popen) if it still runs, waits up to `timeout` s, then SIGKILLs and
    reaps it. Returns False when there was nothing to stop (never started, or already exited)."""
    if proc is None or proc.poll() is not None:
        return False
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except _subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return True


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (for servers that cannot bind port 0 and
    report it, like redis-server)."""
    with _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp_command(*args):
    """One Redis command encoded as a RESP array of bulk strings (test-side client only)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def _read_reply(f):
    """Reads one RESP reply from a binary file object: str for +simple/-error ("-ERR ..." kept with
    its dash), int, bytes/None for bulk strings, list for arrays."""
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed")
    kind, rest = line[:1], line[1:].rstrip(b"\r\n")
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return "-" + rest.decode()
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        return [_read_reply(f) for _ in range(int(rest))]
    raise ValueError("unexpected RESP reply %r" % line)


def redis_call(port, *args, password=None, username=None, timeout=5.0, tls_context=None, host="127.0.0.1"):
    """Sends one command (after AUTH when a password is given) to a Redis server; returns the reply
    (errors as "-ERR ..." strings). A helper for setting servers up, not the code under test."""
    sock = _socket.create_connection((host, port), timeout=timeout)
    if tls_context is not None:
        sock = tls_context.wrap_socket(sock, server_hostname=host)
    try:
        f = sock.makefile("rb")
        if password is not None:
            sock.sendall(resp_command("AUTH", username, password) if username else resp_command("AUTH", password))
            reply = _read_reply(f)
            if reply != "OK":
                raise AssertionError("AUTH failed: %r" % reply)
        sock.sendall(resp_command(*args))
        return _read_reply(f)
    finally:
        sock.close()


class RedisServer:
    """A real redis-server on 127.0.0.1:<port> (ephemeral), in the foreground as our child, with no
    persistence unless asked. `args` are extra redis-server arguments, e.g.
    ("--requirepass", "pw") or ("--replicaof", "127.0.0.1", "6379").

    tls: a dict from tls_material() to listen with TLS only (on .port); clients need no certificate."""

    def __init__(self, directory, args=(), port=None, tls=None, name="redis"):
        self.directory = directory
        self.port = port or free_port()
        self.args = list(args)
        self.tls = tls
        self.name = name
        self.proc = None
        self.log_path = _os.path.join(directory, "%s-%d.log" % (name, self.port))
        _os.makedirs(directory, exist_ok=True)

    def command_line(self):
        cmd = [REDIS_SERVER, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--daemonize", "no", "--dir", self.directory, "--logfile", self.log_path,
               "--dbfilename", "%s-%d.rdb" % (self.name, self.port)]
        if self.tls:
            cmd += ["--port", "0", "--tls-port", str(self.port),
                    "--tls-cert-file", self.tls["cert"], "--tls-key-file", self.tls["key"],
                    "--tls-ca-cert-file", self.tls["ca"], "--tls-auth-clients", "no"]
        else:
            cmd += ["--port", str(self.port)]
        return cmd + self.args

    def start(self, wait=True, timeout=10.0):
        self.proc = _subprocess.Popen(self.command_line(), stdin=_subprocess.DEVNULL,
                                      stdout=_subprocess.DEVNULL, stderr=_subprocess.DEVNULL)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=10.0):
        """Waits until the server answers anything at all (PONG, NOAUTH, LOADING all count)."""
        deadline = _time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited with %s; log:\n%s" % (self.proc.returncode, self.log()))
            try:
                ctx = None
                if self.tls:  # readiness only: whether the certificate suits a client is for the test
                    ctx = _ssl.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = _ssl.CERT_NONE
                redis_call(self.port, "PING", timeout=1.0, tls_context=ctx, host="127.0.0.1")
                return self
            except (OSError, ConnectionError, ValueError):
                if _time.monotonic() >= deadline:
                    raise AssertionError("redis-server on port %d not answering after %.0f s; log:\n%s"
                                         % (self.port, timeout, self.log()))
                _time.sleep(0.02)

    def call(self, *args, **kwargs):
        return redis_call(self.port, *args, **kwargs)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=_signal.SIGKILL, timeout=5.0):
        """Stops the server (SIGKILL by default: immediately, no save). Idempotent."""
        stop_process(self.proc, sig, timeout)


def tls_material(directory, names=("localhost",), ips=("127.0.0.1",)):
    """A throwaway CA and a server certificate signed by it, for `names` and `ips` (subjectAltName).
    Returns {"ca", "cert", "key"} file paths."""
    _os.makedirs(directory, exist_ok=True)
    p = lambda n: _os.path.join(directory, n)
    run = lambda *a: _subprocess.run([OPENSSL] + list(a), check=True, stdout=_subprocess.DEVNULL,
                                     stderr=_subprocess.PIPE, timeout=60)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.crt"),
        "-days", "2", "-subj", "/CN=vitals test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("server.key"), "-out", p("server.csr"),
        "-subj", "/CN=%s" % (names[0] if names else "vitals test server"))
    san = ",".join(["DNS:%s" % n for n in names] + ["IP:%s" % i for i in ips])
    with open(p("ext.cnf"), "w") as f:
        f.write("subjectAltName=%s\n" % san)
    run("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
        "-out", p("server.crt"), "-days", "2", "-extfile", p("ext.cnf"))
    return {"ca": p("ca.crt"), "cert": p("server.crt"), "key": p("server.key")}


class SilentListener:
    """Accepts TCP connections on 127.0.0.1:<ephemeral> and never answers or closes them (until
    close()): a server that hangs after connect."""

    def __init__(self):
        self.sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self._stop = _threading.Event()
        self._thread = _threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except _socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self._stop.set()
        self._thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


def proc_stat(pid):
    """(state, ppid, pgrp) of a process from /proc/<pid>/stat, or None when it does not exist."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(")") + 2:].split()  # the command name may contain spaces and ')'
    return fields[0], int(fields[1]), int(fields[2])


def processes():
    """{pid: (state, ppid, pgrp)} of every process visible in /proc."""
    out = {}
    for name in _os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st:
                out[int(name)] = st
    return out


def group_members(pgid, alive_only=True):
    """PIDs in process group `pgid`; with alive_only, zombies (already dead, not yet reaped by
    their parent) are left out."""
    return sorted(pid for pid, (state, _, pgrp) in processes().items()
                  if pgrp == pgid and not (alive_only and state in ("Z", "X")))


def zombie_children(pid):
    """PIDs of the zombie children of `pid` (dead, never reaped by it)."""
    return sorted(p for p, (state, ppid, _) in processes().items() if ppid == pid and state == "Z")


def children(pid):
    return sorted(p for p, (_, ppid, _) in processes().items() if ppid == pid)


def fd_count(pid):
    """Number of open file descriptors of process `pid`."""
    return len(_os.listdir("/proc/%d/fd" % pid))


# --- WebSocket peer scripts, nginx and a test PKI (test_websocket.py, test_http.py) --------------

import sys as _sys

PYTHON = "/usr/bin/python3"  # Debian's: the one with python3-websockets
PEERS_DIR = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "peers")
NGINX = _shutil.which("nginx") or "/usr/sbin/nginx"


class PeerScript:
    """A peer server script from tests/integration/peers/ run with Debian's python3. The script
    prints "LISTENING <port>" once ready; every later stdout line is kept in .lines (thread-safe
    snapshot via lines_now()). Stop with stop() (SIGTERM, then SIGKILL)."""

    def __init__(self, script, *args):
        self.cmd = [PYTHON, _os.path.join(PEERS_DIR, script)] + [str(a) for a in args]
        self.proc = None
        self.port = None
        self.lines = []
        self._lock = _threading.Lock()
        self._ready = _threading.Event()
        self._reader = None

    def start(self, timeout=10.0):
        self.proc = _subprocess.Popen(self.cmd, stdin=_subprocess.DEVNULL, stdout=_subprocess.PIPE,
                                      stderr=_subprocess.STDOUT, text=True, bufsize=1)
        self._reader = _threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout) or self.port is None:
            self.stop()
            raise AssertionError("peer %s not listening after %.0f s; output:\n%s"
                                 % (" ".join(self.cmd[1:]), timeout, "\n".join(self.lines_now())))
        return self

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self._lock:
                self.lines.append(line)
            if line.startswith("LISTENING ") and self.port is None:
                self.port = int(line.split()[1])
                self._ready.set()
        self._ready.set()  # EOF: the script exited

    def lines_now(self):
        with self._lock:
            return list(self.lines)

    def stop(self, timeout=5.0):
        """Idempotent."""
        if not stop_process(self.proc, timeout=timeout):
            return
        if self._reader:
            self._reader.join(2)
        if self.proc.stdout:
            self.proc.stdout.close()


def start_peer_script(testcase, script, *args):
    """Starts a PeerScript and registers its stop() as a cleanup of `testcase`."""
    peer = PeerScript(script, *args)
    testcase.addCleanup(peer.stop)
    return peer.start()


def client_hello(server_hostname="127.0.0.1"):
    """The bytes of a real TLS ClientHello, made by Python's ssl without a socket."""
    ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = _ssl.CERT_NONE
    incoming, outgoing = _ssl.MemoryBIO(), _ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    try:
        obj.do_handshake()
    except _ssl.SSLWantReadError:
        pass
    return outgoing.read()


class TestPki:
    """A throwaway CA (made with the openssl CLI) that issues server certificates with any validity
    window — including already expired ones — through `openssl ca` (`openssl x509 -req` has no way
    to set a start date in OpenSSL 3.0)."""

    def __init__(self, directory, ca_name="vitals test CA"):
        self.dir = directory
        _os.makedirs(_os.path.join(directory, "issued"), exist_ok=True)
        self.ca_cert = self.path("ca.crt")
        self.ca_key = self.path("ca.key")
        open(self.path("index.txt"), "w").close()
        with open(self.path("serial"), "w") as f:
            f.write("1000\n")
        with open(self.path("ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = test_ca\n"
                    "[test_ca]\ndatabase = %s\nserial = %s\nnew_certs_dir = %s\ncertificate = %s\n"
                    "private_key = %s\ndefault_md = sha256\ndefault_days = 30\npolicy = any\ncopy_extensions = copy\n"
                    "unique_subject = no\nemail_in_dn = no\n"
                    "[any]\ncommonName = supplied\n"
                    % (self.path("index.txt"), self.path("serial"), self.path("issued"), self.ca_cert, self.ca_key))
        self._openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.ca_key, "-out", self.ca_cert,
                      "-days", "30", "-subj", "/CN=%s" % ca_name)

    def path(self, name):
        return _os.path.join(self.dir, name)

    def _openssl(self, *args):
        p = _subprocess.run([OPENSSL] + list(args), stdout=_subprocess.PIPE, stderr=_subprocess.PIPE,
                            text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("openssl %s failed: %s%s" % (" ".join(args), p.stdout, p.stderr))
        return p.stdout

    def issue(self, name, cn="127.0.0.1", san="IP:127.0.0.1,DNS:localhost", days=None, start=None, end=None):
        """A key and certificate signed by this CA; returns (cert_path, key_path). Validity: `days`
        from now, or `start`/`end` as openssl dates ("YYYYMMDDHHMMSSZ")."""
        key, csr, cert = self.path(name + ".key"), self.path(name + ".csr"), self.path(name + ".crt")
        self._openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=%s" % cn,
                      "-addext", "subjectAltName=%s" % san)
        validity = []
        if start:
            validity += ["-startdate", start]
        if end:
            validity += ["-enddate", end]
        if days is not None:
            validity += ["-days", str(days)]
        self._openssl("ca", "-batch", "-notext", "-config", self.path("ca.cnf"), "-in", csr, "-out", cert, *validity)
        return cert, key

    @staticmethod
    def openssl_date(seconds_from_now):
        """An `openssl ca -startdate/-enddate` value for now + `seconds_from_now` (may be negative)."""
        return _time.strftime("%Y%m%d%H%M%SZ", _time.gmtime(_time.time() + seconds_from_now))


class Nginx:
    """A real nginx in the foreground (`nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'`, one process,
    logs and pid in DIR) serving the given server blocks on 127.0.0.1 ephemeral ports.

    servers: {name: block} where each block is the inside of an nginx `server { }` and writes its
    listen line with the placeholder @PORT@, e.g. "listen 127.0.0.1:@PORT@ ssl; ...", and may name
    another block's port as @PORT:<name>@ (for redirects between them). After start(), .ports[name]
    is the port of each block."""

    def __init__(self, directory, servers):
        self.dir = directory
        _os.makedirs(directory, exist_ok=True)
        # Distinct ports: free_port() can hand out the same one twice, and nginx then serves two
        # blocks on one port (the first as the default: seen, test_tls's self-signed check got the
        # expired certificate's block).
        self.ports = {}
        for name in servers:
            port = free_port()
            while port in self.ports.values():
                port = free_port()
            self.ports[name] = port
        blocks = []
        for name, body in servers.items():
            body = body.replace("@PORT@", str(self.ports[name]))
            for other, port in self.ports.items():
                body = body.replace("@PORT:%s@" % other, str(port))
            blocks.append("    server {\n%s\n    }" % body)
        d = directory
        self.conf = _os.path.join(d, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write("master_process off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log info;\n"
                    "events { worker_connections 256; }\n"
                    "http {\n    access_log %s/access.log;\n    client_body_temp_path %s/client_body;\n"
                    "    proxy_temp_path %s/proxy;\n    default_type text/plain;\n%s\n}\n"
                    % (d, d, d, d, d, "\n".join(blocks)))
        self.proc = None

    def start(self, timeout=10.0):
        self.proc = _subprocess.Popen([NGINX, "-p", self.dir, "-c", self.conf, "-g", "daemon off;"],
                                      stdin=_subprocess.DEVNULL, stdout=_subprocess.DEVNULL,
                                      stderr=open(_os.path.join(self.dir, "stderr.log"), "wb"))
        deadline = _time.monotonic() + timeout
        for name, port in self.ports.items():
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError("nginx exited with %s; error log:\n%s" % (self.proc.returncode, self.log()))
                try:
                    _socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if _time.monotonic() >= deadline:
                        raise AssertionError("nginx not listening on %s (%d) after %.0f s; error log:\n%s"
                                             % (name, port, timeout, self.log()))
                    _time.sleep(0.02)
        return self

    def log(self):
        out = ""
        for name in ("stderr.log", "error.log"):
            try:
                with open(_os.path.join(self.dir, name), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def access_log(self):
        try:
            with open(_os.path.join(self.dir, "access.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, timeout=5.0):
        """Idempotent: SIGTERM (fast shutdown), then SIGKILL."""
        stop_process(self.proc, timeout=timeout)


def start_nginx(testcase, directory, servers):
    """Starts an Nginx and registers its stop() as a cleanup of `testcase`; returns it."""
    ng = Nginx(directory, servers)
    testcase.addCleanup(ng.stop)
    return ng.start()


def quiet_fd_count(pid, samples=25, interval=0.02):
    """The smallest descriptor count of process `pid` over `samples` looks `interval` s apart: what it
    holds besides the descriptors of work in flight at any one moment (a check run's socket or pipe)."""
    counts = []
    for _ in range(samples):
        counts.append(fd_count(pid))
        _time.sleep(interval)
    return min(counts)


# --- dnsmasq and a silent UDP socket (test_dns.py) ------------------------------------------------

import struct as _struct

DNSMASQ = _shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_udp_tcp_port():
    """A port on 127.0.0.1 free for both TCP and UDP a moment ago (a DNS server listens on both)."""
    for _ in range(50):
        port = free_port()
        with _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM) as u:
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no port free for both TCP and UDP in 50 tries")


def dns_query(port, name, qtype=1, timeout=1.0):
    """Sends one UDP query without EDNS (a test-side client) to 127.0.0.1:<port>; returns the answer's
    bytes, or None when none came within `timeout` s."""
    labels = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    query = _struct.pack(">HHHHHH", 0x5654, 0x0100, 1, 0, 0, 0) + labels + _struct.pack(">HH", qtype, 1)
    with _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(query, ("127.0.0.1", port))
        try:
            data, _ = s.recvfrom(65535)
        except _socket.timeout:
            return None
    return data if len(data) >= 12 and data[:2] == b"\x56\x54" else None


def dns_query_rcode(port, name, qtype=1, timeout=1.0):
    """dns_query()'s answer's rcode, or None without an answer."""
    data = dns_query(port, name, qtype, timeout)
    return None if data is None else data[3] & 0x0F


class Dnsmasq:
    """A real dnsmasq on 127.0.0.1:<port> (UDP and TCP), in the foreground as our child: no upstream
    servers, no /etc/hosts, only the records given as dnsmasq options in `records` (e.g.
    "--host-record=host.test,192.0.2.1"), authoritative-like for `local_domain` (NXDOMAIN for any
    other name in it). Its log (queries included) goes to log_path."""

    def __init__(self, directory, records, local_domain="test", port=None):
        self.port = port or free_udp_tcp_port()
        self.log_path = _os.path.join(directory, "dnsmasq-%d.log" % self.port)
        self.cmd = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                    "--pid-file=", "--user=%s" % _pwd_name(_os.geteuid()), "--listen-address=127.0.0.1",
                    "--bind-interfaces", "--port=%d" % self.port, "--local=/%s/" % local_domain,
                    "--log-queries", "--log-facility=%s" % self.log_path] + list(records)
        self.proc = None

    def start(self, timeout=10.0):
        self.proc = _subprocess.Popen(self.cmd, stdin=_subprocess.DEVNULL, stdout=_subprocess.DEVNULL,
                                      stderr=_subprocess.PIPE)
        deadline = _time.monotonic() + timeout
        while dns_query_rcode(self.port, "ready.invalid", timeout=0.2) is None:
            if self.proc.poll() is not None:
                raise AssertionError("dnsmasq exited with %s: %s" % (self.proc.returncode, self.proc.stderr.read()))
            if _time.monotonic() >= deadline:
                raise AssertionError("dnsmasq on port %d not answering after %.0f s" % (self.port, timeout))
        return self

    def stop(self, timeout=5.0):
        """Idempotent."""
        if stop_process(self.proc, timeout=timeout) and self.proc.stderr:
            self.proc.stderr.close()


def _pwd_name(uid):
    import pwd
    return pwd.getpwuid(uid).pw_name


class SilentUdp:
    """A UDP socket bound to 127.0.0.1:<ephemeral> that never reads what it is sent: a DNS server that
    never answers."""

    def __init__(self):
        self.sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


# --- PostgreSQL (test_postgres.py) ------------------------------------------------------------------

import glob as _glob
import tempfile as _tempfile

PG_BIN = (sorted(_glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
          or ["/usr/lib/postgresql/15/bin"])[-1]


def read_text_file(path):
    """The text of a file (undecodable bytes replaced), "" when it cannot be read."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class PostgresServer:
    """A real PostgreSQL server (Debian's binaries, PG_BIN) on 127.0.0.1:<port>, in the foreground as
    our child, with a fresh cluster made by initdb: TCP connections authenticate with
    scram-sha-256 (the superuser "postgres" with `superuser_password`), the Unix socket in the
    cluster's directory trusts (for psql() to set things up).

    The server refuses to run as root, so when we are root initdb and the server run as `nobody`
    (setpriv), in a directory of /tmp that nobody owns (the test's own temp dir is root's, mode 0700)."""

    def __init__(self, superuser_password, port=None):
        self.port = port or free_port()
        self.password = superuser_password
        self.dir = _tempfile.mkdtemp(prefix="vitals-pg-")
        self.data = _os.path.join(self.dir, "data")
        self.socket_dir = _os.path.join(self.dir, "sock")
        self.log_path = _os.path.join(self.dir, "server.log")
        self.proc = None

    def _as_server_user(self, cmd):
        if _os.geteuid() != 0:
            return cmd
        return [_shutil.which("setpriv") or "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
                "--clear-groups", "--"] + cmd

    def _chown(self, path):
        if _os.geteuid() == 0:
            import pwd
            nobody = pwd.getpwnam("nobody")
            _os.chown(path, nobody.pw_uid, nobody.pw_gid)

    def start(self, timeout=60.0):
        _os.makedirs(self.socket_dir)
        pwfile = _os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        for path in (self.dir, self.socket_dir, pwfile):
            self._chown(path)
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": self.dir}
        init = _subprocess.run(self._as_server_user(
            [_os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres", "--pwfile=" + pwfile,
             "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync"]),
            stdin=_subprocess.DEVNULL, stdout=_subprocess.PIPE, stderr=_subprocess.STDOUT, text=True,
            env=env, cwd=self.dir, timeout=timeout)
        if init.returncode != 0:
            raise AssertionError("initdb failed (%d):\n%s" % (init.returncode, init.stdout))
        _os.unlink(pwfile)
        log = open(self.log_path, "wb")
        self.proc = _subprocess.Popen(self._as_server_user(
            [_os.path.join(PG_BIN, "postgres"), "-D", self.data, "-c", "listen_addresses=127.0.0.1",
             "-c", "port=%d" % self.port, "-c", "unix_socket_directories=" + self.socket_dir,
             "-c", "fsync=off", "-c", "max_connections=40", "-c", "shared_buffers=16MB"]),
            stdin=_subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=self.dir)
        log.close()
        deadline = _time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("postgres exited with %s; log:\n%s" % (self.proc.returncode, self.log()))
            ready = _subprocess.run([_os.path.join(PG_BIN, "pg_isready"), "-q", "-h", self.socket_dir,
                                     "-p", str(self.port)], stdin=_subprocess.DEVNULL, timeout=10)
            if ready.returncode == 0:
                return self
            if _time.monotonic() >= deadline:
                raise AssertionError("postgres on port %d not ready after %.0f s; log:\n%s"
                                     % (self.port, timeout, self.log()))
            _time.sleep(0.05)

    def psql(self, sql, dbname="postgres"):
        """Runs `sql` as the superuser over the Unix socket (trusted); returns psql's output."""
        p = _subprocess.run([_os.path.join(PG_BIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                             "-h", self.socket_dir, "-p", str(self.port), "-U", "postgres", "-d", dbname,
                             "-c", sql], stdin=_subprocess.DEVNULL, stdout=_subprocess.PIPE,
                            stderr=_subprocess.PIPE, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("psql %r failed: %s" % (sql, p.stderr))
        return p.stdout

    def log(self):
        return read_text_file(self.log_path)

    def stop(self, timeout=10.0):
        """Fast shutdown (SIGINT), then SIGKILL; removes the cluster. Idempotent."""
        stop_process(self.proc, _signal.SIGINT, timeout)
        _shutil.rmtree(self.dir, ignore_errors=True)


# --- A gRPC health server (test_grpc.py) --------------------------------------------------------

class GrpcHealthServer:
    """build/fixtures/grpc_health_server (tests/fixtures/grpc_health_server.cpp): a real libgrpc++
    server on 127.0.0.1:<ephemeral> whose health statuses the test sets with set(). Every line it
    prints is kept in .lines (snapshot via lines_now()). Stop with stop() (closes its stdin, then
    SIGTERM, SIGKILL); idempotent."""

    def __init__(self, fixture_dir, tls=None, token=None):
        self.cmd = [_os.path.join(fixture_dir, "grpc_health_server")]
        if tls:
            self.cmd += ["--tls", tls[0], tls[1]]
        if token:
            self.cmd += ["--token", token]
        self.proc = None
        self.port = None
        self.lines = []
        self._cond = _threading.Condition()
        self._reader = None

    def start(self, timeout=10.0):
        self.proc = _subprocess.Popen(self.cmd, stdin=_subprocess.PIPE, stdout=_subprocess.PIPE,
                                      stderr=_subprocess.STDOUT, text=True, bufsize=1)
        self._reader = _threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        with self._cond:
            self._cond.wait_for(lambda: self.port is not None or self.proc.poll() is not None, timeout)
        if self.port is None:
            self.stop()
            raise AssertionError("grpc_health_server not listening after %.0f s; output:\n%s"
                                 % (timeout, "\n".join(self.lines_now())))
        return self

    def _read(self):
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                if line.startswith("LISTENING ") and self.port is None:
                    self.port = int(line.split()[1])
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def lines_now(self):
        with self._cond:
            return list(self.lines)

    def set(self, service, status, timeout=10.0):
        """Sets `service` ("" for the whole server) to SERVING, NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN,
        HANG or ABSENT; returns once the server has applied it."""
        with self._cond:
            before = self.lines.count("OK")
        self.proc.stdin.write("set %s %s\n" % (service or "-", status))
        self.proc.stdin.flush()
        with self._cond:
            if not self._cond.wait_for(lambda: self.lines.count("OK") > before, timeout):
                raise AssertionError("grpc_health_server did not apply 'set %s %s'" % (service, status))

    def calls(self, service):
        """The user agents of the calls made for `service` so far."""
        prefix = "CALL %s " % (service or "-")
        return [line[len(prefix):] for line in self.lines_now() if line.startswith(prefix)]

    def stop(self, timeout=5.0):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except _subprocess.TimeoutExpired:
            stop_process(self.proc, timeout=timeout)
        if self._reader:
            self._reader.join(2)
        self.proc.stdout.close()
