"""Brute-force protection ([auth] auth_fail_*): failed authentications from
one address are answered ever more slowly, then the address is locked out
(429 + Retry-After) for auth_fail_lockout seconds, with a log line; other
addresses are unaffected, /cacerts stays open, and the address recovers
when the lockout ends. 127.0.0.2 is the second source address (loopback)."""

import base64
import hashlib
import hmac
import itertools
import socket
import ssl
import struct
import time

import pytest

import hostile_cases as H
from e2e_util import USER, Estd, ok, set_ini

WRONG = "Basic " + base64.b64encode(f"{USER}:wrong".encode()).decode()
LIMIT, LOCKOUT, DELAY_MS = 4, 3, 300


@pytest.fixture
def guarded(tmp_path):
    srv = Estd(tmp_path).init()
    set_ini(srv.conf, "auth", "auth_fail_limit", str(LIMIT))
    set_ini(srv.conf, "auth", "auth_fail_window", "60")
    set_ini(srv.conf, "auth", "auth_fail_lockout", str(LOCKOUT))
    set_ini(srv.conf, "auth", "auth_fail_delay", str(DELAY_MS))
    srv.start()
    work = tmp_path / "w"
    work.mkdir()
    key, spki = H.ec_key(work, "k")
    srv.csr = H.b64(H.build_csr(work, key, spki, H.name((H.OID_CN, "bf"))))
    yield srv
    srv.teardown()


def timed(client, data):
    t0 = time.monotonic()
    r = client.raw(data)
    return r, time.monotonic() - t0


def test_failures_slow_down_then_lock_out_then_recover(guarded):
    srv = guarded
    a = H.Client(srv.port, srv.ca)
    other = H.Client(srv.port, srv.ca, source="127.0.0.2")
    took = []
    for _ in range(LIMIT):
        r, dt = timed(a, H.enroll_bytes(srv.csr, auth=WRONG))
        assert r.status == 401, r
        took.append(dt)
    # the n-th failure waits (n - 1) x auth_fail_delay
    assert took[-1] >= (LIMIT - 1) * DELAY_MS / 1000 - 0.05, took
    assert took[0] < took[-1], took
    # locked out: even the right password gets 429 + Retry-After, at once
    r, dt = timed(a, H.enroll_bytes(srv.csr))
    assert r.status == 429, r
    assert 1 <= int(r.header("Retry-After")[0]) <= LOCKOUT, r
    assert dt < 1.0
    r = a.raw(H.http_bytes("GET", f"{H.EST}/csrattrs"))
    assert r.status == 429, r
    # /cacerts stays public (RFC 7030 4.1.1)
    assert a.raw(H.http_bytes("GET", f"{H.EST}/cacerts")).status == 200
    # another address is not affected
    r = other.raw(H.enroll_bytes(srv.csr))
    assert r.status == 200, r
    assert "auth lockout peer=127.0.0.1" in srv.log_text(), srv.log_tail()
    assert "auth lockout peer=127.0.0.2" not in srv.log_text()
    # the lockout ends
    time.sleep(LOCKOUT + 0.5)
    r = a.raw(H.enroll_bytes(srv.csr))
    assert r.status == 200, r
    a.close()
    other.close()


def test_digest_forgeries_count_but_stale_nonces_do_not(guarded):
    srv = guarded
    c = H.Client(srv.port, srv.ca)
    uri = f"{H.EST}/csrattrs"
    first = c.raw(H.enroll_bytes(srv.csr, auth=None))    # a challenge, not a failure
    assert first.status == 401, first
    realm, nonce, _ = H.digest_challenge(first)
    # a stale nonce is the normal Digest retry, never a failure (RFC 7616 3.3)
    key = (srv.dir / "digest.key").read_bytes()
    msg = struct.pack(">Q", int(time.time()) - 3600) + b"saltsalt"
    stale = base64.b64encode(msg + hmac.new(key, msg + realm.encode(),
                                            hashlib.sha256).digest()).decode()
    for _ in range(LIMIT + 2):
        r = c.raw(H.http_bytes("GET", uri, headers=[(
            "Authorization", H.digest_authz("GET", uri, realm, stale))]))
        assert r.status == 401 and H.digest_challenge(r)[2] == "true", r
    # forged nonces (bad MAC) do count
    for _ in range(LIMIT):
        r = c.raw(H.http_bytes("GET", uri, headers=[(
            "Authorization", H.digest_authz("GET", uri, realm, "A" * 64))]))
        assert r.status == 401, r
    r = c.raw(H.http_bytes("GET", uri, headers=[(
        "Authorization", H.digest_authz("GET", uri, realm, nonce))]))
    assert r.status == 429, r
    c.close()


