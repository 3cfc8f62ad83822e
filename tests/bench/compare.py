#!/usr/bin/python3
"""Side-by-side benchmarks (issue 7): vitals against nginx and a Node express health server, all on
127.0.0.1, each comparison alternating the sides within one run (A B C A B C ...) and reporting
medians and ratios. Prints figures and a Markdown table; asserts nothing (machines are noisy).

Usage: tests/bench/compare.py BUILD_DIR [--quick] [--only SECTION[,SECTION...]] [--probe-seconds N]
Sections: throughput, memory, tls, startup, scale, history, floods, types, probers, dashboard (default: all,
in that order).

Needs: wrk, nginx (nginx-light), redis-server, node + npm (express is installed from the npm
registry into a scratch folder under /tmp, never into the repository), python3-websockets (for
the memory section's websocket check), chromium, chromium-driver and python3-selenium (the dashboard
section). Nothing is pinned to a CPU.

What each section does:
  throughput  GET /health under wrk (2 threads, 50 connections), keep-alive and with
              "Connection: close" (a new connection per request, as load balancers probe);
              vitals runs 4 real checks every second (disk, tcp, redis, http against a local
              redis-server and a 1-worker nginx peer); nginx has 2 workers answering `return 200`;
              express answers /health with res.json(). ROUNDS rounds of vitals, nginx, express.
  memory      VmRSS / VmHWM (/proc/PID/status) idle and under wrk load; vitals with every built-in
              plugin loaded and 20 checks (disk, tcp, redis, http, websocket, exec); nginx counts
              master + workers (RSS double-counts shared pages, so nginx is overstated).
  startup     spawn to the first 200 on /health, polled in a tight loop (0.2 ms sleep between
              attempts), median of N runs alternating the sides; vitals with a disk and a tcp check
              (a fresh history database each run, as in a new container).
  scale       100, 1,000 and 10,000 redis checks against one redis-server (1 s; 10,000 also at
              10 s) and 10,000 fixture_counter checks at 1 s (no I/O): vitals' CPU from
              /proc/PID/stat per run over a 20 s window, VmRSS, snapshot build time, start lag and
              missed runs from the daemon's own vitals_scheduler_* metrics, fresh GET /health.
  history     tests/history_bench (issue 4), and its prune-rate mode (issue 12: rows kept at 5,000 rows/s).
  tls         issue 19: GET /health over TLS (server.tls) under wrk, keep-alive and a new TLS connection
              per request, beside nginx (2 workers) serving the same certificate; VmRSS with TLS on
              and 20 checks, idle and under wrk over TLS.
  floods      tests/bench/floods.py (issue 6).
  types       the cost of check types that bring their own library (issue 18): a daemon with a disk
              check and one check of the type every second, beside a disk-only daemon running at
              the same time: VmRSS increase and CPU per run (dns against a dnsmasq, postgres against
              a PostgreSQL made by initdb, grpc against build/fixtures/grpc_health_server, tls
              against a TLS nginx with a test CA, all on loopback).
  dashboard   issue 16, each figure beside today's history path: insert rate through the writer
              (history_bench bench --rollups=both, 3 rounds: rollups off, as before issue 16, and
              on); tests/history_seed writes 20 checks x 90 days (10 M raw rows, 1 M with --quick,
              and their rollups) through the writer into a temp file (its rows/s printed), deleted
              at the end. On it, vitals serve with 20 disk checks of those names:
              /health/uptime?check=ONE&range=30d&bucket=1h p50/p99 over one kept-alive connection,
              beside the same question answered from raw rows as a user had to before rollups (every
              page of /health/history?check=ONE&since=<30 days ago>&limit=1000, following `next`,
              counted client-side), and without HTTP (history_bench uptime: HistoryReader and JSON
              in-process on rollups it writes itself). Headless Debian chromium (python3-selenium,
              chromium-driver; started by tests/integration/test_dashboard.py's browser(), so with
              its options: nothing but loopback reachable), a fresh profile per load, median of 5
              loads of /dashboard: first contentful paint (paint timing), the full first view (every
              request of the first refresh cycle answered: the latest responseEnd of resource timing
              once every row has its heartbeat bar and uptime cells), bytes on the wire
              (transferSize of the document and those requests), and server time (each of those URLs
              timed alone from Python over a kept-alive connection, median of 5, summed: loopback
              round trips included); the same against a daemon with a fresh, empty history. Binary:
              bytes of core/src/http/dashboard/* and `size` (text+data+bss) of
              dashboard_assets.cpp.o + dashboard.cpp.o. VmRSS idle, after GET of the page and its
              assets, and after the page loads, beside a daemon never asked for the page.
"""

import argparse
import http.client
import json
import os
import re
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
from peers import GrpcHealthServer, Nginx, TestPki, free_port  # noqa: E402  (the integration tests' helpers)
EXPRESS_DIR = "/tmp/vitals-bench-express"  # scratch npm folder, reused between runs
EXPRESS_SPEC = "express@4"
HZ = os.sysconf("SC_CLK_TCK")

ap = argparse.ArgumentParser()
ap.add_argument("build", nargs="?", default="build")
ap.add_argument("--quick", action="store_true", help="fewer rounds and shorter windows (a smoke run)")
ap.add_argument("--only", default="throughput,memory,tls,startup,scale,history,floods,types,probers,dashboard")
ap.add_argument("--probe-seconds", type=int, default=60,
                help="how long wrk floods /health for the probe-rows figure (issue 15; the target is for 60 s)")
args = ap.parse_args()
BUILD = os.path.abspath(args.build)
VITALS = os.path.join(BUILD, "vitals")
SECTIONS = args.only.split(",")

ROUNDS = 2 if args.quick else 5           # throughput rounds (each: every side, both modes)
WRK_SECONDS = 2 if args.quick else 4
WRK_THREADS, WRK_CONNS = 2, 50
START_RUNS = 5 if args.quick else 15
SCALE_WARMUP = 3 if args.quick else 6
SCALE_WINDOW = 8 if args.quick else 20
HISTORY_ROWS = 200_000 if args.quick else 1_000_000
PRUNE_RATE, PRUNE_SECONDS = 5000, (10 if args.quick else 60)  # issue 12
TYPES_WINDOW = 10 if args.quick else 30  # seconds of one check per type per second
PRUNE_MAX_ROWS = PRUNE_RATE * PRUNE_SECONDS // 3  # a third of what is written: pruning runs for 2/3 of it

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))

TMP = tempfile.mkdtemp(prefix="vitals-bench-")
procs = []  # everything started here, stopped at exit
results = {}  # figures for the final table


def log(msg=""):
    print(msg, flush=True)


# ---------------------------------------------------------------- processes and ports

def spawn(argv, name, **kw):
    out = open(os.path.join(TMP, name + ".log"), "ab")
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
    p.bench_name = name
    procs.append(p)
    return p


def stop(p, timeout=5):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in procs:
        procs.remove(p)


def stop_all():
    for p in list(procs):
        stop(p)


def unverified_tls():
    """An ssl context that checks nothing (as an ALB's HTTPS health check does not)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def get(port, path="/health", timeout=2.0, tls=False):
    if tls:
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=unverified_tls())
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_status(port, want=200, timeout=20.0, path="/health", tls=False):
    """Polls until GET path answers `want` (None: any answer)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = get(port, path, tls=tls)
            if want is None or last[0] == want:
                return last
        except OSError as e:
            last = e
        time.sleep(0.05)
    if isinstance(last, tuple):
        last = (last[0], last[1][:300])
    raise RuntimeError("127.0.0.1:%d%s did not answer %s within %.0f s (last: %r)" % (port, path, want, timeout, last))


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nothing listening on 127.0.0.1:%d" % port)


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def mem_kb(pid, field, with_children=False):
    """VmRSS or VmHWM of pid (plus its children: nginx master + workers)."""
    pids = [pid] + (children(pid) if with_children else [])
    return sum(status_kb(p, field) for p in pids)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


# ---------------------------------------------------------------- the sides and the peers

def start_redis():
    port = free_port()
    p = spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", TMP, "--maxclients", "10000"], "redis-%d" % port)
    wait_port(port)
    return p, port


NGINX_CONF = """
worker_processes %(workers)d;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %(dir)s/body;
  proxy_temp_path %(dir)s/proxy;
  fastcgi_temp_path %(dir)s/fastcgi;
  uwsgi_temp_path %(dir)s/uwsgi;
  scgi_temp_path %(dir)s/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:%(port)d %(reuseport)s;
    %(tls)s
    location / { return 200; }
  }
}
"""


# nginx with the same certificate, protocols and TLS 1.3 suite order as vitals' server.tls (its
# default suite order puts AES-256 first), session tickets on (its default).
NGINX_TLS = ("listen 127.0.0.1:%(port)d ssl; ssl_certificate %(cert)s; ssl_certificate_key %(key)s; "
             "ssl_protocols TLSv1.2 TLSv1.3; ssl_prefer_server_ciphers on; "
             "ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;")


def nginx_argv(workers, port, tls=None):
    """nginx on `port`, plain HTTP, or with tls=(cert, key) HTTPS only."""
    d = tempfile.mkdtemp(prefix="nginx-", dir=TMP)
    conf = os.path.join(d, "nginx.conf")
    listen_port = free_port() if tls else port  # with TLS, the plain listener moves out of the way
    extra = NGINX_TLS % {"port": port, "cert": tls[0], "key": tls[1]} if tls else ""
    with open(conf, "w") as f:
        f.write(NGINX_CONF % {"workers": workers, "dir": d, "port": listen_port, "reuseport": "", "tls": extra})
    return ["nginx", "-p", d, "-c", conf, "-g", "daemon off; master_process on;"]


