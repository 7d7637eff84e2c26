"""The hostile-input catalogue (issue 4): what a running estd answers to
malformed, oversized, forged and abusive input - each case asserts the exact
HTTP status (or the exact TLS / connection outcome) and that the server then
still serves a normal enrollment. Then the cheap cases are repeated
(ESTKIT_E2E_HOSTILE_REPS times, default 1000) against one estd while its
VmRSS is watched, and slowloris / connection-flood tests check that a
legitimate client is still served promptly.

Brute-force protection is off on the catalogue's server (auth_fail_limit =
0): the catalogue sends hundreds of bad credentials on purpose; the
protection has its own tests in test_bruteforce.py.
"""

import base64
import hashlib
import hmac
import os
import select
import socket
import ssl
import struct
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")

import hostile_cases as H
from e2e_util import EST, PASSWORD, USER, Estd, base_env, make_csr, ok, set_ini, wait_for

REPS = int(os.environ.get("ESTKIT_E2E_HOSTILE_REPS", "1000"))
# Sanitizer builds: ASan's quarantine and shadow memory make RSS meaningless.
SANITIZED = os.environ.get("ESTKIT_E2E_SANITIZED") == "1"
TIMEOUT = 5                  # [server] timeout of the catalogue's server, seconds
PER_ADDRESS = 400            # [server] max_connections_per_address of that server
RSS_BOUND_KIB = 4096         # allowed VmRSS growth over the repetitions (see docs/security.md)
DIGEST_URI = f"{H.EST}/csrattrs"


# ---- the server and the material the cases send ----------------------------------------

@dataclass
class Mat:
    srv: Estd
    good: bytes               # base64 of a valid CSR
    bodies: dict              # name -> base64 body
    alice: tuple              # (cert, key) issued by the CA for CN=alice
    untrusted: tuple          # (cert, key) from a CA the server does not trust
    expired: tuple            # (cert, key) issued by the server's CA, expired
    digest_key: bytes


def _csr_b64(path):
    data = Path(path).read_bytes()
    if b"-----BEGIN" in data:
        data = base64.b64decode(b"".join(l for l in data.splitlines() if b"-----" not in l))
    return H.b64(data)


