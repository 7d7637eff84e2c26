"""Several estd nodes on one PostgreSQL store (DESIGN.md 7): two estd
processes on different ports share one database, one CA and one Digest
secret. Enrollments through both get unique serials; a request pended on
node A is approved with `estd requests approve` and collected through node
B; a Digest nonce issued by A works on B and a nonce-count replay is
refused on either node; a one-time token made with `estd token create`
enrolls once through A and is refused on B, and of many enrollments racing
with one token across both nodes exactly one is issued; a PostgreSQL
restart gives 503 meanwhile and estd recovers by itself; with every
connection of the pool taken, a request waits [store] pool_wait seconds and
gets 503 with Retry-After; a Digest request whose nonce-count cannot be
checked while PostgreSQL is down gets 503, not 401. The PostgreSQL
server is started by the test (pg_util.py), as nobody when running as
root."""

import base64
import concurrent.futures
import http.client
import json
import shutil
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

import pg_util
from e2e_util import (ESTD, PASSWORD, USER, Estd, cert_serial, curl, describe, free_port,
                      make_csr, norm_serial, ok, p7_to_pem, run, set_ini, sh, verify,
                      wait_for)
from test_digest import ENROLL, DigestClient, csr_b64
from test_tokens import create as token_create
from test_tokens import est_otp, tokens

AUTH = f"{USER}:{PASSWORD}"
P10 = "application/pkcs10"
MANUAL = "manual"
_DB = [0]


@pytest.fixture(scope="module")
def pg():
    pg_util.require()
    srv = pg_util.PgServer().init().start()
    yield srv
    srv.destroy()


@pytest.fixture
def nodes(pg, tmp_path):
    """Nodes A and B: one directory (CA key, users, digest.key), one database, two ports."""
    _DB[0] += 1
    conninfo = pg.createdb(f"estd_nodes_{_DB[0]}")
    a = Estd(tmp_path, name="a").init()
    set_ini(a.conf, "store", "path", conninfo)
    set_ini(a.conf, f"label {MANUAL}", "profile", "default")
    set_ini(a.conf, f"label {MANUAL}", "approval", "manual")
    set_ini(a.conf, f"label {MANUAL}", "retry_after", "1")
    b = Estd(tmp_path, name="a")
    b.conf, b.port, b.log = a.dir / "estd-b.conf", free_port(), tmp_path / "b-estd.log"
    shutil.copy(a.conf, b.conf)
    set_ini(b.conf, "server", "listen", f"127.0.0.1:{b.port}")
    started = []
    try:
        for n in (a, b):
            n.start()
            started.append(n)
        yield a, b, conninfo
    finally:
        for n in started:
            if n.running():
                n.teardown()


def _db(conninfo):
    return conninfo.rsplit("/", 1)[1]


def _b64(work, name, subj=None):
    der, _ = make_csr(work, name, der=True, subj=subj)
    out = work / f"{name}.b64"
    ok(["openssl", "base64", "-in", der, "-out", out])
    return out


def _enroll(node, work, b64, label=None):
    sub = work / b64.stem
    sub.mkdir(exist_ok=True)
    return curl(node.est_url("simpleenroll", label), sub, cafile=node.ca, user=AUTH,
                data_file=b64, ctype=P10)


def _csr_body(work, name, subj):
    """A PEM CSR's base64 lines, the body of a simpleenroll POST."""
    csr, _ = make_csr(work, name, subj=subj)
    return "".join(l for l in Path(csr).read_text().splitlines() if "-----" not in l).encode()


def _serial_of(work, r, name):
    (work / f"{name}.p7").write_bytes(r.body)
    pem = p7_to_pem(work / f"{name}.p7", work / f"{name}.pem")
    return pem, cert_serial(pem)