def start_nginx(workers=2, tls=None):
    port = free_port()
    p = spawn(nginx_argv(workers, port, tls), "nginx-%d" % port)
    wait_status(port, tls=bool(tls))
    return p, port


def bench_certificate():
    """A self-signed RSA 2048 certificate for 127.0.0.1 (what most ALB targets would serve)."""
    d = tempfile.mkdtemp(prefix="tls-", dir=TMP)
    cert, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def ensure_express():
    pkg = os.path.join(EXPRESS_DIR, "node_modules", "express", "package.json")
    if not os.path.exists(pkg):
        if not shutil.which("npm"):
            sys.exit("npm not found: install nodejs (packaging/debian-packages.txt, bench:) and, with Debian's own "
                     "nodejs, npm")
        log("installing %s into %s (npm) ..." % (EXPRESS_SPEC, EXPRESS_DIR))
        os.makedirs(EXPRESS_DIR, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", EXPRESS_DIR, "--no-audit", "--no-fund", "--silent",
                        "--no-package-lock", EXPRESS_SPEC], check=True, stdout=subprocess.DEVNULL)
    server = os.path.join(EXPRESS_DIR, "health.js")
    with open(server, "w") as f:
        f.write("const express = require('express');\n"
                "const app = express();\n"
                "app.get('/health', (req, res) => res.json({ status: 'pass' }));\n"
                "app.listen(Number(process.argv[2]), '127.0.0.1');\n")
    with open(pkg) as f:
        return json.load(f)["version"]


def express_argv(port):
    return ["node", os.path.join(EXPRESS_DIR, "health.js"), str(port)]


def start_express():
    port = free_port()
    p = spawn(express_argv(port), "express-%d" % port, cwd=EXPRESS_DIR)
    wait_status(port)
    return p, port


def check(name, type_, options, interval="1s", timeout="500ms", **extra):
    c = {"name": name, "type": type_, "interval": interval, "timeout": timeout, "options": options}
    c.update(extra)
    return c


def vitals_config(name, checks, port=0, tls=None):
    d = tempfile.mkdtemp(prefix=name + "-", dir=TMP)
    cfg = {"server": dict({"address": "127.0.0.1", "port": port}, **({"tls": {"cert": tls[0], "key": tls[1]}}
                                                                        if tls else {})),
           "history": {"path": os.path.join(d, "history.db")},
           "log": {"level": "warn"},
           "checks": checks}
    path = os.path.join(d, "vitals.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path, cfg["history"]["path"]


def start_vitals(name, checks, want=200, timeout=20.0, tls=None):
    """vitals on a free port; with tls=(cert, key), HTTPS (server.tls)."""
    port = free_port()
    path, db = vitals_config(name, checks, tls=tls)
    p = spawn([VITALS, "serve", "-c", path, "--port", str(port)], "%s-%d" % (name, port), cwd=TMP)
    wait_status(port, want, timeout, tls=bool(tls))
    p.config_path, p.db = path, db
    return p, port


def disk_check(name="disk"):
    return check(name, "disk", {"path": "/", "warn_free_percent": 0, "fail_free_percent": 0,
                                "fail_free_inodes_percent": 0})


def four_checks(redis_port, peer_port):
    return [disk_check(),
            check("tcp", "tcp", {"host": "127.0.0.1", "port": peer_port}),
            check("redis", "redis", {"host": "127.0.0.1", "port": redis_port}),
            check("http", "http", {"url": "http://127.0.0.1:%d/" % peer_port})]


# ---------------------------------------------------------------- wrk

UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk(port, close, seconds=None, scheme="http"):
    argv = ["wrk", "-t%d" % WRK_THREADS, "-c%d" % WRK_CONNS, "-d%ds" % (seconds or WRK_SECONDS), "--latency"]
    if close:
        argv += ["-H", "Connection: close"]
    argv.append("%s://127.0.0.1:%d/health" % (scheme, port))
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120).stdout
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for p in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % p, out, re.M)
        r["p" + p] = float(m.group(1)) * UNIT[m.group(2)]
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["errors"] = sum(int(x) for x in m.groups()) if m else 0
    return r


def fmt_num(x, digits=0):
    if x != x:
        return "n/a"
    return "{:,.{d}f}".format(x, d=digits)


# ---------------------------------------------------------------- sections

def throughput(sides, scheme="http", key="tp"):
    """wrk against each side in turn; figures under results[(key, mode, side)]. With scheme "https",
    "close" is a new TLS connection per request (TCP and TLS handshakes each time)."""
    log("== %s. GET /health%s under wrk (-t%d -c%d, %d s per run, %d rounds alternating %s)"
        % ("1" if key == "tp" else "1b", " over TLS" if scheme == "https" else "", WRK_THREADS, WRK_CONNS,
           WRK_SECONDS, ROUNDS, ", ".join(sides)))
    for name, (_, port) in sides.items():
        st, body = get(port, tls=scheme == "https")
        log("  %-8s 127.0.0.1:%d /health -> %d, %d-byte body" % (name, port, st, len(body)))
    data = {(n, m): [] for n in sides for m in ("keepalive", "close")}
    for name, (_, port) in sides.items():  # warm-up (JIT, caches), not counted
        wrk(port, False, 1, scheme)
    for r in range(ROUNDS):
        for mode in ("keepalive", "close"):
            for name, (_, port) in sides.items():
                res = wrk(port, mode == "close", scheme=scheme)
                data[(name, mode)].append(res)
                log("  round %d %-9s %-8s %9s req/s  p50 %6.3f ms  p99 %6.3f ms%s" % (
                    r + 1, mode, name, fmt_num(res["rps"]), res["p50"], res["p99"],
                    "  (non-2xx %d, socket errors %d)" % (res["non2xx"], res["errors"])
                    if res["non2xx"] or res["errors"] else ""))
    for mode in ("keepalive", "close"):
        for name in sides:
            runs = data[(name, mode)]
            results[(key, mode, name)] = {k: median([x[k] for x in runs]) for k in ("rps", "p50", "p99")}
            results[(key, mode, name)]["bad"] = sum(x["non2xx"] + x["errors"] for x in runs)
        # ratios per round (both sides measured moments apart), then their median
        for other in (o for o in sides if o != "vitals"):
            results[(key + "_ratio", mode, other)] = median(
                [v["rps"] / o["rps"] for v, o in zip(data[("vitals", mode)], data[(other, mode)])])
    log()


def twenty_checks(redis_port, peer_port, ws_port):
    """20 checks of all six built-in types (the memory figures)."""
    checks = [disk_check("disk-root"),
              check("disk-tmp", "disk", {"path": "/tmp", "warn_free_percent": 0, "fail_free_percent": 0,
                                         "fail_free_inodes_percent": 0, "write_probe": True}),
              disk_check("disk-3"), disk_check("disk-4")]
    checks += [check("tcp-%d" % i, "tcp", {"host": "127.0.0.1", "port": p})
               for i, p in enumerate([peer_port, redis_port, peer_port, redis_port])]
    checks += [check("redis-%d" % i, "redis", {"host": "127.0.0.1", "port": redis_port}) for i in range(4)]
    checks += [check("http-%d" % i, "http", {"url": "http://127.0.0.1:%d/x%d" % (peer_port, i),
                                             "body_regex": ".*"}) for i in range(4)]
    checks += [check("ws-%d" % i, "websocket", {"url": "ws://127.0.0.1:%d/" % ws_port, "ping": True})
               for i in range(2)]
    checks += [check("exec-%d" % i, "exec", {"command": ["/usr/lib/nagios/plugins/check_dummy", "0", "ok"]},
                     interval="2s", timeout="1s") for i in range(2)]
    assert len(checks) == 20
    return checks


def memory(nginx, express, redis_port, peer_port, ws_port):
    log("== 2. resident memory (kB from /proc/PID/status): idle, then under wrk load")
    checks = twenty_checks(redis_port, peer_port, ws_port)
    vit = start_vitals("vitals-20", checks)
    time.sleep(5)  # every check has run a few times, history has written
    st, body = get(vit[1])
    n_types = len([l for l in subprocess.run([VITALS, "plugins", "-c", vit[0].config_path], capture_output=True,
                                             text=True).stdout.splitlines() if l and not l.startswith(" ")])
    log("  vitals: 20 checks, %d plugin types loaded, /health -> %d (%d bytes)" % (n_types, st, len(body)))
    sides = {"vitals": (vit[0], vit[1], False), "nginx": (nginx[0], nginx[1], True),
             "express": (express[0], express[1], False)}
    for name, (p, port, kids) in sides.items():
        idle = mem_kb(p.pid, "VmRSS", kids)
        peak_rss = idle
        for close in (False, True):
            w = subprocess.Popen(["wrk", "-t%d" % WRK_THREADS, "-c%d" % WRK_CONNS, "-d3s"] +
                                 (["-H", "Connection: close"] if close else []) +
                                 ["http://127.0.0.1:%d/health" % port], stdout=subprocess.DEVNULL)
            while w.poll() is None:
                peak_rss = max(peak_rss, mem_kb(p.pid, "VmRSS", kids))
                time.sleep(0.1)
        after = mem_kb(p.pid, "VmRSS", kids)
        hwm = mem_kb(p.pid, "VmHWM", kids)
        anon, files = mem_kb(p.pid, "RssAnon", kids), mem_kb(p.pid, "RssFile", kids)
        results[("mem", name)] = {"idle": idle, "load": peak_rss, "after": after, "hwm": hwm}
        log("  %-8s idle VmRSS %7d   under load (max sampled VmRSS) %7d   after %7d   VmHWM %7d"
            "   (after: RssAnon %d, RssFile %d)" % (name, idle, peak_rss, after, hwm, anon, files))
    stop(vit[0])
    log()