def _make_bodies(w, srv):
    key, spki = H.ec_key(w, "h")
    good = H.build_csr(w, key, spki, H.name((H.OID_CN, "good")))
    bad_sig = bytearray(good)
    bad_sig[-5] ^= 0x55
    rsa_csr, _ = make_csr(w, "rsa1024", key="rsa:1024")
    k1_csr, _ = make_csr(w, "k1", key="ec", der=False)
    ok(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1",
        "-out", w / "k1.key"])
    ok(["openssl", "req", "-new", "-key", w / "k1.key", "-subj", "/CN=k1", "-out", k1_csr])
    return {
        "good": H.b64(good),
        "malformed-base64": b"!!!! this is not base64 ????\n",
        "binary-garbage": bytes((i * 151 + 7) % 256 for i in range(600)),
        "base64-not-der": b"QUJDREVGRw==\n",
        "truncated-der": H.b64(good[:len(good) // 2]),
        "bad-signature": H.b64(bytes(bad_sig)),
        "rsa-1024": _csr_b64(rsa_csr),
        "disallowed-curve": _csr_b64(k1_csr),
        "ca-true": H.b64(H.build_csr(w, key, spki, H.name((H.OID_CN, "ca")),
                                     [H.bc_ext(True)])),
        "huge-subject": H.b64(H.build_csr(w, key, spki,
                                          H.name(*[(H.OID_OU, "x" * 60)] * 400))),
        "thousands-of-sans": H.b64(H.build_csr(
            w, key, spki, H.name((H.OID_CN, "sans")),
            [H.san_ext([f"h{i}.example" for i in range(2000)])])),
        "nul-in-subject": H.b64(H.build_csr(w, key, spki,
                                            H.name((H.OID_CN, b"bank.example\0.evil.example")))),
        "nul-in-san": H.b64(H.build_csr(w, key, spki, H.name((H.OID_CN, "nulsan")),
                                        [H.san_ext([b"bank.example\0.evil.example"])])),
        "bob": H.b64(H.build_csr(w, key, spki, H.name((H.OID_CN, "bob")))),
    }


def _client_certs(w, srv):
    # alice: a real enrollment with est
    out = w / "alice"
    env = base_env(EST_PASSWORD=PASSWORD)
    ok([EST, "enroll", "--server", srv.url, "--cacert", srv.ca, "--user", USER,
        "--subject", "/CN=alice", "--out", out], env=env)
    alice = (out / "cert.pem", out / "key.pem")
    # a CA the server does not trust, and a client certificate from it
    ok(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", w / "evilca.key", "-out", w / "evilca.pem", "-subj",
        "/CN=Evil CA", "-days", "30"])
    _, ukey = make_csr(w, "mallory")
    ok(["openssl", "x509", "-req", "-in", w / "mallory.csr", "-CA", w / "evilca.pem",
        "-CAkey", w / "evilca.key", "-CAcreateserial", "-days", "30", "-out",
        w / "mallory.pem"])
    untrusted = (w / "mallory.pem", ukey)
    # expired: signed with the server's own CA key, valid 2020-2021
    ekey, espki = H.ec_key(w, "expired")
    cert = H.build_cert(w, srv.dir / "ca.key", H.cert_subject_der(srv.ca), espki,
                        H.name((H.OID_CN, "alice")), "200101000000Z", "210101000000Z")
    (w / "expired.pem").write_text(H.der_to_pem(cert, "CERTIFICATE"))
    return alice, untrusted, (w / "expired.pem", ekey)


@pytest.fixture(scope="module")
def mat(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    srv = Estd(root).init()
    set_ini(srv.conf, "auth", "auth_fail_limit", "0")
    set_ini(srv.conf, "server", "timeout", str(TIMEOUT))
    # above the slowloris test's 300 connections from 127.0.0.1
    set_ini(srv.conf, "server", "max_connections_per_address", str(PER_ADDRESS))
    srv.start()
    w = root / "w"
    w.mkdir()
    try:
        bodies = _make_bodies(w, srv)
        alice, untrusted, expired = _client_certs(w, srv)
        m = Mat(srv, bodies["good"], bodies, alice, untrusted, expired,
                (srv.dir / "digest.key").read_bytes())
        yield m
    finally:
        srv.teardown()


def enroll_ok(m, client=None):
    """A normal enrollment: 200 with a certs-only PKCS#7."""
    c = client or H.Client(m.srv.port, m.srv.ca)
    try:
        r = c.raw(H.enroll_bytes(m.good))
    finally:
        if client is None:
            c.close()
    assert r.status == 200 and r.body.startswith(b"MII"), \
        f"normal enrollment failed: {r}\n{m.srv.log_tail(30)}"


# ---- the catalogue ---------------------------------------------------------------------

@dataclass
class Case:
    name: str
    group: str
    run: Callable            # run(m, clients) asserts the outcome
    cheap: bool = True       # repeated in the RSS loop
    every: int = 1           # ... in every n-th repetition (new TLS connections, crypt(3))


class Clients:
    """The persistent clients of one thread (plain, alice's certificate)."""

    def __init__(self, m):
        self.plain = H.Client(m.srv.port, m.srv.ca)
        self.alice = H.Client(m.srv.port, m.srv.ca, cert=m.alice[0], key=m.alice[1])

    def close(self):
        self.plain.close()
        self.alice.close()


def expect(status, *, close=None, header=None, absent=None):
    """A checker of a Response: exact status, optionally Connection: close, a
    header that must be present, a header that must not."""
    def check(r):
        assert r.status == status, f"wanted {status}: {r}"
        if close is not None:
            closes = any(v.lower() == "close" for v in r.header("Connection"))
            assert closes == close, r
        if header:
            assert r.header(header), f"no {header}: {r}"
        if absent:
            assert not r.header(absent), f"{absent} must not be set: {r}"
    check.closes = bool(close)
    return check


def http_case(name, group, build, check, cheap=True, client="plain", every=1):
    def run(m, cl):
        r = getattr(cl, client).raw(build(m))
        check(r)
    return Case(name, group, run, cheap, every)


def body_case(name, status, every=1):
    """A CSR sent by alice, authenticated by her TLS client certificate (RFC
    7030 3.3.2): the CSR checks run without a crypt(3) password check each time."""
    return http_case(name, "csr", lambda m: H.enroll_bytes(m.bodies[name], auth=None),
                     expect(status), client="alice", every=every)


def raw_case(name, group, data, check, cheap=True, every=1):
    """Raw request bytes; libevent's own 400/413/501 close the connection, so those
    cases make a new TLS connection each time: every 5th repetition."""
    return http_case(name, group, lambda m: data, check, cheap,
                     every=5 if getattr(check, "closes", False) else every)


def get(path, headers=()):
    return H.http_bytes("GET", path, headers=headers)


def enroll_with(auth, body="good"):
    return lambda m: H.enroll_bytes(m.bodies[body], auth=auth)


def basic_case(name, auth, every=1):
    """A /simpleenroll with these credentials: 401. A well-formed user:password
    costs a crypt(3) check (slow by design): those run every 50th repetition."""
    return http_case(name, "basic", enroll_with(auth), expect(401, header="WWW-Authenticate"),
                     every=every)


def _chunked_body(total):
    piece = b"A" * 4096
    return b"".join(b"%x\r\n" % len(piece) + piece + b"\r\n"
                    for _ in range(total // 4096)) + b"0\r\n\r\n"


def _post_headers(extra):
    return [("Content-Type", H.P10), ("Authorization", H.AUTH)] + extra


# -- Digest (RFC 7616) on /csrattrs: authenticated, cheap, nothing issued --

def _challenge(cl):
    return H.digest_challenge(cl.plain.raw(get(DIGEST_URI, [("Authorization",
                                                                "Digest username=x")])))


def _digest_replay(m, cl):
    realm, nonce, _ = _challenge(cl)
    authz = H.digest_authz("GET", DIGEST_URI, realm, nonce)
    first = cl.plain.raw(get(DIGEST_URI, [("Authorization", authz)]))
    assert first.status in (200, 204), first
    again = cl.plain.raw(get(DIGEST_URI, [("Authorization", authz)]))
    assert again.status == 401, again


def _digest_forged(m, cl):
    realm, nonce, _ = _challenge(cl)
    raw = bytearray(base64.b64decode(nonce))
    raw[-1] ^= 1                                   # the MAC no longer matches
    forged = base64.b64encode(bytes(raw)).decode()
    r = cl.plain.raw(get(DIGEST_URI, [("Authorization",
                                       H.digest_authz("GET", DIGEST_URI, realm, forged))]))
    assert r.status == 401, r
    assert H.digest_challenge(r)[2] == "false", r  # forged is not stale


def _old_nonce(key, realm, age):
    """A nonce the server made `age` seconds ago (auth_digest.c: ts || salt || MAC)."""
    msg = struct.pack(">Q", int(time.time()) - age) + b"saltsalt"
    mac = hmac.new(key, msg + realm.encode(), hashlib.sha256).digest()
    return base64.b64encode(msg + mac).decode()


def _digest_stale(m, cl):
    realm, _, _ = _challenge(cl)
    nonce = _old_nonce(m.digest_key, realm, 3600)
    r = cl.plain.raw(get(DIGEST_URI, [("Authorization",
                                       H.digest_authz("GET", DIGEST_URI, realm, nonce))]))
    assert r.status == 401 and H.digest_challenge(r)[2] == "true", r


def _digest_wrong_password(m, cl):
    realm, nonce, _ = _challenge(cl)
    r = cl.plain.raw(get(DIGEST_URI, [("Authorization", H.digest_authz(
        "GET", DIGEST_URI, realm, nonce, password="wrong"))]))
    assert r.status == 401, r


# -- TLS and connection outcomes --

def _tls_refused(m, ctx_setup):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(str(m.srv.ca))
    ctx_setup(ctx)
    with socket.create_connection(("127.0.0.1", m.srv.port), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)) as ei:
            s = ctx.wrap_socket(raw)
            # TLS 1.3: the client learns of a rejected certificate on its first read
            s.sendall(get(f"{H.EST}/cacerts"))
            data = s.recv(4096)
            raise ConnectionError(f"connection ended without a response: {data[:60]!r}") \
                if not data.startswith(b"HTTP/") else AssertionError(data[:200])
    return str(ei.value)


def _old_tls(version):
    def run(m, cl):
        def setup(ctx):
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.minimum_version = version
            ctx.maximum_version = version
        err = _tls_refused(m, setup)
        # the server's protocol_version alert, not a client that could not even try
        assert "PROTOCOL_VERSION" in err.upper() or "WRONG_VERSION" in err.upper(), err
    return run


def _client_cert(which):
    def run(m, cl):
        cert, key = getattr(m, which)
        err = _tls_refused(m, lambda ctx: ctx.load_cert_chain(str(cert), str(key)))
        assert err, err
    return run


def _raw_tcp(data, *, expect_http=False):
    """Sends data on a bare TCP connection and reads what comes back."""
    def run(m, cl):
        got = b""
        with socket.create_connection(("127.0.0.1", m.srv.port), timeout=10) as s:
            try:
                # the server may hang up before all is sent: that is an outcome too
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                while len(got) < 65536:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except (ConnectionResetError, BrokenPipeError, OSError):
                pass
        # a TLS alert at most: never an HTTP answer in clear text
        assert not got.startswith(b"HTTP/"), got[:100]
        assert len(got) < 64, got[:100]
    return run


def _client_hello_prefix():
    """The first bytes of a real ClientHello (made by python's ssl)."""
    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="x")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    return hello[:len(hello) // 2]


def _disconnect_tls(data):
    """Opens a TLS connection, sends part of a request, and drops it."""
    def run(m, cl):
        c = H.Client(m.srv.port, m.srv.ca)
        c.connect()
        c.sock.sendall(data)
        c.sock.close()
        c.sock = None
    return run


def _connection_flood(m, cl):
    """One address (127.0.0.3) opens PER_ADDRESS + 10 idle TCP connections: the
    extra ten are closed at once, before any TLS byte; the others stay open."""
    socks = []
    try:
        for _ in range(PER_ADDRESS + 10):
            socks.append(socket.create_connection(("127.0.0.1", m.srv.port), timeout=10,
                                                  source_address=("127.0.0.3", 0)))
        closed, deadline = set(), time.monotonic() + 3
        while len(closed) < 10 and time.monotonic() < deadline:
            live = [s for s in socks if s not in closed]
            for s in select.select(live, [], [], 0.2)[0]:
                try:
                    got = s.recv(64, socket.MSG_DONTWAIT)
                except ConnectionResetError:
                    got = b""
                assert got == b"", got  # closed, never answered
                closed.add(s)
        assert len(closed) == 10, f"{len(closed)} closed"
        live = [s for s in socks if s not in closed]
        assert select.select(live, [], [], 0.3)[0] == []  # the others are held
    finally:
        for s in socks:
            s.close()


def _huge_declared_length(m, cl):
    """Content-Length: 1 TB, 1 KiB sent: no 413 (libevent 2.1 reads the declared
    body before answering), the connection is closed at the read timeout."""
    c = H.Client(m.srv.port, m.srv.ca)
    c.connect()
    t0 = time.monotonic()
    c.sock.sendall(H.http_bytes("POST", f"{H.EST}/simpleenroll",
                                headers=_post_headers([("Content-Length", "1000000000000")]),
                                body=b"A" * 1024, clen=False))
    c.sock.settimeout(TIMEOUT + 10)
    try:
        got = c.sock.recv(4096)
    except (ConnectionError, ssl.SSLError):
        got = b""
    c.close()
    assert got == b"", got[:200]
    assert time.monotonic() - t0 < TIMEOUT + 5


CASES = [
    # -- the CSR (RFC 7030 4.2.1): every bad one is a 400 with a reason, nothing issued
    body_case("malformed-base64", 400),
    body_case("binary-garbage", 400),
    body_case("base64-not-der", 400),
    body_case("truncated-der", 400),
    body_case("bad-signature", 400),
    body_case("rsa-1024", 400),
    body_case("disallowed-curve", 400),
    body_case("ca-true", 400),               # the profile issues end-entity certificates only
    body_case("huge-subject", 400, every=5),          # [ca] max_subject
    body_case("thousands-of-sans", 400, every=5),     # [ca] max_sans
    body_case("nul-in-subject", 400),
    body_case("nul-in-san", 400),
    http_case("serverkeygen-garbage", "csr",
              lambda m: H.enroll_bytes(b"!!!", op="serverkeygen", auth=None), expect(400),
              client="alice"),
    http_case("fullcmc-garbage", "csr",
              lambda m: H.enroll_bytes(b"!!!", op="fullcmc", auth=None,
                                       ctype="application/pkcs7-mime; smime-type=CMC-request"),
              expect(400), client="alice"),
    # -- size limits ([server] max_body, max_headers)
    raw_case("body-over-limit", "limits",
             H.http_bytes("POST", f"{H.EST}/simpleenroll", headers=_post_headers([]),
                          body=b"A" * 70000), expect(413, close=True)),
    raw_case("chunked-body-over-limit", "limits",
             H.http_bytes("POST", f"{H.EST}/simpleenroll",
                          headers=_post_headers([("Transfer-Encoding", "chunked")]),
                          body=_chunked_body(70000), clen=False), expect(413, close=True)),
    raw_case("header-over-limit", "limits",
             get(f"{H.EST}/cacerts", [("X-Big", "a" * 20000)]), expect(400, close=True)),
    raw_case("too-many-headers", "limits",
             get(f"{H.EST}/cacerts", [(f"X-{i}", "a") for i in range(3000)]),
             expect(400, close=True)),
    raw_case("uri-over-limit", "limits", get(f"{H.EST}/cacerts?" + "a" * 20000),
             expect(400, close=True)),
    Case("huge-declared-content-length", "limits", _huge_declared_length, cheap=False),
    Case("connection-flood-one-address", "limits", _connection_flood, cheap=False),
    # -- routing (RFC 7030 3.2.2)
    http_case("wrong-content-type", "routing",
              lambda m: H.enroll_bytes(m.good, ctype="text/plain"), expect(415)),
    http_case("missing-content-type", "routing",
              lambda m: H.enroll_bytes(m.good, ctype=None), expect(415)),
    raw_case("wrong-method-put", "routing",
             H.http_bytes("PUT", f"{H.EST}/simpleenroll", body=b"x"),
             expect(405, header="Allow")),
    raw_case("wrong-method-post-cacerts", "routing",
             H.http_bytes("POST", f"{H.EST}/cacerts", body=b"x"), expect(405, header="Allow")),
    raw_case("unknown-method", "routing", get(f"{H.EST}/cacerts").replace(b"GET", b"FOO", 1),
             expect(501, close=True)),
    raw_case("dotdot-label", "routing", get(f"{H.EST}/../est/cacerts"), expect(404)),
    raw_case("encoded-dotdot-label", "routing", get(f"{H.EST}/%2e%2e/cacerts"), expect(404)),
    raw_case("encoded-slash-label", "routing", get(f"{H.EST}/..%2fcacerts"), expect(404)),
    raw_case("encoded-slash-in-label", "routing", get(f"{H.EST}/a%2fb/cacerts"), expect(404)),
    raw_case("double-encoded-dotdot", "routing", get(f"{H.EST}/%252e%252e/cacerts"),
             expect(404)),
    raw_case("nul-in-label", "routing", get(f"{H.EST}/%00/cacerts"), expect(404)),
    raw_case("over-long-label", "routing", get(f"{H.EST}/{'a' * 65}/cacerts"), expect(404)),
    # -- header injection (RFC 9112 2.2, 5)
    raw_case("crlf-in-path", "injection",
             get(f"{H.EST}/x%0d%0aSet-Cookie:%20a=b/cacerts"),
             expect(404, absent="Set-Cookie")),
    raw_case("bare-cr-in-header", "injection",
             b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nX-A: a\rSet-Cookie: b\r\n\r\n",
             expect(400, close=True, absent="Set-Cookie")),
    http_case("cr-in-authorization", "injection",
              enroll_with(H.AUTH + "\rX-Injected: 1"), expect(400, close=True)),
    raw_case("invalid-content-length", "injection",
             H.http_bytes("POST", f"{H.EST}/simpleenroll",
                          headers=_post_headers([("Content-Length", "12abc")]), clen=False),
             expect(400, close=True)),
    raw_case("content-length-and-chunked", "injection",
             H.http_bytes("POST", f"{H.EST}/simpleenroll",
                          headers=_post_headers([("Content-Length", "5"),
                                                 ("Transfer-Encoding", "chunked")]),
                          body=b"0\r\n\r\n", clen=False), expect(400, close=True)),
    raw_case("bad-request-line", "injection", b"GARBAGE\r\n\r\n", expect(400, close=True)),
    # libevent ends a header value at a NUL (docs/security.md, known limits)
    raw_case("nul-in-header-value", "injection",
             b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n",
             expect(200)),
    raw_case("http-version-2", "injection",
             b"GET /.well-known/est/cacerts HTTP/2.0\r\nHost: x\r\n\r\n",
             expect(400, close=True)),
    # -- HTTP Basic (RFC 7617)
    basic_case("basic-huge-credentials", "Basic " + "QUFB" * 3000),
    basic_case("basic-malformed-base64", "Basic !!!"),
    basic_case("basic-empty", "Basic "),
    basic_case("basic-no-colon", "Basic " + base64.b64encode(b"estuser").decode()),
    basic_case("basic-nul-in-user",
               "Basic " + base64.b64encode(f"{USER}\0:{PASSWORD}".encode()).decode()),
    basic_case("basic-wrong-password",
               "Basic " + base64.b64encode(f"{USER}:wrong".encode()).decode(), every=50),
    basic_case("unknown-scheme", "Bearer abc.def"),
    http_case("csrattrs-malformed-credentials", "basic",
              lambda m: get(f"{H.EST}/csrattrs", [("Authorization", "Basic !!!")]),
              expect(401)),
    # -- HTTP Digest (RFC 7616)
    Case("digest-forged-nonce", "digest", _digest_forged),
    Case("digest-replayed-nonce", "digest", _digest_replay),
    Case("digest-stale-nonce", "digest", _digest_stale),
    Case("digest-wrong-password", "digest", _digest_wrong_password),
    # -- TLS client certificates (RFC 7030 3.3.2) and re-enrollment (4.2.2)
    Case("client-cert-untrusted-ca", "tls", _client_cert("untrusted"), every=5),
    Case("client-cert-expired", "tls", _client_cert("expired"), every=5),
    http_case("reenroll-other-identity", "tls",
              lambda m: H.enroll_bytes(m.bodies["bob"], auth=None, op="simplereenroll"),
              expect(400), client="alice"),
    http_case("reenroll-without-client-cert", "tls",
              lambda m: H.enroll_bytes(m.good, op="simplereenroll"), expect(403), every=50),
    Case("tls-1.0-refused", "tls", _old_tls(ssl.TLSVersion.TLSv1), every=5),
    Case("tls-1.1-refused", "tls", _old_tls(ssl.TLSVersion.TLSv1_1), every=5),
    Case("plain-http-to-tls-port", "tls",
         _raw_tcp(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n"), every=5),
    Case("garbage-instead-of-client-hello", "tls", _raw_tcp(b"\x16\x03\x01\xff\xff" + b"\0" * 200),
         every=5),
    # -- clients that go away
    Case("disconnect-mid-handshake", "disconnect", _raw_tcp(_client_hello_prefix()), every=5),
    Case("disconnect-mid-headers", "disconnect",
         _disconnect_tls(b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nContent-"),
         every=5),
    Case("disconnect-mid-body", "disconnect",
         _disconnect_tls(H.http_bytes("POST", f"{H.EST}/simpleenroll",
                                      headers=_post_headers([("Content-Length", "4000")]),
                                      body=b"MIIB" * 100, clen=False)), every=5),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case_then_normal_enrollment(mat, case):
    cl = Clients(mat)
    try:
        case.run(mat, cl)
    finally:
        cl.close()
    assert mat.srv.running(), mat.srv.log_tail()
    enroll_ok(mat)


def test_catalogue_has_at_least_40_cases():
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


# ---- resources: the cheap cases, many times over -----------------------------------------

def _rep_worker(m, cases, reps, errors):
    cl = Clients(m)
    try:
        for k in range(reps):
            for case in cases:
                if k % case.every == 0:
                    case.run(m, cl)
    except BaseException:  # noqa: BLE001 - reported by the main thread
        errors.append(traceback.format_exc(limit=-3))
    finally:
        cl.close()


def _run_reps(m, cases, reps, threads=4):
    errors = []
    per = [reps // threads + (1 if i < reps % threads else 0) for i in range(threads)]
    ts = [threading.Thread(target=_rep_worker, args=(m, cases, n, errors)) for n in per if n]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:5]


def test_rss_does_not_grow_over_repeated_catalogue(mat):
    cheap = [c for c in CASES if c.cheap]
    pid = mat.srv.proc.pid
    warm = max(1, min(50, REPS // 10))
    _run_reps(mat, cheap, warm)
    enroll_ok(mat)
    rss0, fds0 = H.rss_kib(pid), H.open_fds(pid)
    t0 = time.monotonic()
    _run_reps(mat, cheap, REPS)
    took = time.monotonic() - t0
    enroll_ok(mat)
    # the connections the clients closed are freed as estd's loops see the
    # closes (slowly under a sanitizer): wait for that, then measure
    wait_for(lambda: H.open_fds(pid) <= fds0 + 8, timeout=30)
    rss1, fds1 = H.rss_kib(pid), H.open_fds(pid)
    print(f"\nhostile catalogue: {len(cheap)} cases x {REPS} reps in {took:.1f} s; "
          f"VmRSS {rss0} -> {rss1} KiB; fds {fds0} -> {fds1}")
    assert fds1 <= fds0 + 8, (fds0, fds1)
    if not SANITIZED:
        assert rss1 - rss0 <= RSS_BOUND_KIB, \
            f"VmRSS grew {rss1 - rss0} KiB over {REPS} reps ({rss0} -> {rss1})"


# ---- slowloris and connection floods ----------------------------------------------------

def _slow_senders(port, n, stop, opened):
    """n TLS connections that send a request one byte a second."""
    socks = []
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = H.http_bytes("GET", f"{H.EST}/cacerts", headers=[("X-Pad", "p" * 200)])
    for _ in range(n):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        socks.append(ctx.wrap_socket(raw))
    opened.set()
    i = 0
    while not stop.is_set() and i < len(req) - 4:
        for s in socks:
            try:
                s.send(req[i:i + 1])
            except OSError:
                pass
        i += 1
        stop.wait(1.0)
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def test_slowloris_does_not_delay_a_legitimate_enrollment(mat):
    stop, opened = threading.Event(), threading.Event()
    t = threading.Thread(target=_slow_senders, args=(mat.srv.port, 300, stop, opened))
    t.start()
    try:
        assert opened.wait(60), "could not open the slow connections"
        time.sleep(2.5)                          # a few bytes into every request
        t0 = time.monotonic()
        out = Path(str(mat.srv.root)) / "loris"
        env = base_env(EST_PASSWORD=PASSWORD)
        ok([EST, "enroll", "--server", mat.srv.url, "--cacert", mat.srv.ca, "--user", USER,
            "--subject", "/CN=during-slowloris", "--out", out], env=env)
        took = time.monotonic() - t0
        assert took < 5, f"enrollment took {took:.1f} s under slowloris"
    finally:
        stop.set()
        t.join()
    assert mat.srv.running()
    enroll_ok(mat)


@pytest.fixture
def small_server(tmp_path):
    srv = Estd(tmp_path).init()
    set_ini(srv.conf, "server", "max_connections", "16")
    set_ini(srv.conf, "server", "io_threads", "2")
    set_ini(srv.conf, "server", "timeout", "3")
    srv.start()
    yield srv
    srv.teardown()


def test_too_many_connections_are_queued_and_server_survives(small_server):
    """At max_connections the listeners pause: further connections wait in
    the backlog (their handshakes do not complete) and are served once
    slots free up; the server never falls over."""
    srv = small_server
    ctx = ssl.create_default_context(cafile=str(srv.ca))
    ctx.check_hostname = False
    held = []
    for _ in range(16):
        held.append(ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port),
                                                             timeout=10)))
    extra = []
    for _ in range(64):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.setblocking(False)
        extra.append(s)
    # a queued connection gets no ServerHello while the slots are taken
    probe = socket.create_connection(("127.0.0.1", srv.port), timeout=1.5)
    with pytest.raises((socket.timeout, TimeoutError, ssl.SSLError)):
        ctx.wrap_socket(probe)
    probe.close()
    assert srv.running()
    for s in held + extra:
        s.close()
    # slots free up: a client is served promptly again
    t0 = time.monotonic()
    c = H.Client(srv.port, srv.ca)
    r = c.raw(get(f"{H.EST}/cacerts"), keep=False)
    assert r.status == 200, r
    assert time.monotonic() - t0 < 5
    assert srv.running()