def test_concurrent_enrollments_through_two_nodes_get_unique_serials(pg, nodes, work):
    a, b, conninfo = nodes

    def one(i):
        """CSR, enrollment through A (even) or B (odd), serial of the answer."""
        r = _enroll(a if i % 2 == 0 else b, work, _b64(work, f"dev{i}"))
        assert r.status == 200, r
        (work / f"dev{i}.p7").write_bytes(r.body)
        cp = sh(f"openssl base64 -d -in dev{i}.p7 | openssl pkcs7 -inform DER -print_certs"
                f" | tee dev{i}.pem | openssl x509 -noout -serial", cwd=work)
        assert cp.returncode == 0, describe(cp)
        return norm_serial(cp.stdout)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        serials = list(ex.map(one, range(40)))
    pem = work / "dev0.pem"
    verify(a.ca, pem)
    assert len(set(serials)) == 40, serials
    # every certificate is in the shared database, whichever node issued it
    listed = {c["serial"].lower().lstrip("0") for c in b.certs()}
    assert set(serials) <= listed, (serials, listed)
    count = pg.psql("SELECT count(*) FROM certs WHERE op = 'simpleenroll'", db=_db(conninfo))
    assert int(count) == 40, count
    # revocation and CRL numbers through the other node's view of the same store
    cp = ok([ESTD, "certs", "revoke", serials[0], "-c", b.conf])
    assert run([ESTD, "certs", "revoke", serials[0], "-c", a.conf]).returncode != 0
    ok([ESTD, "crl", "-c", a.conf, "--out", work / "1.crl"])
    ok([ESTD, "crl", "-c", b.conf, "--out", work / "2.crl"])
    text = ok(["openssl", "crl", "-in", work / "2.crl", "-noout", "-text"]).stdout
    assert "X509v3 CRL Number: \n                2" in text, text
    assert serials[0].upper() in text.upper().replace(":", ""), (cp.stdout, text)


def test_request_pended_on_a_is_approved_by_the_operator_and_collected_on_b(pg, nodes, work):
    a, b, conninfo = nodes
    b64 = _b64(work, "held")
    r = _enroll(a, work, b64, MANUAL)
    assert r.status == 202, r
    assert r.header("Retry-After") == ["1"], r
    pending = json.loads(ok([ESTD, "requests", "list", "--json", "--status", "pending",
                             "-c", b.conf]).stdout)
    assert len(pending) == 1, pending
    # the operator's command reads the PostgreSQL store from the config
    cp = ok([ESTD, "requests", "approve", str(pending[0]["id"]), "-c", a.conf])
    assert run([ESTD, "requests", "approve", str(pending[0]["id"]),
                "-c", b.conf]).returncode != 0, describe(cp)   # decided once only
    r = _enroll(b, work, b64, MANUAL)
    assert r.status == 200, r
    pem, serial = _serial_of(work, r, "held-b")
    verify(a.ca, pem)
    r = _enroll(a, work, b64, MANUAL)                    # collected already: the same one
    assert r.status == 200, r
    assert _serial_of(work, r, "held-a")[1] == serial
    row = pg.psql("SELECT status, serial FROM requests", db=_db(conninfo)).strip()
    assert row.startswith("issued|") and row.split("|")[1].lstrip("0") == serial, row


def test_digest_nonce_of_a_works_on_b_and_replays_are_refused_on_both(pg, nodes, work):
    a, b, conninfo = nodes
    ca_, cb_ = DigestClient(a), DigestClient(b)
    body = csr_b64(work, "dg")
    ch = ca_.nonce(body)

    def authz(nc):
        return DigestClient.authz("SHA-256", USER, PASSWORD, ch["realm"], ch["nonce"], ENROLL,
                                  nc=nc)

    st, _, data = cb_.post(ENROLL, body, authz("00000001"))
    assert st == 200, data                               # A's nonce, accepted by B
    st, www, _ = ca_.post(ENROLL, body, authz("00000001"))
    assert st == 401, www                                # replayed on the other node
    st, _, data = ca_.post(ENROLL, body, authz("00000002"))
    assert st == 200, data
    for cl in (ca_, cb_):                                # a lower or equal count: refused
        st, www, _ = cl.post(ENROLL, body, authz("00000002"))
        assert st == 401, www
    rows = pg.psql("SELECT nc FROM digest_nonces", db=_db(conninfo)).split()
    assert rows == ["2"], rows
    assert "nonce count replayed" in a.log_text() + b.log_text()


