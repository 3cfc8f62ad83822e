#!/usr/bin/python3
"""Flood benchmark (issue 6): latency of a fresh GET /health (new connection each) with 1,000
slowloris connections (half-sent heads) and 1,000 idle keep-alive connections open, against an
empty baseline, on one vitals started here. Prints figures; asserts nothing.

Usage: tests/bench/floods.py BUILD_DIR"""

import http.client
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))

tmp = tempfile.mkdtemp(prefix="vitals-flood-")
cfg = os.path.join(tmp, "vitals.json")
with open(cfg, "w") as f:
    json.dump({"server": {"address": "127.0.0.1", "port": 0}, "history": {"path": os.path.join(tmp, "h.db")},
               "checks": [{"name": "root", "type": "disk", "interval": "1s", "timeout": "500ms",
                           "options": {"path": "/", "warn_free_percent": 0, "fail_free_percent": 0,
                                       "fail_free_inodes_percent": 0}}]}, f)
log = open(os.path.join(tmp, "log"), "w+")
proc = subprocess.Popen([os.path.join(build, "vitals"), "serve", "-c", cfg], stdout=log, stderr=log, cwd=tmp)
port = None
for _ in range(200):
    log.seek(0)
    for line in log:
        if "listening on" in line:
            port = int(line.rsplit(":", 1)[1].split()[0])
    if port:
        break
    time.sleep(0.05)


def fresh(n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/health")
        r = c.getresponse()
        r.read()
        c.close()
        out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return out[len(out) // 2], out[int(len(out) * 0.99)], out[-1]


try:
    time.sleep(0.3)
    base = fresh(500)
    held = []
    for _ in range(1000):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        held.append(s)
    for _ in range(1000):
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("GET", "/health")
        c.getresponse().read()
        held.append(c)
    loaded = fresh(500)
    print("fresh GET /health, new connection each (ms): p50 / p99 / max")
    print("  no other connections:                    %.2f / %.2f / %.2f" % base)
    print("  1,000 slowloris + 1,000 idle keep-alive: %.2f / %.2f / %.2f   (target: answered within 100 ms)" % loaded)
finally:
    proc.terminate()
    proc.wait()
