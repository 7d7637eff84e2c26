"""Crash durability: while several curl clients enroll in loops, estd is
killed with SIGKILL at random moments (5 times) and restarted. Afterwards
every certificate any client received is in the store, serial numbers are
unique, the SQLite database passes PRAGMA integrity_check (after every
kill, too), and every request the manual-approval label answered 202 is
still pending in `estd requests list`."""

import base64
import random
import signal
import sqlite3
import subprocess
import threading
import time

from e2e_util import (ESTD, PASSWORD, USER, base_env, cert_serial, make_csr, norm_serial, ok,
                      set_ini)

KILLS = 5
ENROLLERS = 3
MANUAL = "manual"


# ---- reading the certs-only answers (a tiny DER walker; no extra modules) ------------

def _tlv(b, i):
    """(tag, content start, content end) of the DER element at b[i]."""
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, i + n


def _children(b, start, end):
    i = start
    while i < end:
        tag, s, e = _tlv(b, i)
        yield tag, s, e
        i = e


def serials_in_certs_only(b64):
    """Serials (normalized hex) of the certificates of a PKCS#7 certs-only body."""
    der = base64.b64decode(b64)
    _, s, e = _tlv(der, 0)                                # ContentInfo
    kids = list(_children(der, s, e))
    _, s, e = kids[1]                                     # [0] EXPLICIT
    _, s, e = next(_children(der, s, e))                  # SignedData
    certs = [k for k in _children(der, s, e) if k[0] == 0xA0]
    assert len(certs) == 1, "no certificates in the answer"
    out = []
    for _, cs, ce in _children(der, certs[0][1], certs[0][2]):
        _, ts, te = next(_children(der, cs, ce))          # tbsCertificate
        fields = list(_children(der, ts, te))
        tag, vs, ve = fields[1] if fields[0][0] == 0xA0 else fields[0]
        assert tag == 0x02, "serialNumber is not an INTEGER"
        out.append(norm_serial(der[vs:ve].hex()))
    return out


# ---- the clients ---------------------------------------------------------------------

class Clients:
    """Threads posting requests with curl until stopped. Enrollers reuse one
    request (each POST is a new certificate); the pender posts a new request
    each time to the manual label and remembers the ones answered 202."""

    def __init__(self, srv, work):
        self.srv, self.work = srv, work
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.received = []       # (worker, body) of every 200
        self.pending = []        # subjects answered 202
        self.counts = {}
        self.threads = []

    def _post(self, url, b64, out):
        # a 200 counts only with its whole body: a server killed after the
        # status line leaves curl failing (exit 18) and must not let the
        # previous answer in `out` count again
        out.unlink(missing_ok=True)
        cp = subprocess.run(
            ["curl", "-sS", "--cacert", str(self.srv.ca), "-u", f"{USER}:{PASSWORD}",
             "-H", "Content-Type: application/pkcs10", "--data-binary", f"@{b64}",
             "-o", str(out), "-w", "%{http_code}", "--max-time", "10", url],
            capture_output=True, text=True, env=base_env(), timeout=30)
        code = cp.stdout.strip()[-3:]
        if code == "200" and cp.returncode != 0:
            code = f"200-curl{cp.returncode}"
        with self.lock:
            self.counts[code] = self.counts.get(code, 0) + 1
        return code

    def _enroller(self, n):
        csr, _ = make_csr(self.work, f"crash{n}", der=True)
        b64 = self.work / f"crash{n}.b64"
        b64.write_bytes(base64.b64encode(csr.read_bytes()))
        out = self.work / f"crash{n}.out"
        while not self.stop.is_set():
            if self._post(self.srv.est_url("simpleenroll"), b64, out) == "200":
                with self.lock:
                    self.received.append((n, out.read_bytes()))
            else:
                time.sleep(0.05)        # server down: try again soon

    def _pender(self, csrs):
        out = self.work / "pend.out"
        for subject, b64 in csrs:
            if self.stop.is_set():
                return
            code = self._post(self.srv.est_url("simpleenroll", MANUAL), b64, out)
            if code == "202":
                with self.lock:
                    self.pending.append(subject)
            else:
                time.sleep(0.05)

    def start(self, pend_csrs):
        for n in range(ENROLLERS):
            self.threads.append(threading.Thread(target=self._enroller, args=(n,)))
        self.threads.append(threading.Thread(target=self._pender, args=(pend_csrs,)))
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def _pending_csrs(work, n):
    """n requests with distinct subjects (one key: the subject makes them differ)."""
    _, key = make_csr(work, "pend-key")
    out = []
    for i in range(n):
        csr, _ = make_csr(work, f"pend{i}", der=True, keyfile=key, subj=f"/CN=pend{i}")
        b64 = work / f"pend{i}.b64"
        b64.write_bytes(base64.b64encode(csr.read_bytes()))
        out.append((f"CN=pend{i}", b64))
    return out


def _integrity(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()


def _requests(srv):
    import json
    cp = ok([ESTD, "requests", "list", "--json", "--status", "all", "-c", srv.conf])
    return json.loads(cp.stdout)


def test_sigkill_during_enrollments_loses_nothing(fresh_server, work):
    srv = fresh_server
    set_ini(srv.conf, f"label {MANUAL}", "profile", "default")
    set_ini(srv.conf, f"label {MANUAL}", "approval", "manual")
    assert srv.stop() == 0
    srv.start()
    db = srv.dir / "estd.db"
    rng = random.Random()
    clients = Clients(srv, work)
    clients.start(_pending_csrs(work, 150))
    try:
        time.sleep(1.5)
        for k in range(KILLS):
            time.sleep(rng.uniform(0.8, 2.2))          # a random moment of the load
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait(timeout=10)
            assert srv.proc.returncode == -signal.SIGKILL
            assert _integrity(db) == [("ok",)], f"after kill {k + 1}"
            srv.start()
        time.sleep(1.5)
    finally:
        clients.join()
    assert srv.stop() == 0

    assert _integrity(db) == [("ok",)]
    ca_serial = cert_serial(srv.ca)
    got = []
    for _, body in clients.received:
        got += [s for s in serials_in_certs_only(body) if s != ca_serial]
    assert len(clients.received) >= 8, clients.counts     # the load really ran
    assert len(got) == len(clients.received), "one new certificate per answer"
    assert len(set(got)) == len(got), "a serial was handed out twice"

    srv.start()
    stored = [norm_serial(r["serial"]) for r in srv.certs()]
    assert len(set(stored)) == len(stored), "duplicate serial in the store"
    missing = set(got) - set(stored)
    assert not missing, f"{len(missing)} received certificates not in the store: {missing}"

    assert clients.pending, clients.counts
    held = {r["subject"] for r in _requests(srv) if r["status"] == "pending"}
    lost = [s for s in clients.pending if s not in held]
    assert not lost, f"202'd requests lost: {lost}"
    print(f"received {len(got)} certificates, {len(clients.pending)} pending, "
          f"HTTP codes {clients.counts}")