def test_token_enrolls_once_through_a_and_is_refused_on_b(pg, nodes, work):
    a, b, conninfo = nodes
    tid, secret = token_create(a, "CN=pgdev1", "DNS:pgdev1.example", expires="1h")
    assert tokens(b)[tid]["state"] == "unused"           # B's config reads the same store
    stored = pg.psql(f"SELECT hash FROM tokens WHERE id = '{tid}'", db=_db(conninfo)).strip()
    assert len(stored) == 64 and secret.split(".")[1] not in stored, stored  # only a hash
    cp = est_otp(a, work / "o1", secret, "CN=pgdev1", "DNS:pgdev1.example")
    assert cp.returncode == 0, describe(cp)
    verify(a.ca, work / "o1" / "cert.pem")
    t = tokens(b)[tid]
    assert t["state"] == "used" and t["serial"], t
    rec = b.cert_record(t["serial"])
    assert rec is not None and rec["requester"] == f"token:{tid}", rec
    # the same secret through the other node: the sqlite path's answer, 403 already used
    cp = est_otp(b, work / "o2", secret, "CN=pgdev1", "DNS:pgdev1.example")
    assert cp.returncode != 0 and "403" in cp.stderr and "already used" in cp.stderr, \
        describe(cp)
    assert not (work / "o2" / "cert.pem").exists()
    assert wait_for(lambda: f"token {tid} is already used" in b.log_text()), b.log_tail()


def test_token_list_and_revoke_on_the_shared_store(pg, nodes, work):
    a, b, conninfo = nodes
    tid, secret = token_create(a, "CN=pgrev")
    other, _ = token_create(b, "CN=pgkeep")
    listed = tokens(a)
    assert set(listed) == {tid, other}, listed
    assert listed[tid]["subject"] == "CN=pgrev" and listed[tid]["state"] == "unused", listed
    ok([ESTD, "token", "revoke", tid, "-c", b.conf])
    assert tokens(a)[tid]["state"] == "revoked"
    assert tokens(a)[other]["state"] == "unused"
    cp = run([ESTD, "token", "revoke", tid, "-c", a.conf])
    assert cp.returncode != 0 and "already used or revoked" in cp.stderr, describe(cp)
    cp = run([ESTD, "token", "revoke", "00000000000000ff", "-c", a.conf])
    assert cp.returncode != 0 and "no such token" in cp.stderr, describe(cp)
    cp = run([ESTD, "token", "revoke", "bad id", "-c", a.conf])
    assert cp.returncode != 0 and "invalid token id" in cp.stderr, describe(cp)
    for n in (a, b):                                     # revoked: refused on both nodes
        cp = est_otp(n, work / f"r-{n.port}", secret, "CN=pgrev")
        assert cp.returncode != 0 and "403" in cp.stderr and "revoked" in cp.stderr, \
            describe(cp)
    row = pg.psql(f"SELECT used_at, revoked_at > 0 FROM tokens WHERE id = '{tid}'",
                  db=_db(conninfo)).strip()
    assert row == "0|t", row
    text = ok([ESTD, "token", "list", "-c", b.conf]).stdout
    assert tid in text and "revoked" in text, text


RACERS = 24


