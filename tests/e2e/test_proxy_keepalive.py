"""backend = proxy keeps its upstream connections alive: K requests through
the RA reach the upstream estd over far fewer than K TLS connections (counted
by the distinct client ports in the upstream's access log), and a kept-alive
connection that died - the upstream restarted, or closed it when idle - is
replaced transparently, never surfaced to the client. upstream_keepalive = 0
makes one connection per request (the measurement can tell the two apart). A
reload drops the kept connections."""

import base64
import functools
import re
import signal
import socket
import struct
import threading
import time

import pytest

from conftest import serving_group, start_live
from e2e_util import PASSWORD, USER, curl, held_connections, make_csr, set_ini, wait_for
from proxy_util import ra_cert, ra_profile

AUTH = f"{USER}:{PASSWORD}"
K = 10
PEER = re.compile(r"access method=POST path=/\.well-known/est/(?:\w+/)?simpleenroll .*"
                  r"identity=cert:\S*RA.1.* status=(\d+) .*peer=127\.0\.0\.1:(\d+)")


class Relay:
    """A TCP relay in front of the upstream that can drop its connections
    silently, as a NAT or firewall forgets an idle flow: the RA sees no FIN;
    its next request on the connection is answered with a reset."""

    def __init__(self, port):
        self.target = port
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.accepted = 0
        self.reset_next = 0   # new connections to reset on their first bytes
        self.pairs = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                reset = self.reset_next > 0
                self.reset_next -= 1 if reset else 0
            if reset:  # a flow that dies at once: its first bytes are reset
                pair = {"c": c, "u": None, "dropped": True}
                threading.Thread(target=self._pipe, args=(pair, c, None), daemon=True).start()
                continue
            u = socket.create_connection(("127.0.0.1", self.target))
            pair = {"c": c, "u": u, "dropped": False}
            with self.lock:
                self.pairs.append(pair)
            threading.Thread(target=self._pipe, args=(pair, c, u), daemon=True).start()
            threading.Thread(target=self._pipe, args=(pair, u, c), daemon=True).start()

    def _pipe(self, pair, src, dst):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if pair["dropped"] and src is pair["c"]:
                # the flow is forgotten: whatever the RA sends now is reset
                pair["c"].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
                pair["c"].close()
                return
            if not data or pair["dropped"]:
                if not pair["dropped"]:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                return
            try:
                dst.sendall(data)
            except OSError:
                return

    def drop_all(self):
        """Forgets every flow: the upstream side is closed, the RA's side left as it is."""
        with self.lock:
            for pair in self.pairs:
                pair["dropped"] = True
                pair["u"].close()
            self.pairs = []

    def close(self):
        self.lsock.close()
        self.drop_all()


def _setup_pair(relays, ca, ra):
    ra_profile(ca)
    # idle connections are closed after 3 s (the RA keeps them up to 15 s)
    set_ini(ca.conf, "server", "timeout", "3")
    start_live(ca)
    out = ra_cert(ca, ca.root / "racert", "RA 1")
    ra.relay = Relay(ca.port)
    relays.append(ra.relay)
    for lab, keep in (("keep", None), ("nokeep", "0"), ("relayed", None)):
        s = f"label {lab}"
        url = f"https://127.0.0.1:{ra.relay.port}" if lab == "relayed" else ca.url
        for k, v in {"backend": "proxy", "upstream_url": url, "upstream_trust": ca.ca,
                     "upstream_cert": out / "cert.pem", "upstream_key": out / "key.pem",
                     "upstream_timeout": "5", "upstream_retry_after": "9"}.items():
            set_ini(ra.conf, s, k, v)
        if keep is not None:
            set_ini(ra.conf, s, "upstream_keepalive", keep)
    start_live(ra)
    ra.upstream = ca
    return ra


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    relays = []
    try:
        yield from serving_group(tmp_path_factory.mktemp("proxyka"),
                                 functools.partial(_setup_pair, relays), "ca", "ra")
    finally:
        for relay in relays:
            relay.close()


def _csrs(work, n, tag):
    out = []
    for i in range(n):
        csr, _ = make_csr(work, f"{tag}{i}", der=True)
        b64 = work / f"{tag}{i}.b64"
        b64.write_text(base64.encodebytes(csr.read_bytes()).decode())
        out.append(b64)
    return out