def tls_memory(cert_key, redis_port, peer_port, ws_port):
    """VmRSS of vitals with TLS on and the 20 checks of memory(), idle and under wrk over TLS."""
    log("== 2b. resident memory with server.tls (kB): 20 checks, idle, then under wrk over TLS")
    vit = start_vitals("vitals-20-tls", twenty_checks(redis_port, peer_port, ws_port), tls=cert_key)
    time.sleep(5)
    idle = peak = mem_kb(vit[0].pid, "VmRSS")
    for close in (False, True):
        w = subprocess.Popen(["wrk", "-t%d" % WRK_THREADS, "-c%d" % WRK_CONNS, "-d3s"] +
                             (["-H", "Connection: close"] if close else []) +
                             ["https://127.0.0.1:%d/health" % vit[1]], stdout=subprocess.DEVNULL)
        while w.poll() is None:
            peak = max(peak, mem_kb(vit[0].pid, "VmRSS"))
            time.sleep(0.1)
    after, hwm = mem_kb(vit[0].pid, "VmRSS"), mem_kb(vit[0].pid, "VmHWM")
    results["tls_mem"] = {"idle": idle, "load": peak, "after": after, "hwm": hwm}
    log("  vitals   idle VmRSS %7d   under load (max sampled VmRSS) %7d   after %7d   VmHWM %7d" % (idle, peak, after, hwm))
    stop(vit[0])
    log()


def floods():
    """tests/bench/floods.py, plain and over TLS (issue 19: TLS slowloris)."""
    log("== 6. floods (issues 6, 19): tests/bench/floods.py, then with --tls")
    for key, extra in (("floods", []), ("floods_tls", ["--tls"])):
        out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "floods.py"), BUILD] + extra, capture_output=True,
                             text=True, check=True, timeout=300).stdout
        log(out.rstrip())
        m = re.search(r"keep-alive:\s+([\d.]+) / ([\d.]+) / ([\d.]+)", out)
        results[key] = tuple(float(x) for x in m.groups()) if m else None
    log()


def startup():
    log("== 3. start-up to the first 200 on /health (%d runs each, alternating; tight poll)" % START_RUNS)
    redis_p, redis_port = start_redis()
    times = {"vitals": [], "nginx": [], "express": []}
    accepted = {"vitals": [], "nginx": [], "express": []}

    def first_200(name, argv, port, cwd=None, deadline_s=10.0):
        """ms from spawn to the first connection accepted and to the first 200."""
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
        first_accept = None
        try:
            while time.perf_counter() - t0 < deadline_s:
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=1)
                except OSError:
                    time.sleep(0.0002)
                    continue
                try:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    head = s.recv(64)
                finally:
                    s.close()
                now = (time.perf_counter() - t0) * 1000
                if first_accept is None and head:
                    first_accept = now
                if head.startswith(b"HTTP/1.1 200"):
                    times[name].append(now)
                    accepted[name].append(first_accept)
                    return
                time.sleep(0.0002)
            raise RuntimeError("no 200 from %s within %.0f s" % (argv[0], deadline_s))
        finally:
            p.terminate()
            p.wait()

    for i in range(START_RUNS):
        port = free_port()
        path, _ = vitals_config("start", [
            check("disk", "disk", {"path": "/", "warn_free_percent": 0, "fail_free_percent": 0,
                                   "fail_free_inodes_percent": 0}, interval="5s", timeout="1s"),
            check("tcp", "tcp", {"host": "127.0.0.1", "port": redis_port}, interval="5s", timeout="1s")], port)
        first_200("vitals", [VITALS, "serve", "-c", path], port)
        port = free_port()
        first_200("nginx", nginx_argv(2, port), port)
        port = free_port()
        first_200("express", express_argv(port), port, cwd=EXPRESS_DIR)
    for name, xs in times.items():
        results[("start", name)] = median(xs)
        log("  %-8s first 200: median %6.1f ms (min %6.1f, max %6.1f); first answer of any status: median %6.1f ms"
            % (name, median(xs), min(xs), max(xs), median(accepted[name])))
    log("  (spawning /bin/true takes %.1f ms here)" % median([spawn_time() for _ in range(10)]))
    stop(redis_p)
    log()


def spawn_time():
    t = time.perf_counter()
    subprocess.run(["/bin/true"])
    return (time.perf_counter() - t) * 1000


def metrics_of(port):
    """The daemon's /metrics, as {name: value} for unlabelled series and sums by name for labelled
    ones; the start-lag histogram's buckets as {le: count}."""
    st, body = get(port, "/metrics", timeout=30)
    out, lag = {}, {}
    for line in body.decode().splitlines():
        if not line or line[0] == "#":
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("vitals_scheduler_start_lag_seconds_bucket"):
            lag[name.split('le="')[1].rstrip('"}')] = float(value)
            continue
        base = name.split("{")[0]
        if base == "vitals_check_runs_total" or "{" not in name:
            out[base] = out.get(base, 0) + float(value)
    return out, lag


def lag_quantile(lag0, lag1, q):
    """The upper bound of the histogram bucket holding quantile q of the runs between two scrapes."""
    bounds = sorted((float(k) if k != "+Inf" else float("inf")) for k in lag1)
    key = lambda b: "+Inf" if b == float("inf") else ("%g" % b)
    total = lag1["+Inf"] - lag0.get("+Inf", 0)
    if total <= 0:
        return float("nan")
    for b in bounds:
        if lag1[key(b)] - lag0.get(key(b), 0) >= q * total:
            return b
    return float("inf")


def scale_case(label, n, interval_s, type_, options, warmup, window, extra_config=None, peer=None):
    """n checks of one type at one interval: the daemon's CPU per run, RSS, snapshot build time,
    start lag and missed runs (its own metrics), and fresh /health with the full body."""
    timeout = "500ms"
    checks = [check("c%05d" % i, type_, options, interval="%ds" % interval_s, timeout=timeout) for i in range(n)]
    port = free_port()
    path, db = vitals_config("vitals-scale-%d" % n, checks)
    if extra_config:
        with open(path) as f:
            cfg = json.load(f)
        cfg.update(extra_config)
        with open(path, "w") as f:
            json.dump(cfg, f)
    p = spawn([VITALS, "serve", "-c", path, "--port", str(port)], "vitals-scale-%d-%d" % (n, port), cwd=TMP)
    wait_status(port, None, 60)
    time.sleep(warmup)  # past the first runs (all at once) and the spreading second ones
    m0, lag0 = metrics_of(port)
    t0, c0 = time.monotonic(), cpu_ticks(p.pid)
    peer0 = cpu_ticks(peer.pid) if peer else 0
    lat, size = [], 0
    while time.monotonic() - t0 < window:
        t = time.perf_counter()
        st, body = get(port, timeout=30)
        lat.append((time.perf_counter() - t) * 1000)
        size = len(body)
        time.sleep(0.1)
    t1, c1 = time.monotonic(), cpu_ticks(p.pid)
    peer_cpu = (cpu_ticks(peer.pid) - peer0) / HZ / (t1 - t0) * 100 if peer and type_ == "redis" else None
    m1, lag1 = metrics_of(port)
    rss = mem_kb(p.pid, "VmRSS")
    stop(p)
    runs = m1["vitals_check_runs_total"] - m0["vitals_check_runs_total"]
    builds = m1["vitals_snapshot_builds_total"] - m0["vitals_snapshot_builds_total"]
    build_s = m1["vitals_snapshot_build_seconds_total"] - m0["vitals_snapshot_build_seconds_total"]
    cpu_s = (c1 - c0) / HZ
    r = {"label": label, "n": n, "interval": interval_s, "type": type_,
         "cpu": cpu_s / (t1 - t0) * 100, "runs_per_s": runs / (t1 - t0), "expected_per_s": n / interval_s,
         "us_per_run": cpu_s / runs * 1e6 if runs else float("nan"), "rss": rss / 1024,
         "builds_per_s": builds / (t1 - t0), "build_ms": build_s / builds * 1000 if builds else float("nan"),
         "lag_p50": lag_quantile(lag0, lag1, 0.5) * 1000, "lag_p99": lag_quantile(lag0, lag1, 0.99) * 1000,
         "missed": int(m1["vitals_scheduler_missed_runs_total"] - m0["vitals_scheduler_missed_runs_total"]),
         "health_p50": pct(lat, 0.5), "health_p99": pct(lat, 0.99), "health_kb": size / 1024, "window": t1 - t0,
         "peer_cpu": peer_cpu}
    log("  %-34s CPU %5.1f %% of one core, %6.0f runs/s (%d expected), %5.0f µs CPU per run, VmRSS %5.1f MiB"
        % (label, r["cpu"], r["runs_per_s"], r["expected_per_s"], r["us_per_run"], r["rss"]))
    if peer_cpu is not None:
        log("  %-34s redis-server meanwhile: %.1f %% of one core" % ("", peer_cpu))
    log("  %-34s snapshots %.0f/s at %.2f ms each; start lag p50 <= %g ms, p99 <= %g ms; missed %d; "
        "GET /health (%.0f KiB) p50 %.1f ms p99 %.1f ms"
        % ("", r["builds_per_s"], r["build_ms"], r["lag_p50"], r["lag_p99"], r["missed"], r["health_kb"],
           r["health_p50"], r["health_p99"]))
    return r


