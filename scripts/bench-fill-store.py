#!/usr/bin/env python3
"""Fills an estd SQLite store with N realistic certificate rows, for the
large-store benchmark of BENCHMARKS.md (enrollment rate with 1,000,000
certificates already recorded).

    scripts/bench-fill-store.py --db DIR/estd.db --count 1000000 [--template CERT.pem]

Run it while estd is stopped, on a store `estd init` made (the schema is
estd's). Every row gets a unique 128-bit serial (64 random bits, then the row
number), a subject, SANs, validity, requester, and the DER of a real
certificate and request as blobs (the template's, default: the store's own
TLS certificate), so rows have the size real ones have. All rows go in in one
transaction. Only the Python standard library and the openssl CLI are used.
"""

import argparse
import os
import random
import sqlite3
import subprocess
import sys
import time


def der_of(path, kind):
    """DER of a PEM certificate ("x509") or request ("req") via the openssl CLI."""
    return subprocess.run(["openssl", kind, "-in", path, "-outform", "DER"],
                          check=True, capture_output=True).stdout


def issuer_of(path):
    out = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-issuer", "-nameopt",
                          "RFC2253"], check=True, capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1]


def rows(n, issuer, cert, csr, now):
    high = random.getrandbits(63) | (1 << 62)
    for i in range(n):
        serial = f"{high:x}{i:016x}"
        nb = now - 86400 * (i % 365)
        yield (serial, f"CN=device-{i},O=bench", issuer, f"DNS:device-{i}.example",
               nb, nb + 365 * 86400, nb, "user:estuser", "", "simpleenroll", csr, cert)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="estd.db of a stopped estd")
    ap.add_argument("--count", type=int, default=1000000)
    ap.add_argument("--template", help="certificate whose DER fills the cert column "
                    "(default: tls.pem next to the database)")
    a = ap.parse_args()
    if not 1 <= a.count <= 100_000_000:
        sys.exit("--count wants 1..100000000")
    template = a.template or os.path.join(os.path.dirname(os.path.abspath(a.db)), "tls.pem")
    ca = os.path.join(os.path.dirname(os.path.abspath(a.db)), "ca.pem")
    cert = der_of(template, "x509")
    # A request of realistic size: a P-256 CSR made here (content does not matter).
    csr = subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256", "-nodes", "-keyout", "/dev/null",
                          "-subj", "/CN=device", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    issuer = issuer_of(ca if os.path.exists(ca) else template)

    con = sqlite3.connect(a.db, isolation_level=None)
    if not con.execute("SELECT name FROM sqlite_master WHERE name = 'certs'").fetchone():
        sys.exit(f"{a.db}: no certs table (make the store with `estd init` first)")
    t0 = time.monotonic()
    con.execute("BEGIN IMMEDIATE")
    con.executemany("INSERT INTO certs (serial, subject, issuer, sans, not_before, not_after,"
                    " issued_at, requester, label, op, csr, cert)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows(a.count, issuer, cert, csr, int(time.time())))
    con.execute("COMMIT")
    total = con.execute("SELECT count(*) FROM certs").fetchone()[0]
    con.close()
    print(f"inserted {a.count} rows in {time.monotonic() - t0:.1f} s; the store holds "
          f"{total} certificates ({os.path.getsize(a.db) / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