def _enroll(srv, work, label, b64):
    r = curl(srv.est_url("simpleenroll", label), work, cafile=srv.ca, user=AUTH,
             data_file=b64, ctype="application/pkcs10")
    assert r.status == 200, (r, srv.log_tail(20))
    return r


def _upstream_ports(ca, offset):
    """Client ports of the RA's enrollments the upstream answered since offset."""
    return [int(m.group(2)) for m in PEER.finditer(ca.log_text(offset))]


def test_sequential_requests_share_upstream_connections(pair, work):
    ca = pair.upstream
    csrs = _csrs(work, 2 * K, "seq")
    off = len(ca.log_text())
    for b64 in csrs[:K]:
        _enroll(pair, work, "keep", b64)
    kept = _upstream_ports(ca, off)
    assert len(kept) == K, kept
    off = len(ca.log_text())
    for b64 in csrs[K:]:
        _enroll(pair, work, "nokeep", b64)
    fresh = _upstream_ports(ca, off)
    assert len(fresh) == K, fresh
    # upstream_keepalive = 0: a new TLS connection per request; default: one for all
    assert len(set(fresh)) == K, fresh
    assert len(set(kept)) <= 2, f"{len(set(kept))} upstream connections for {K} requests"


def test_upstream_restart_is_transparent(pair, work):
    ca = pair.upstream
    a, b, c = _csrs(work, 3, "restart")
    _enroll(pair, work, "keep", a)          # a kept-alive connection now waits
    off = len(pair.log_text())
    assert ca.stop(signal.SIGKILL) == -signal.SIGKILL
    ca.start()
    _enroll(pair, work, "keep", b)          # on a new connection, no error
    assert ca.stop() == 0                   # and a clean stop (close_notify) as well
    ca.start()
    _enroll(pair, work, "keep", c)
    assert " 503 " not in pair.log_text(off) and "status=503" not in pair.log_text(off)


def test_connection_closed_by_idle_upstream_is_replaced(pair, work):
    ca = pair.upstream
    a, b = _csrs(work, 2, "idle")
    off = len(ca.log_text())
    _enroll(pair, work, "keep", a)
    # the upstream's [server] timeout is 3 s: wait until it has closed the idle
    # connection the RA keeps (a fixed sleep races a slow, sanitized upstream)
    assert wait_for(lambda: held_connections(ca) == 0), \
        f"the upstream still holds {held_connections(ca)} connections\n{ca.log_tail(20)}"
    _enroll(pair, work, "keep", b)
    ports = _upstream_ports(ca, off)
    assert len(ports) == 2 and ports[0] != ports[1], ports


def test_reload_drops_kept_connections(pair, work):
    ca = pair.upstream
    a, b, c = _csrs(work, 3, "reload")
    off = len(ca.log_text())
    _enroll(pair, work, "keep", a)
    _enroll(pair, work, "keep", b)
    roff = len(pair.log_text())
    pair.send(signal.SIGHUP)
    deadline = time.monotonic() + 30  # a sanitized reload on a busy machine is slow
    while "configuration reloaded" not in pair.log_text(roff):
        assert time.monotonic() < deadline, pair.log_tail()
        time.sleep(0.05)
    _enroll(pair, work, "keep", c)
    ports = _upstream_ports(ca, off)
    assert len(ports) == 3 and ports[0] == ports[1] and ports[2] != ports[1], ports


def test_silently_dropped_connection_is_replaced(pair, work):
    a, b, c, d = _csrs(work, 4, "drop")
    _enroll(pair, work, "relayed", a)
    _enroll(pair, work, "relayed", b)  # on the kept connection
    assert pair.relay.accepted == 1, pair.relay.accepted
    pair.relay.drop_all()
    off = len(pair.log_text())
    _enroll(pair, work, "relayed", c)  # the kept connection is dead: a new one, no error
    assert pair.relay.accepted == 2, pair.relay.accepted
    # dead again, and the first new connection dies too (libcurl's own retry
    # fails): estd's retry on a new client of its own still gets it through
    pair.relay.drop_all()
    pair.relay.reset_next = 1
    _enroll(pair, work, "relayed", d)
    assert pair.relay.accepted == 4, pair.relay.accepted
    log = pair.log_text(off)
    assert "kept-alive upstream connection failed" in log and "retrying on a new one" in log, log
    assert "status=503" not in log and "status=502" not in log, log