def scale(redis_p, redis_port):
    """Cost as the work grows (issue 14, item 19): 100, 1,000 and 10,000 redis checks against one
    redis-server, and 10,000 fixture_counter checks (the scheduler and publisher alone, no I/O).
    The daemon measures its start lag (due time to the start on a worker) and missed runs itself
    (vitals_scheduler_*); the window's figures are deltas of its /metrics, so the start-up burst
    (every first run at once) is left out."""
    log("== 4. scale: CPU per run, RSS, snapshot builds, start lag, /health with the full body")
    redis = {"host": "127.0.0.1", "port": redis_port}
    w = SCALE_WINDOW
    cases = [("100 redis checks at 1 s", 100, 1, "redis", redis, SCALE_WARMUP, None),
             ("1,000 redis checks at 1 s", 1000, 1, "redis", redis, SCALE_WARMUP, None),
             ("10,000 redis checks at 10 s", 10000, 10, "redis", redis, 16 if not args.quick else 12, None),
             ("10,000 redis checks at 1 s", 10000, 1, "redis", redis, SCALE_WARMUP, None),
             ("10,000 counter checks at 1 s", 10000, 1, "fixture_counter", {}, SCALE_WARMUP,
              {"plugins": {"dirs": [os.path.join(BUILD, "plugins"), os.path.join(BUILD, "fixtures")]}})]
    results["scale"] = [scale_case(label, n, iv, t, o, wu, w, extra, redis_p)
                        for label, n, iv, t, o, wu, extra in cases]
    log()


def history():
    log("== 5. history (issue 4): tests/history_bench bench %d" % HISTORY_ROWS)
    out = subprocess.run([os.path.join(BUILD, "tests", "history_bench"), "bench", str(HISTORY_ROWS)],
                         capture_output=True, text=True, check=True).stdout
    log(out.rstrip())
    m = re.search(r"= (\d+) rows/s, rollups on", out)
    results["hist_rate"] = int(m.group(1)) if m else float("nan")
    for key, label in (("one", "one check"), ("all", "all checks")):
        m = re.search(r"\(%s\).*p50 (\d+) us, p99 (\d+) us" % label, out)
        results["hist_" + key] = (int(m.group(1)), int(m.group(2))) if m else (float("nan"),) * 2
    log("   tests/history_bench prune-rate %d %d %d (issue 12)" % (PRUNE_RATE, PRUNE_SECONDS, PRUNE_MAX_ROWS))
    out = subprocess.run([os.path.join(BUILD, "tests", "history_bench"), "prune-rate", str(PRUNE_RATE),
                          str(PRUNE_SECONDS), str(PRUNE_MAX_ROWS)], capture_output=True, text=True, check=True).stdout
    log(out.rstrip())
    m = re.search(r"max rows seen (\d+) \(max_rows (\d+), batch at most (\d+)\)", out)
    results["hist_prune"] = tuple(int(x) for x in m.groups()) if m else None
    log()


def types():
    """VmRSS increase and CPU per run of one check of each type every second (see the docstring)."""
    from peers import Dnsmasq, PostgresServer  # noqa: E402  (the integration tests' peers)
    log("== 7. check types with their own library: one check each every second, beside a disk-only daemon")
    dns = Dnsmasq(TMP, ["--host-record=host.test,192.0.2.1"]).start()
    pg = PostgresServer("bench-Pa55").start()
    grpc = GrpcHealthServer(os.path.join(BUILD, "fixtures"))
    grpc.start()
    pki = TestPki(os.path.join(TMP, "pki"))
    cert, key = pki.issue("tls", days=30)
    ngx = Nginx(os.path.join(TMP, "nginx-tls"), {"tls": "listen 127.0.0.1:@PORT@ ssl; ssl_certificate %s; "
                                                        "ssl_certificate_key %s; ssl_protocols TLSv1.2 TLSv1.3;"
                                                        % (cert, key)})
    ngx.start()
    sides = {}
    try:
        typed = {
            "dns": check("dns", "dns", {"name": "host.test", "server": "127.0.0.1", "port": dns.port,
                                        "expect": ["192.0.2.1"]}),
            "postgres": check("postgres", "postgres", {"port": pg.port, "password": "bench-Pa55"}),
            "grpc": check("grpc", "grpc", {"target": "127.0.0.1:%d" % grpc.port}),
            "tls": check("tls", "tls", {"host": "127.0.0.1", "port": ngx.ports["tls"], "ca_file": pki.ca_cert}),
        }
        sides["disk"] = start_vitals("vitals-disk", [disk_check()])
        for name, c in typed.items():
            sides[name] = start_vitals("vitals-" + name, [disk_check(), c])

        def runs(port, name):
            return json.loads(get(port, "/health/checks/" + name)[1])["counters"]["runs"]
        time.sleep(3)
        t0 = time.time()
        before = {n: (cpu_ticks(p.pid), runs(port, n)) for n, (p, port) in sides.items()}
        time.sleep(TYPES_WINDOW)
        after = {n: (cpu_ticks(p.pid), runs(port, n), mem_kb(p.pid, "VmRSS")) for n, (p, port) in sides.items()}
        window = time.time() - t0
        base_ms = (after["disk"][0] - before["disk"][0]) * 1000 / HZ
        log("  disk only: VmRSS %d kB, CPU %.0f ms over %.0f s" % (after["disk"][2], base_ms, window))
        for name in typed:
            n = after[name][1] - before[name][1]
            cpu_ms = (after[name][0] - before[name][0]) * 1000 / HZ
            r = {"rss": after[name][2] - after["disk"][2], "cpu_per_run": (cpu_ms - base_ms) / max(1, n), "runs": n}
            results[("type", name)] = r
            log("  + one %s check: VmRSS %+d kB, CPU %.0f ms over %d runs: %.2f ms per run (CPU ticks: %.0f ms)"
                % (name, r["rss"], cpu_ms - base_ms, n, r["cpu_per_run"], 1000 / HZ))
        log()
    finally:
        for p, _ in sides.values():
            stop(p)
        dns.stop()
        pg.stop()
        grpc.stop()
        ngx.stop()


def probe_row(ts_ms, address, code, latency_us):
    return (ts_ms, "alb", 2, "pass" if code == 200 else "fail", address, "ELB-HealthChecker/2.0", "/health/alb", code,
            latency_us, 1, None)


def timed_get(port, path, runs=10):
    """Median and max ms of `runs` GET `path` (a new connection each), and the last body."""
    times, body = [], b""
    for _ in range(runs):
        t = time.perf_counter()
        st, body = get(port, path, timeout=30)
        times.append((time.perf_counter() - t) * 1000)
        assert st == 200, (st, body[:300])
    return median(times), max(times), body