def test_one_token_racing_across_both_nodes_issues_exactly_once(pg, nodes, work):
    a, b, conninfo = nodes
    tid, secret = token_create(a, "CN=pgrace")
    basic = "Basic " + base64.b64encode(f"token:{secret}".encode()).decode()
    conns, bodies = [], []
    for i in range(RACERS):
        node = a if i % 2 == 0 else b
        bodies.append(_csr_body(work, f"race{i}", "/CN=pgrace"))
        conns.append(http.client.HTTPSConnection(
            "127.0.0.1", node.port, timeout=60,
            context=ssl.create_default_context(cafile=str(node.ca))))
    for c in conns:                                      # handshakes first: then all at once
        c.connect()
    go = threading.Barrier(RACERS)
    results = [None] * RACERS

    def one(i):
        go.wait()
        conns[i].request("POST", ENROLL, body=bodies[i],
                         headers={"Content-Type": P10, "Authorization": basic})
        resp = conns[i].getresponse()
        results[i] = (resp.status, resp.read())
        conns[i].close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r[0] for r in results)
    assert codes == [200] + [403] * (RACERS - 1), results
    count = pg.psql(f"SELECT count(*) FROM certs WHERE requester = 'token:{tid}'",
                    db=_db(conninfo))
    assert int(count) == 1, count
    (work / "race-winner.p7").write_bytes(next(r[1] for r in results if r[0] == 200))
    serial = cert_serial(p7_to_pem(work / "race-winner.p7", work / "race-winner.pem"))
    t = tokens(b)[tid]
    assert t["state"] == "used" and norm_serial(t["serial"]) == norm_serial(serial), (t, serial)


def test_unreachable_postgresql_at_start_is_a_clear_error(tmp_path):
    srv = Estd(tmp_path, name="down").init()
    set_ini(srv.conf, "store", "path",
            f"postgresql://estd:s3cret@127.0.0.1:{free_port()}/estd?connect_timeout=3")
    cp = run([ESTD, "run", "-c", srv.conf], timeout=30)
    assert cp.returncode != 0, describe(cp)
    assert "cannot connect to PostgreSQL" in cp.stderr, describe(cp)
    assert "s3cret" not in cp.stderr, describe(cp)       # the password is not echoed


@pytest.mark.parametrize("uri", [
    "postgresql://estd:s3cret@[::1/estd",                     # libpq quotes the whole URI
    "postgresql://estd:s3/cret@127.0.0.1:1/estd",             # and a piece it took for a port
    "postgresql://estd:s3cret%zz@127.0.0.1:1/estd",
    "postgresql://127.0.0.1:1/estd?password=s3cret&bogus",
    "postgresql:estd:s3cret@127.0.0.1/estd",
])
def test_malformed_postgresql_uri_messages_hide_the_password(tmp_path, uri):
    srv = Estd(tmp_path, name="bad").init()
    set_ini(srv.conf, "store", "path", uri)
    for args in (["run"], ["certs", "list"]):
        cp = run([ESTD, *args, "-c", srv.conf], timeout=30)
        assert cp.returncode != 0, describe(cp)
        assert "s3" not in cp.stderr + cp.stdout and "cret" not in cp.stderr, describe(cp)
        # hidden, or refused by the configuration without being echoed
        assert "***" in cp.stderr or "is written postgresql://" in cp.stderr, describe(cp)


def test_postgresql_restart_gives_503_meanwhile_and_estd_recovers(pg, nodes, work):
    a, b, _ = nodes
    assert _enroll(a, work, _b64(work, "before")).status == 200
    pg.stop()
    try:
        for i, n in enumerate((a, b)):
            r = _enroll(n, work, _b64(work, f"down{i}"))
            assert r.status == 503, r
            assert r.header("Retry-After"), r
    finally:
        pg.start()
    for i, n in enumerate((a, b)):
        b64 = _b64(work, f"after{i}")
        r = wait_for(lambda: (lambda x: x if x.status == 200 else None)(
            _enroll(n, work, b64)), timeout=20, interval=0.5)
        assert r, f"node {i} did not recover\n{n.log_tail()}"
    assert "PostgreSQL unavailable" in a.log_text() + b.log_text()