def test_rejected_client_certificates_count(guarded, tmp_path):
    srv = guarded
    w = tmp_path / "certs"
    w.mkdir()
    ok(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", w / "evil.key", "-out", w / "evil.pem", "-subj", "/CN=evil",
        "-days", "3"])
    for _ in range(LIMIT):
        ctx = ssl.create_default_context(cafile=str(srv.ca))
        ctx.check_hostname = False
        ctx.load_cert_chain(str(w / "evil.pem"), str(w / "evil.key"))
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as raw:
            with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
                s = ctx.wrap_socket(raw)
                s.sendall(H.http_bytes("GET", f"{H.EST}/cacerts"))
                if not s.recv(100):
                    raise ConnectionError("closed")
    r = H.Client(srv.port, srv.ca).raw(H.enroll_bytes(srv.csr))
    assert r.status == 429, r
    assert "(TLS client certificates)" in srv.log_text(), srv.log_tail()


def test_zero_limit_disables_the_protection(tmp_path):
    srv = Estd(tmp_path).init()
    set_ini(srv.conf, "auth", "auth_fail_limit", "0")
    srv.start()
    try:
        c = H.Client(srv.port, srv.ca)
        for _ in range(12):
            r, dt = timed(c, H.http_bytes("GET", f"{H.EST}/csrattrs",
                                          headers=[("Authorization", "Basic !!!")]))
            assert r.status == 401 and dt < 1.0, (r, dt)
        c.close()
    finally:
        srv.teardown()


def fnv_slot(ipv4, table):
    """The slot the tracker's old unkeyed hash (FNV-1a of the key) gave an
    IPv4 address: what a peer choosing its addresses could aim."""
    h = 1469598103934665603
    for b in bytes(10) + b"\xff\xff" + socket.inet_aton(ipv4):
        h = ((h ^ b) * 1099511628211) % (1 << 64)
    return h % table


def test_aimed_addresses_do_not_evict_a_lockout(tmp_path):
    """Loopback addresses picked to share 127.0.0.1's slot under an unkeyed
    hash fill its probe window with lockouts; the table then evicted the
    lockout ending first, 127.0.0.1's. The keyed hash scatters them."""
    table = 4096
    srv = Estd(tmp_path).init()
    set_ini(srv.conf, "auth", "auth_fail_limit", "2")
    set_ini(srv.conf, "auth", "auth_fail_window", "60")
    set_ini(srv.conf, "auth", "auth_fail_lockout", "60")
    set_ini(srv.conf, "auth", "auth_fail_delay", "0")
    set_ini(srv.conf, "auth", "auth_fail_table", str(table))
    srv.start()
    try:
        work = tmp_path / "w"
        work.mkdir()
        key, spki = H.ec_key(work, "k")
        csr = H.b64(H.build_csr(work, key, spki, H.name((H.OID_CN, "bf"))))
        victim = H.Client(srv.port, srv.ca)
        for _ in range(2):
            assert victim.raw(H.enroll_bytes(csr, auth=WRONG)).status == 401
        assert victim.raw(H.enroll_bytes(csr)).status == 429
        want = fnv_slot("127.0.0.1", table)
        addrs = (f"127.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(256, 1 << 24))
        aimed = list(itertools.islice((a for a in addrs if fnv_slot(a, table) == want), 12))
        time.sleep(1.1)  # their lockouts end after the victim's
        for src in aimed:
            c = H.Client(srv.port, srv.ca, source=src)
            for _ in range(2):
                assert c.raw(H.enroll_bytes(csr, auth=WRONG)).status == 401
            assert c.raw(H.enroll_bytes(csr)).status == 429, src
            c.close()
        # still locked out: even the right password is refused
        r = victim.raw(H.enroll_bytes(csr))
        assert r.status == 429, r
        victim.close()
    finally:
        srv.teardown()