def probers(redis_port, peer_port, ws_port):
    import sqlite3
    log("== 8. the load balancer's view (issue 15)")
    # a. wrk at full speed: history rows per prober per second.
    vit, port = start_vitals("vitals-probes", [disk_check()])
    res = wrk(port, False, args.probe_seconds)
    stop(vit)  # writes the rows still being filled
    db = sqlite3.connect(vit.db)
    rows = db.execute("SELECT prober_address, user_agent, count(*), sum(probes), min(ts), max(ts) FROM events "
                      "WHERE kind = 2 GROUP BY 1, 2").fetchall()
    db.close()
    worst = 0.0
    for address, ua, n, answers, t0, t1 in rows:
        span = max(1.0, (t1 - t0) / 1000.0 + 1)
        worst = max(worst, n / span)
        log("  wrk %d s keep-alive (%s req/s): prober %s %r: %d rows for %s answers over %.0f s = %.2f rows/s"
            % (args.probe_seconds, fmt_num(res["rps"]), address, ua, n, fmt_num(answers), span, n / span))
    results["probe_rows"] = (args.probe_seconds, worst, sum(r[3] for r in rows))

    # b. replay of 24 h of probes from 3 probers at 5 s, and the what-if over 30 days of one group's status.
    d = tempfile.mkdtemp(prefix="vitals-replay-", dir=TMP)
    path = os.path.join(d, "vitals.json")
    cfg = {"server": {"address": "127.0.0.1", "port": 0}, "history": {"path": os.path.join(d, "h.db"),
                                                                       "retention": "31d"},
           "log": {"level": "warn"}, "checks": [disk_check()], "groups": {"alb": {"checks": ["disk"]}},
           "load_balancer": {"interval": "5s", "timeout": "2s", "healthy_threshold": 2, "unhealthy_threshold": 2,
                             "path": "/health/alb"}}
    with open(path, "w") as f:
        json.dump(cfg, f)
    rport = free_port()
    p = spawn([VITALS, "serve", "-c", path, "--port", str(rport)], "vitals-replay", cwd=TMP)
    wait_status(rport, 200)
    stop(p)  # the schema is made; fill it
    now_ms = int(time.time() * 1000)
    db = sqlite3.connect(cfg["history"]["path"])
    day0 = now_ms - 86_400_000
    probes = []
    for i in range(86_400 // 5):
        for k, address in enumerate(("127.0.1.17", "127.0.2.33", "127.0.3.9")):
            ts = day0 + i * 5000 + k * 1300
            code = 503 if (i % 720) in (100, 101, 102) else 200  # a 15 s failure every hour
            probes.append(probe_row(ts, address, code, 150 + k))
    db.executemany('INSERT INTO events (ts, "check", kind, status, prober_address, user_agent, probe_path, code, '
                   'latency_us, probes, samples) VALUES (?,?,?,?,?,?,?,?,?,?,?)', probes)
    trans = []
    for m in range(30 * 24 * 6):  # every 10 minutes for 30 days: 20 s of fail
        t = now_ms - 30 * 86_400_000 + m * 600_000
        trans.append((t, "alb", 1, "fail", "pass", "disk: fail (critical)"))
        trans.append((t + 20_000, "alb", 1, "pass", "fail", "all counted checks pass"))
    db.executemany('INSERT INTO events (ts, "check", kind, status, previous, cause) VALUES (?,?,?,?,?,?)', trans)
    db.commit()
    db.close()
    p = spawn([VITALS, "serve", "-c", path, "--port", str(rport)], "vitals-replay2", cwd=TMP)
    wait_status(rport, 200)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(day0 / 1000 - 1))
    med, worst_ms, body = timed_get(rport, "/health/replay?source=probes&since=" + since)
    r = json.loads(body)
    n = sum(x["probes"] for x in r["probers"] if x["user_agent"] == "ELB-HealthChecker/2.0")
    log("  GET /health/replay, %s probe rows from 3 probers over 24 h: median %.1f ms, max %.1f ms (%d changes)"
        % (fmt_num(len(probes)), med, worst_ms, sum(len(x["changes"]) for x in r["probers"])))
    assert n == len(probes), (n, len(probes))
    results["replay_probes"] = (len(probes), med)
    med2, worst2, body = timed_get(rport, "/health/replay?source=status&group=alb&since=-30d&interval=5s"
                                          "&timeout=2s&unhealthy_threshold=2")
    r = json.loads(body)
    log("  GET /health/replay what-if over 30 days of group alb (%s transitions), 5 s x 2: median %.1f ms, max %.1f ms,"
        " %d episodes, %s simulated probes" % (fmt_num(len(trans)), med2, worst2, r["summary"]["unhealthy_episodes"],
                                              fmt_num(r["probers"][0]["probes"])))
    results["replay_status"] = (len(trans), med2)
    stop(p)

    # c. RSS with 20 checks of all types and 256 probers tracked.
    vit, port = start_vitals("vitals-256", twenty_checks(redis_port, peer_port, ws_port))
    time.sleep(5)
    for i in range(256):
        src = "127.0.%d.%d" % (1 + i // 250, 1 + i % 250)
        for _ in range(3):
            s = socket.socket()
            s.bind((src, 0))
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nUser-Agent: ELB-HealthChecker/2.0\r\n"
                      b"Connection: close\r\n\r\n")
            while s.recv(65536):
                pass
            s.close()
    time.sleep(1)
    st, metrics = get(port, "/metrics")
    tracked = int(re.search(rb'vitals_probers\{state="tracked"\} (\d+)', metrics).group(1))
    rss, hwm = mem_kb(vit.pid, "VmRSS"), mem_kb(vit.pid, "VmHWM")
    log("  vitals: 20 checks, %d probers tracked: VmRSS %d kB (%.1f MiB), VmHWM %d kB" % (tracked, rss, rss / 1024, hwm))
    results["probers_mem"] = (tracked, rss, hwm)
    stop(vit)
    log()


# ---------------------------------------------------------------- the dashboard and uptime (issue 16)

DASH_CHECKS = 20
DASH_DAYS = 90
DASH_INTERVAL = 155.52 if args.quick else 15.552  # 20 series x 90 days: 1 M rows (--quick) or 10 M
DASH_REQUESTS = 50 if args.quick else 300          # timed /health/uptime requests per side
DASH_LOADS = 3 if args.quick else 5                # page loads per daemon (a fresh browser profile each)
DASH_RAW_RUNS = 2 if args.quick else 5             # 30 days of raw rows paged through, per run
DASH_INSERT_ROUNDS = 1 if args.quick else 3        # history_bench bench --rollups=both runs
DASH_NAMES = ["check-%02d" % i for i in range(DASH_CHECKS)]
DASH_DIR = os.path.join(SOURCE, "core", "src", "http", "dashboard")


def dash_series():
    """history_seed's series: every 7th check fails 1 run in 97, every 5th warns 1 in 31."""
    out = []
    for i, name in enumerate(DASH_NAMES):
        s = name + ":latency=%d" % (3 + i % 9)
        if i % 7 == 0:
            s += ":fail=1/97"
        elif i % 5 == 0:
            s += ":warn=1/31"
        out.append(s)
    return out


def start_dash_vitals(name, db):
    """vitals serve with 20 disk checks named as the seeded series, on history file `db`, kept
    92 days and up to 12 M rows (so the seeded rows are not pruned)."""
    d = tempfile.mkdtemp(prefix=name + "-", dir=TMP)
    cfg = {"server": {"address": "127.0.0.1", "port": 0},
           "history": {"path": db, "retention": "92d", "max_rows": 12_000_000},
           "log": {"level": "warn"},
           "checks": [dict(disk_check(n), interval="10s") for n in DASH_NAMES]}
    path = os.path.join(d, "vitals.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    port = free_port()
    p = spawn([VITALS, "serve", "-c", path, "--port", str(port)], "%s-%d" % (name, port), cwd=TMP)
    wait_status(port, None, timeout=120)
    p.db = db
    return p, port


class KeepAlive:
    """One kept-alive HTTP/1.1 connection to 127.0.0.1:port; get() returns (ms, status, body)."""

    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path, headers=None):
        t = time.perf_counter()
        self.c.request("GET", path, headers=headers or {})
        r = self.c.getresponse()
        body = r.read()
        return (time.perf_counter() - t) * 1000, r.status, body

    def close(self):
        self.c.close()


def uptime_from_raw(conn, name, since_s):
    """Today's history path for "uptime of NAME over 30 days": every result since `since_s` from
    /health/history (limit 1000, following `next`), counted client-side. Returns (ms, pages, rows, uptime)."""
    t = time.perf_counter()
    cursor, pages, good, n = None, 0, 0, 0
    while pages < 10_000:
        path = "/health/history?check=%s&since=%d&limit=1000" % (name, since_s)
        if cursor:
            path += "&cursor=" + cursor
        _, st, body = conn.get(path)
        if st != 200:
            raise RuntimeError("GET %s: %d %r" % (path, st, body[:300]))
        page = json.loads(body)
        pages += 1
        for i in page["items"]:
            if i["kind"] == "result":
                n += 1
                good += i["status"] in ("pass", "warn")
        cursor = page["next"]
        if not cursor:
            break
    return (time.perf_counter() - t) * 1000, pages, n, good / n if n else float("nan")


def uptime_latency(port):
    """p50/p99 ms of /health/uptime?check=ONE&range=30d&bucket=1h (one kept-alive connection, the
    20 checks in turn), its bytes, and today's path for the same question (uptime_from_raw)."""
    conn = KeepAlive(port)
    times, size = [], 0
    for i in range(DASH_REQUESTS):
        ms, st, body = conn.get("/health/uptime?check=%s&range=30d&bucket=1h" % DASH_NAMES[i % DASH_CHECKS])
        if st != 200:
            raise RuntimeError("uptime: %d %r" % (st, body[:300]))
        if i >= 10:  # the first few warm the page cache
            times.append(ms)
        size = len(body)
    raw = []
    since = int(time.time()) - 30 * 86400
    deadline = time.monotonic() + 120
    for i in range(DASH_RAW_RUNS):
        raw.append(uptime_from_raw(conn, DASH_NAMES[i % DASH_CHECKS], since))
        if time.monotonic() > deadline:
            break
    conn.close()
    return {"p50": pct(times, 0.5), "p99": pct(times, 0.99), "bytes": size, "n": len(times),
            "raw_ms": median([r[0] for r in raw]), "raw_max": max(r[0] for r in raw), "raw_pages": raw[0][1],
            "raw_rows": raw[0][2], "raw_runs": len(raw)}


class BrowserHost:
    """What tests/integration/test_dashboard.py's browser() asks of its test case, so the bench
    drives chromium with exactly the suite's options (every non-loopback request fails): files
    under `profile_dir`, its cleanups run by close()."""

    def __init__(self, profile_dir):
        self.dir, self.cleanups = profile_dir, []

    def path(self, name):
        return os.path.join(self.dir, name)

    def skipTest(self, why):  # noqa: N802 (unittest's name)
        raise RuntimeError("no browser for the dashboard section: %s" % why)

    def addCleanup(self, f, *a):  # noqa: N802
        self.cleanups.append((f, a))

    def close(self):
        for f, a in reversed(self.cleanups):
            f(*a)


# Filled when every check's row has its heartbeat bar (its /health/history answered) and its three
# uptime cells (the three /health/uptime answered) and the transitions list was answered.
FIRST_VIEW_DONE = """
var rows = document.querySelectorAll('#checks tbody tr');
if (rows.length < %d) return false;
for (var i = 0; i < rows.length; i++)
  if (!rows[i].querySelector('td.hb .hb-bar') || rows[i].querySelectorAll('td.uptime span').length < 3) return false;
return performance.getEntriesByType('resource').some(function (e) { return e.name.indexOf('transitions=true') >= 0; });
""" % DASH_CHECKS

