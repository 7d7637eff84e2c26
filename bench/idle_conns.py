#!/usr/bin/env python3
"""Memory per idle TLS connection of estd (BENCHMARKS.md).

    bench/idle_conns.py --port PORT --cacert CA.pem --pid ESTD_PID [--count 5000]

Reads estd's VmRSS, opens COUNT TLS connections to 127.0.0.1:PORT (each
handshake completed, nothing sent), holds them all open, reads VmRSS again
and prints one JSON object with the difference per connection. estd's
max_connections, max_connections_per_address (0: off) and timeout must
allow it, and `ulimit -n` must be above
COUNT for both processes. Standard library only.
"""

import argparse
import json
import socket
import ssl
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cacert", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds before reading RSS")
    a = ap.parse_args()
    ctx = ssl.create_default_context(cafile=a.cacert)
    ctx.check_hostname = False
    conns = []
    time.sleep(a.settle)
    before = rss_kib(a.pid)
    t0 = time.monotonic()
    failed = 0
    for _ in range(a.count):
        try:
            s = socket.create_connection(("127.0.0.1", a.port), timeout=30)
            conns.append(ctx.wrap_socket(s, server_hostname="127.0.0.1"))
        except OSError as e:
            failed += 1
            if failed == 1:
                print(f"idle_conns: {e}", file=sys.stderr)
            if failed > 50:
                break
    opened = time.monotonic() - t0
    time.sleep(a.settle)
    after = rss_kib(a.pid)
    alive = 0
    for c in conns:            # still held by the server? (a closed one reads EOF)
        c.setblocking(False)
        try:
            alive += c.recv(1) != b""
        except (ssl.SSLWantReadError, BlockingIOError):
            alive += 1
        except OSError:
            pass
    n = len(conns)
    print(json.dumps({"connections": n, "alive": alive, "failed": failed,
                      "open_s": round(opened, 2), "rss_before_kib": before,
                      "rss_after_kib": after,
                      "kib_per_connection": round((after - before) / n, 1) if n else None}))
    for c in conns:
        c.close()


if __name__ == "__main__":
    main()