def test_all_connections_busy_gives_503_after_pool_wait(pg, tmp_path, work):
    """[store] connections = 1, pool_wait = 1: while one enrollment holds the
    only connection (its statement waits on a table lock the test holds), a
    second one is answered 503 with Retry-After after about a second; the
    first completes once the lock is gone."""
    _DB[0] += 1
    db = f"estd_pool_{_DB[0]}"
    srv = Estd(tmp_path, name="pool").init()
    set_ini(srv.conf, "store", "path", pg.createdb(db))
    set_ini(srv.conf, "store", "connections", "1")
    set_ini(srv.conf, "store", "pool_wait", "1")
    srv.start()
    locker, first = None, {}
    try:
        assert _enroll(srv, work, _b64(work, "warm")).status == 200
        locker = subprocess.Popen(
            [str(pg.bin / "psql"), "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p",
             str(pg.port), "-U", pg.USER, "-d", db], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env=pg._env())
        locker.stdin.write("BEGIN; LOCK TABLE certs IN ACCESS EXCLUSIVE MODE; "
                           "SELECT 'locked';\n")
        locker.stdin.flush()
        assert locker.stdout.readline().strip() == "locked"
        held = threading.Thread(
            target=lambda: first.update(r=_enroll(srv, work, _b64(work, "held"))))
        held.start()
        waiting = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'estd'"
                   " AND wait_event_type = 'Lock'")
        assert wait_for(lambda: pg.psql(waiting, db=db).strip() == "1", timeout=20), \
            srv.log_tail()
        b64 = _b64(work, "second")
        t0 = time.monotonic()
        r = _enroll(srv, work, b64)
        took = time.monotonic() - t0
        assert r.status == 503, r
        assert r.header("Retry-After"), r
        assert 0.9 <= took < 6, took
        assert wait_for(lambda: "stayed busy for 1 s" in srv.log_text()), srv.log_tail()
        locker.stdin.write("COMMIT;\n")
        locker.stdin.close()
        assert locker.wait(timeout=30) == 0
        locker = None
        held.join(timeout=60)
        assert first["r"].status == 200, first
        assert _enroll(srv, work, b64).status == 200     # the pool is free again
    finally:
        if locker is not None:
            locker.kill()
            locker.wait()
        srv.teardown()


def test_digest_with_the_store_down_is_503_not_401(pg, nodes, work):
    """The shared nonce-count check needs PostgreSQL: while it is down a
    correct Digest response gets 503 with Retry-After and no challenge (not
    401, not a failed login); once it is back the count, never recorded, is
    accepted, and then it is a replay (401)."""
    a, _, _ = nodes
    cl = DigestClient(a)
    body = csr_b64(work, "dgdown")
    ch = cl.nonce(body)                                  # a challenge needs no store

    def authz(nc):
        return DigestClient.authz("SHA-256", USER, PASSWORD, ch["realm"], ch["nonce"], ENROLL,
                                  nc=nc)

    pg.stop()
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", a.port, context=cl.ctx, timeout=30)
        conn.request("POST", ENROLL, body=body,
                     headers={"Content-Type": P10, "Authorization": authz("00000001")})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 503, resp.status
        assert resp.headers.get("Retry-After"), dict(resp.headers)
        assert not resp.headers.get_all("WWW-Authenticate"), dict(resp.headers)
    finally:
        pg.start()
    assert "digest nonce-count check failed" in a.log_text(), a.log_tail()
    assert "nonce-count store unavailable" in a.log_text(), a.log_tail()
    st = wait_for(lambda: (lambda x: x if x == 200 else None)(
        cl.post(ENROLL, body, authz("00000001"))[0]), timeout=20, interval=0.5)
    assert st == 200, a.log_tail()
    st, www, _ = cl.post(ENROLL, body, authz("00000001"))
    assert st == 401 and www, (st, www)