FIRST_VIEW_FIGURES = """
var nav = performance.getEntriesByType('navigation')[0];
var fcp = performance.getEntriesByType('paint').filter(function (e) { return e.name === 'first-contentful-paint'; })[0];
var res = performance.getEntriesByType('resource').map(function (e) {
  return {name: e.name, start: e.startTime, end: e.responseEnd, bytes: e.transferSize};
});
return {fcp: fcp ? fcp.startTime : null, nav_end: nav.responseEnd, nav_bytes: nav.transferSize, url: nav.name,
        load_end: nav.loadEventEnd, resources: res};
"""


def page_load(port, n):
    """One first view of /dashboard in a fresh browser: FCP, end of the first refresh cycle's last
    request, bytes on the wire, and the URLs it fetched."""
    from selenium.webdriver.support.ui import WebDriverWait
    from test_dashboard import DashboardTest
    host = BrowserHost(tempfile.mkdtemp(prefix="chromium-%d-" % n, dir=TMP))
    try:
        driver = DashboardTest.browser(host)  # a fresh profile: nothing cached
        driver.get("http://127.0.0.1:%d/dashboard" % port)
        WebDriverWait(driver, 20, poll_frequency=0.02).until(lambda d: d.execute_script(FIRST_VIEW_DONE))
        time.sleep(0.3)  # what is still in flight of the first cycle (the next one starts 3 s after it ends)
        f = driver.execute_script(FIRST_VIEW_FIGURES)
    finally:
        host.close()
        shutil.rmtree(host.dir, ignore_errors=True)
    state = [r for r in f["resources"] if "/dashboard/state" in r["name"]]
    state_end = min(r["end"] for r in state) if state else 0
    # The first cycle: the assets, the first /dashboard/state and what its answer set off at once.
    first = [r for r in f["resources"] if r["start"] <= state_end + 500]
    return {"fcp": f["fcp"], "full": max([f["nav_end"]] + [r["end"] for r in first]),
            "bytes": f["nav_bytes"] + sum(r["bytes"] for r in first),
            "urls": [f["url"]] + [r["name"] for r in first], "requests": 1 + len(first)}


def server_time(port, urls, runs=5):
    """Each first-view URL timed alone over one kept-alive connection (median of `runs`), asking for
    gzip as the browser does: the sum, and per URL (path -> (ms, bytes on the wire))."""
    conn = KeepAlive(port)
    each = {}
    for url in urls:
        path = url.split("://", 1)[1].split("/", 1)[1]
        path = "/" + path
        times, size = [], 0
        for _ in range(runs):
            ms, st, body = conn.get(path, {"Accept-Encoding": "gzip, deflate, br"})
            times.append(ms)
            size = len(body)
        each[path] = (median(times), size)
    conn.close()
    return sum(v[0] for v in each.values()), each


def first_views(port, label):
    loads = []
    deadline = time.monotonic() + 300
    for n in range(DASH_LOADS):
        loads.append(page_load(port, n))
        l = loads[-1]
        log("  %s page load %d: FCP %.0f ms, first view %.0f ms, %d requests, %.1f KB on the wire"
            % (label, n + 1, l["fcp"] or float("nan"), l["full"], l["requests"], l["bytes"] / 1000))
        if time.monotonic() > deadline:
            break
    total, each = server_time(port, loads[-1]["urls"])
    kinds = {}
    for path, (ms, size) in each.items():
        k = kinds.setdefault(request_kind(path), [0, 0.0, 0])
        k[0] += 1
        k[1] += ms
        k[2] += size
    log("  %s server time of the %d first-view requests, each alone: %.1f ms, %.1f KB on the wire (gzip asked): %s"
        % (label, len(each), total, sum(v[2] for v in kinds.values()) / 1000,
           "; ".join("%s x%d %.1f ms %.1f KB" % (k, v[0], v[1], v[2] / 1000)
                     for k, v in sorted(kinds.items(), key=lambda kv: -kv[1][2]))))
    return {"fcp": median([l["fcp"] for l in loads if l["fcp"] is not None]), "full": median([l["full"] for l in loads]),
            "bytes": median([l["bytes"] for l in loads]), "requests": loads[-1]["requests"], "server_ms": total,
            "loads": len(loads), "kinds": kinds}


def request_kind(path):
    """What a first-view request is for, for the per-kind sums (the check lists left out)."""
    if path.startswith("/health/uptime"):
        return "uptime " + "&".join(p for p in path.split("?", 1)[1].split("&") if not p.startswith("check="))
    if path.startswith("/dashboard/recent"):
        return "heartbeats (/dashboard/recent, every check)"
    if path.startswith("/health/history"):
        return "transitions" if "transitions=true" in path else "history of one check"
    return path


def asset_sizes():
    """Bytes of core/src/http/dashboard/* and text+data+bss of the objects that hold them and serve
    the page (`size` of dashboard_assets.cpp.o and dashboard.cpp.o)."""
    files = sum(os.path.getsize(os.path.join(DASH_DIR, f)) for f in os.listdir(DASH_DIR))
    objs = 0
    for root, _, names in os.walk(os.path.join(BUILD, "core")):
        for n in names:
            if n in ("dashboard_assets.cpp.o", "dashboard.cpp.o"):
                out = subprocess.run(["size", os.path.join(root, n)], capture_output=True, text=True).stdout
                objs += int(out.splitlines()[1].split()[3])  # dec = text + data + bss
    return files, objs


