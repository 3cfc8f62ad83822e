#!/usr/bin/python3
"""Flood benchmark (issue 6): latency of a fresh GET /health (new connection each) with 1,000
slowloris connections (half-sent heads) and 1,000 idle keep-alive connections open, against an
empty baseline, on one vitals started here. Prints figures; asserts nothing.

With --tls (issue 19) the port speaks TLS (server.tls, a self-signed certificate made here): the
slowloris connections send half a ClientHello and stall, the idle ones are TLS keep-alive
connections, and the fresh requests are new TLS connections (a full handshake each).

Usage: tests/bench/floods.py BUILD_DIR [--tls]"""

import http.client
import json
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time

argv = [a for a in sys.argv[1:] if a != "--tls"]
tls = "--tls" in sys.argv[1:]
build = os.path.abspath(argv[0] if argv else "build")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))

tmp = tempfile.mkdtemp(prefix="vitals-flood-")
cfg = os.path.join(tmp, "vitals.json")
server = {"address": "127.0.0.1", "port": 0}
if tls:
    cert, key = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days",
                    "30", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True, timeout=60)
    server["tls"] = {"cert": cert, "key": key}
with open(cfg, "w") as f:
    json.dump({"server": server, "history": {"path": os.path.join(tmp, "h.db")},
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


context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # as an ALB: no verification
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE


def connection(timeout=5):
    if tls:
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def half_a_client_hello():
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    return hello[:len(hello) // 2]


def fresh(n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        c = connection()
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
    slow = half_a_client_hello() if tls else b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "
    for _ in range(1000):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(slow)
        held.append(s)
    for _ in range(1000):
        c = connection(timeout=None)
        c.request("GET", "/health")
        c.getresponse().read()
        held.append(c)
    loaded = fresh(500)
    what = "TLS " if tls else ""
    print("fresh GET /health, new %sconnection each (ms): p50 / p99 / max" % what)
    print("  no other connections:                    %.2f / %.2f / %.2f" % base)
    print("  1,000 %sslowloris + 1,000 idle %skeep-alive: %.2f / %.2f / %.2f   (target: answered within 100 ms)"
          % ((what, what) + loaded))
finally:
    proc.terminate()
    proc.wait()