def dashboard():
    log("== 9. the dashboard and uptime (issue 16): %d checks, %d days at %.3f s (%s raw rows)"
        % (DASH_CHECKS, DASH_DAYS, DASH_INTERVAL, fmt_num(DASH_CHECKS * DASH_DAYS * 86400 / DASH_INTERVAL)))
    # a. insert rate through the writer, rollups off (the history path before issue 16) and on, in
    # alternating rounds (off, on, off, on, ...): the medians.
    rates = {"off": [], "on": []}
    for _ in range(DASH_INSERT_ROUNDS):
        out = subprocess.run([os.path.join(BUILD, "tests", "history_bench"), "bench", str(HISTORY_ROWS),
                              "--rollups=both"], capture_output=True, text=True, check=True, timeout=600).stdout
        log(out.rstrip())
        for r, w in re.findall(r"= (\d+) rows/s, rollups (on|off)", out):
            rates[w].append(int(r))
    results["dash_insert"] = (median(rates["off"]), median(rates["on"]))
    # b. 90 days of 20 checks through the writer (raw rows and rollups as a daemon leaves them);
    # first the same rows without rollups (today's path), into a file deleted at once.
    d = tempfile.mkdtemp(prefix="vitals-dash-", dir=TMP)
    seeded = os.path.join(d, "seeded.db")
    seed = {}
    for label, extra in (("rollups off", ["--no-rollups"]), ("rollups on", [])):
        path = os.path.join(d, "raw-only.db") if extra else seeded
        t = time.monotonic()
        out = subprocess.run([os.path.join(BUILD, "tests", "history_seed"), path, "--days", str(DASH_DAYS),
                              "--interval", str(DASH_INTERVAL)] + extra + dash_series(),
                             capture_output=True, text=True, check=True, timeout=1800).stdout
        log("  %s: %s (%.0f s, %.0f MB)" % (label, out.strip().replace("\n", "; "), time.monotonic() - t,
                                            os.path.getsize(path) / 1e6))
        m = re.search(r"(\d+) rows written .* = (\d+) rows/s", out)
        seed[label] = (int(m.group(1)), int(m.group(2)))
        if extra:
            for f in (path, path + "-wal", path + "-shm"):
                if os.path.exists(f):
                    os.remove(f)
    results["dash_seed"] = (seed["rollups on"][0], seed["rollups on"][1], seed["rollups off"][1])
    # Live rows (now's times, 100 a millisecond) into the seeded file, rollups on: the insert rate
    # with 10 M rows and 90 days of rollups already there; then newest-100 reads at that size.
    out = subprocess.run([os.path.join(BUILD, "tests", "history_bench"), "bench", str(HISTORY_ROWS), "--rollups=on",
                          "--into=" + seeded], capture_output=True, text=True, check=True, timeout=600).stdout
    log("  into the seeded file: " + out.strip().replace("\n", "\n  "))
    m = re.search(r"= (\d+) rows/s", out)
    reads = re.findall(r"\((one check|all checks)\) at (\d+) rows: p50 (\d+) us, p99 (\d+) us", out)
    results["dash_into"] = (int(m.group(1)) if m else float("nan"), reads)
    # The same uptime question without HTTP: HistoryReader + JSON in-process (history_bench uptime).
    out = subprocess.run([os.path.join(BUILD, "tests", "history_bench"), "uptime", str(DASH_CHECKS)],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    log("  " + out.strip().replace("\n", "\n  "))
    m = re.search(r"one check .*: p50 (\d+) us, p99 (\d+) us", out)
    results["dash_inproc"] = (int(m.group(1)) / 1000, int(m.group(2)) / 1000) if m else (float("nan"),) * 2
    # c. the daemons: seeded; fresh history (today's small-history case); fresh and never asked for the page.
    files, objs = asset_sizes()
    results["dash_size"] = (files, objs)
    log("  dashboard assets: %d bytes of files in core/src/http/dashboard; dashboard_assets.cpp.o + dashboard.cpp.o: "
        "%d bytes (text+data+bss)" % (files, objs))
    sv, sport = start_dash_vitals("vitals-seeded", seeded)
    fv, fport = start_dash_vitals("vitals-fresh", os.path.join(d, "fresh.db"))
    cv, cport = start_dash_vitals("vitals-control", os.path.join(d, "control.db"))
    try:
        time.sleep(3)
        idle = {k: mem_kb(p.pid, "VmRSS") for k, p in (("seeded", sv), ("fresh", fv), ("control", cv))}
        up = uptime_latency(sport)
        log("  seeded: /health/uptime?check=ONE&range=30d&bucket=1h over one kept-alive connection, %d requests: "
            "p50 %.2f ms, p99 %.2f ms, %.1f KB" % (up["n"], up["p50"], up["p99"], up["bytes"] / 1000))
        log("  seeded: the same from raw rows (/health/history?check=ONE&since=30 days ago&limit=1000, every page, "
            "counted client-side): median %.0f ms, max %.0f ms of %d runs (%d pages, %s results)"
            % (up["raw_ms"], up["raw_max"], up["raw_runs"], up["raw_pages"], fmt_num(up["raw_rows"])))
        results["dash_uptime"] = up
        # The page and its assets alone (no API requests): what serving them adds to RSS.
        rss_fresh0 = mem_kb(fv.pid, "VmRSS")
        conn = KeepAlive(fport)
        for path in ("/dashboard", "/dashboard/app.js", "/dashboard/app.css", "/dashboard/favicon.svg"):
            conn.get(path)
        conn.close()
        time.sleep(0.5)
        rss_assets = mem_kb(fv.pid, "VmRSS")
        views = {"seeded": first_views(sport, "seeded"), "fresh": first_views(fport, "fresh history")}
        results["dash_views"] = views
        after = {k: mem_kb(p.pid, "VmRSS") for k, p in (("seeded", sv), ("fresh", fv), ("control", cv))}
        results["dash_rss"] = {"idle": idle, "after": after, "fresh_before_assets": rss_fresh0,
                               "fresh_after_assets": rss_assets}
        log("  VmRSS kB idle (3 s after start): seeded %d, fresh %d, control %d" % (idle["seeded"], idle["fresh"],
                                                                                  idle["control"]))
        log("  VmRSS kB fresh daemon: %d before, %d after GET /dashboard, app.js, app.css, favicon.svg (no API calls)"
            % (rss_fresh0, rss_assets))
        log("  VmRSS kB after %d page loads each: seeded %d, fresh %d; control (never asked for the page) %d"
            % (DASH_LOADS, after["seeded"], after["fresh"], after["control"]))
    finally:
        for p in (sv, fv, cv):
            stop(p, timeout=15)
        shutil.rmtree(d, ignore_errors=True)  # the seeded file is 1+ GB
    log()


def dash_rows(row, ok):
    """The dashboard section's rows of the table (issue 16); today's history path beside each figure."""
    if results.get("dash_insert"):
        off, on = results["dash_insert"]
        row("history insert rate through the writer, rows/s: rollups on (off: today's path)",
            "%s (off %s, %.0f %%)" % (fmt_num(on), fmt_num(off), 100.0 * on / off), "", "", "", "", "≥ 200,000",
            ok(on >= 200000))
    if results.get("dash_seed"):
        n, rate, off = results["dash_seed"]
        row("history_seed: %s rows (%d checks, %d days; a 5,000-row batch spans %.1f h of their time, not a live "
            "rate) through the writer, rows/s: rollups on (off: today's path)"
            % (fmt_num(n), DASH_CHECKS, DASH_DAYS, 5000 / DASH_CHECKS * DASH_INTERVAL / 3600),
            "%s (off %s, %.0f %%)" % (fmt_num(rate), fmt_num(off), 100.0 * rate / off), "", "", "", "", "", "")
    if results.get("dash_into"):
        rate, reads = results["dash_into"]
        row("history insert rate, rollups on, into the seeded file (%s rows already there), rows/s"
            % fmt_num(results["dash_seed"][0]), fmt_num(rate), "", "", "", "", "≥ 200,000", ok(rate >= 200000))
        for what, rows_at, p50, p99 in reads:
            row("history newest 100 at %s rows p50 / p99 µs (%s)" % (fmt_num(int(rows_at)), what),
                "%s / %s" % (p50, p99), "", "", "", "", "p99 ≤ 200 µs", ok(int(p99) <= 200))
    if results.get("dash_uptime"):
        u = results["dash_uptime"]
        row("/health/uptime?check=ONE&range=30d&bucket=1h at %s rows + 90 d rollups, p50 / p99 ms (today's path: "
            "every /health/history page of 30 d, %s results in %d pages, median ms)"
            % (fmt_num(results["dash_seed"][0]), fmt_num(u["raw_rows"]), u["raw_pages"]),
            "%.2f / %.2f (in-process reader + JSON %.2f / %.2f; raw rows: %s)"
            % (u["p50"], u["p99"], results["dash_inproc"][0], results["dash_inproc"][1], fmt_num(u["raw_ms"])),
            "", "", "", "",
            "p99 ≤ 5 ms", ok(u["p99"] <= 5))
    views = results.get("dash_views")
    if views:
        s, f = views["seeded"], views["fresh"]
        row("dashboard first view, %d checks: server time ms (each of its %d requests alone, summed) / KB on the "
            "wire (fresh history: today's small-history case)" % (DASH_CHECKS, s["requests"]),
            "%.1f / %.1f (fresh %.1f / %.1f)" % (s["server_ms"], s["bytes"] / 1000, f["server_ms"], f["bytes"] / 1000),
            "", "", "", "", "≤ 20 ms, ≤ 150 KB", ok(s["server_ms"] <= 20 and s["bytes"] <= 150_000))
        for label, v in (("seeded", s), ("fresh history", f)):
            row("dashboard first view, %s: server ms / KB on the wire per kind of request (gzip asked)" % label,
                "; ".join("%s ×%d: %.1f / %.1f" % (k, n, ms, b / 1000)
                          for k, (n, ms, b) in sorted(v["kinds"].items(), key=lambda kv: -kv[1][2])),
                "", "", "", "", "", "")
        row("dashboard in headless chromium, %d checks: first contentful paint / full first view ms, median of %d "
            "(fresh history)" % (DASH_CHECKS, s["loads"]),
            "%.0f / %.0f (fresh %.0f / %.0f)" % (s["fcp"], s["full"], f["fcp"], f["full"]), "", "", "", "",
            "≤ 300 ms / ≤ 1 s", ok(s["fcp"] <= 300 and s["full"] <= 1000))
    if results.get("dash_size"):
        files, objs = results["dash_size"]
        row("dashboard in the binary, KiB: asset files / objects serving them (text+data+bss)",
            "%.1f / %.1f" % (files / 1024, objs / 1024), "", "", "", "", "≤ 1 MiB", ok(max(files, objs) <= 1 << 20))
    if results.get("dash_rss"):
        r = results["dash_rss"]
        row("VmRSS kB idle: fresh history / control never asked for the page; fresh after GET of the page and "
            "assets; after %d page loads: fresh / seeded / control" % DASH_LOADS,
            "%d / %d; %+d; %d / %d / %d" % (r["idle"]["fresh"], r["idle"]["control"],
                                             r["fresh_after_assets"] - r["fresh_before_assets"], r["after"]["fresh"],
                                             r["after"]["seeded"], r["after"]["control"]),
            "", "", "", "", "nothing until requested", ok(abs(r["idle"]["fresh"] - r["idle"]["control"]) <= 256))


# ---------------------------------------------------------------- the table

def table():
    rows = []

    def row(what, v, n, e, rn, re_, target, met):
        rows.append((what, v, n, e, rn, re_, target, met))

    def ok(b):
        return "yes" if b else "**no**"

    # Targets of issue 15 (recording on): >= 1.0x nginx with new connections, >= 0.95x keep-alive.
    for mode, label, nt in (("close", "new connection per request", 1.0), ("keepalive", "keep-alive", 0.95)):
        if ("tp", mode, "vitals") not in results:
            break
        v, n, e = (results[("tp", mode, s)] for s in ("vitals", "nginx", "express"))
        rn, re_ = results[("tp_ratio", mode, "nginx")], results[("tp_ratio", mode, "express")]
        row("/health req/s, %s" % label, fmt_num(v["rps"]), fmt_num(n["rps"]), fmt_num(e["rps"]),
            "%.2f×" % rn, "%.1f×" % re_, "≥ %.2g× nginx, ≥ 4× express" % nt, ok(rn >= nt and re_ >= 4))
        row("/health p50 / p99 ms, %s" % label, "%.2f / %.2f" % (v["p50"], v["p99"]),
            "%.2f / %.2f" % (n["p50"], n["p99"]), "%.2f / %.2f" % (e["p50"], e["p99"]),
            "%.2f× / %.2f×" % (v["p50"] / n["p50"], v["p99"] / n["p99"]),
            "%.2f× / %.2f×" % (v["p50"] / e["p50"], v["p99"] / e["p99"]), "", "")
    # Issue 19's targets over TLS: >= 0.9x nginx (2 workers, same certificate) both ways.
    for mode, label in (("close", "new TLS connection per request"), ("keepalive", "keep-alive over TLS")):
        if ("tls", mode, "vitals") not in results:
            break
        v, n = results[("tls", mode, "vitals")], results[("tls", mode, "nginx")]
        rn = results[("tls_ratio", mode, "nginx")]
        row("/health req/s, %s" % label, fmt_num(v["rps"]), fmt_num(n["rps"]), "", "%.2f×" % rn, "",
            "≥ 0.9× nginx", ok(rn >= 0.9))
        row("/health p50 / p99 ms, %s" % label, "%.2f / %.2f" % (v["p50"], v["p99"]),
            "%.2f / %.2f" % (n["p50"], n["p99"]), "", "%.2f× / %.2f×" % (v["p50"] / n["p50"], v["p99"] / n["p99"]),
            "", "", "")
    if "tls_mem" in results:
        m = results["tls_mem"]
        row("memory MiB with server.tls, idle VmRSS / max under wrk over TLS / VmHWM (20 checks)",
            "%.1f / %.1f / %.1f" % (m["idle"] / 1024, m["load"] / 1024, m["hwm"] / 1024), "", "", "", "",
            "≤ 16 MiB", ok(m["load"] / 1024 <= 16))
    if ("mem", "vitals") in results:
        for key, label in (("idle", "idle VmRSS"), ("hwm", "VmHWM after load")):
            v, n, e = (results[("mem", s)][key] / 1024 for s in ("vitals", "nginx", "express"))
            row("memory MiB, %s (vitals: 20 checks, all plugins)" % label, "%.1f" % v, "%.1f" % n, "%.1f" % e,
                "%.2f×" % (v / n), "%.2f×" % (v / e), "≤ 16 MB", ok(v <= 16))
    if ("start", "vitals") in results:
        v, n, e = (results[("start", s)] for s in ("vitals", "nginx", "express"))
        row("start-up to first 200, median ms", "%.1f" % v, "%.1f" % n, "%.1f" % e, "%.2f×" % (v / n),
            "%.2f×" % (v / e), "≤ 30 ms", ok(v <= 30))
    for s in results.get("scale", []):
        quarter = s["n"] * 1.0 / s["interval"] <= 1000 and s["type"] == "redis" and s["n"] >= 1000
        peer = "" if s["peer_cpu"] is None else " (redis-server %.0f %%)" % s["peer_cpu"]
        row("%s: CPU %% of one core / µs per run" % s["label"],
            "%.1f %% / %.0f µs%s" % (s["cpu"], s["us_per_run"], peer),
            "", "", "", "", "< 25 %" if quarter else "", ok(s["cpu"] < 25) if quarter else "")
        row("%s: runs/s (expected) / missed / start lag p99 ms" % s["label"],
            "%.0f (%d) / %d / ≤ %g" % (s["runs_per_s"], s["expected_per_s"], s["missed"], s["lag_p99"]),
            "", "", "", "", "p99 ≤ 50 ms, 0 missed", ok(s["lag_p99"] <= 50 and s["missed"] == 0))
        row("%s: VmRSS MiB / snapshot build ms / GET /health p99 ms (KiB)" % s["label"],
            "%.1f / %.2f / %.1f (%.0f)" % (s["rss"], s["build_ms"], s["health_p99"], s["health_kb"]),
            "", "", "", "", "", "")
    if "hist_rate" in results:
        row("history insert rate, rows/s", fmt_num(results["hist_rate"]), "", "", "", "", "≥ 200,000",
            ok(results["hist_rate"] >= 200000))
        one, al = results["hist_one"], results["hist_all"]
        row("history newest 100 at 1M rows p50 / p99 µs (one check)", "%d / %d" % one, "", "", "", "",
            "p99 ≤ 200 µs", ok(one[1] <= 200))
        row("history newest 100 at 1M rows p50 / p99 µs (all checks)", "%d / %d" % al, "", "", "", "",
            "p99 ≤ 200 µs", ok(al[1] <= 200))
    if results.get("hist_prune"):
        most, max_rows, batch = results["hist_prune"]
        row("history rows at %s rows/s for %d s: most seen / max_rows" % (fmt_num(PRUNE_RATE), PRUNE_SECONDS),
            "%s / %s" % (fmt_num(most), fmt_num(max_rows)), "", "", "", "", "≤ max_rows + one batch",
            ok(most <= max_rows + batch))
    for key, what in (("floods", ""), ("floods_tls", "TLS ")):
        if results.get(key):
            f = results[key]
            row("fresh %s/health with 2,000 hostile %sconnections open, p50 / p99 / max ms" % (what, what),
                "%.2f / %.2f / %.2f" % f, "", "", "", "", "max ≤ 100 ms", ok(f[2] <= 100))
    for (kind, name), r in sorted((k, v) for k, v in results.items() if k[0] == "type"):
        row("one %s check at 1 s: VmRSS increase / CPU per run" % name, "%+d kB / %.2f ms" % (r["rss"], r["cpu_per_run"]),
            "", "", "", "", "", "")
    if results.get("probe_rows"):
        secs, worst, answers = results["probe_rows"]
        row("wrk %d s on /health: probe rows per prober per second (%s answers)" % (secs, fmt_num(answers)),
            "%.2f" % worst, "", "", "", "", "≤ 1", ok(worst <= 1.0))
    if results.get("replay_probes"):
        n, ms = results["replay_probes"]
        row("GET /health/replay of %s probe rows (3 probers, 24 h at 5 s), median ms" % fmt_num(n), "%.1f" % ms,
            "", "", "", "", "< 50 ms", ok(ms < 50))
    if results.get("replay_status"):
        n, ms = results["replay_status"]
        row("GET /health/replay what-if over 30 days (%s transitions), median ms" % fmt_num(n), "%.1f" % ms,
            "", "", "", "", "< 100 ms", ok(ms < 100))
    if results.get("probers_mem"):
        tracked, rss, hwm = results["probers_mem"]
        row("memory MiB, VmRSS / VmHWM with 20 checks and %d probers tracked" % tracked,
            "%.1f / %.1f" % (rss / 1024, hwm / 1024), "", "", "", "", "≤ 16 MiB", ok(rss / 1024 <= 16))
    dash_rows(row, ok)
    head = ("what", "vitals", "nginx", "express", "vitals/nginx", "vitals/express", "target", "met")
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main():
    t_start = time.monotonic()
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    build_type = "?"
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            build_type = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", f.read(), re.M).group(1) or "(empty)"
    except (OSError, AttributeError):
        pass
    log("vitals benchmarks: %s (CMAKE_BUILD_TYPE=%s), %d CPUs, load average %s at start%s" % (
        VITALS, build_type, os.cpu_count(), " ".join(load), ", --quick" if args.quick else ""))
    need = {"throughput", "memory", "startup", "scale", "probers", "tls"} & set(SECTIONS)
    if need:
        express_version = ensure_express()
        log("express %s (node %s), %s, %s" % (
            express_version, subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
            subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),
            subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0].strip()))
    log()
    redis_p, redis_port = start_redis() if need else (None, None)
    peer_p, peer_port = start_nginx(workers=1) if need else (None, None)  # the http and tcp checks' peer
    if "throughput" in SECTIONS or "memory" in SECTIONS:
        vit = start_vitals("vitals-4", four_checks(redis_port, peer_port))
        ngx = start_nginx(workers=2)
        exp = start_express()
        if "throughput" in SECTIONS:
            throughput({"vitals": vit, "nginx": ngx, "express": exp})
        stop(vit[0])
        if "memory" in SECTIONS:
            ws = subprocess.Popen(["/usr/bin/python3", os.path.join(SOURCE, "tests", "integration", "peers",
                                                                "ws_server.py"), "--port", "0"],
                                  stdout=subprocess.PIPE, text=True)
            procs.append(ws)
            ws_port = int(ws.stdout.readline().split()[1])
            memory(ngx, exp, redis_port, peer_port, ws_port)
            stop(ws)
        stop(ngx[0])
        stop(exp[0])
    if "tls" in SECTIONS:
        cert_key = bench_certificate()
        vit = start_vitals("vitals-4-tls", four_checks(redis_port, peer_port), tls=cert_key)
        ngx = start_nginx(workers=2, tls=cert_key)
        throughput({"vitals": vit, "nginx": ngx}, scheme="https", key="tls")
        stop(vit[0])
        stop(ngx[0])
        ws = subprocess.Popen(["/usr/bin/python3", os.path.join(SOURCE, "tests", "integration", "peers",
                                                            "ws_server.py"), "--port", "0"],
                              stdout=subprocess.PIPE, text=True)
        procs.append(ws)
        tls_memory(cert_key, redis_port, peer_port, int(ws.stdout.readline().split()[1]))
        stop(ws)
    if "startup" in SECTIONS:
        startup()
    if "scale" in SECTIONS:
        scale(redis_p, redis_port)
    if "history" in SECTIONS:
        history()
    if "floods" in SECTIONS:
        floods()
    if "types" in SECTIONS:
        types()
    if "probers" in SECTIONS:
        ws = subprocess.Popen(["/usr/bin/python3", os.path.join(SOURCE, "tests", "integration", "peers",
                                                            "ws_server.py"), "--port", "0"],
                              stdout=subprocess.PIPE, text=True)
        procs.append(ws)
        probers(redis_port, peer_port, int(ws.stdout.readline().split()[1]))
        stop(ws)
    if "dashboard" in SECTIONS:
        dashboard()
    log("== summary (medians; ratios are per-round ratios' medians for throughput)")
    log(table())
    log()
    log("total %.0f s" % (time.monotonic() - t_start))


try:
    main()
finally:
    stop_all()
    shutil.rmtree(TMP, ignore_errors=True)
