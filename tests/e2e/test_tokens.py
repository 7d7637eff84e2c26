"""One-time enrollment tokens: `estd token create` prints a secret that
works for exactly one enrollment matching its label, subject and SANs, as
the CSR's otpChallenge (est enroll --otp, RFC 7894) or as the HTTP Basic
password of the user "token"; used, expired, revoked, wrong-subject and
wrong-label tokens are refused; the issued certificate then re-enrolls."""

import sqlite3
import threading

import pytest

from conftest import serving
from e2e_util import (EST, ESTD, Estd, curl, describe, make_csr, ok, run, set_ini,
                      wait_for)

P10 = "application/pkcs10"


@pytest.fixture(scope="module")
def tsrv(tmp_path_factory):
    srv = Estd(tmp_path_factory.mktemp("tokens")).init()
    set_ini(srv.conf, "label", "profile", "default")
    set_ini(srv.conf, "label routers", "san_pattern", "DNS:*.routers.example")
    yield from serving(srv)


def create(srv, subject, *sans, label="", expires=None):
    args = [ESTD, "token", "create", "-c", srv.conf, "--label", label, "--subject", subject]
    for s in sans:
        args += ["--san", s]
    if expires:
        args += ["--expires", expires]
    lines = ok(args).stdout.strip().splitlines()
    secret = lines[-1]
    tid = secret.split(".")[0]
    assert lines[0].startswith(f"token {tid}"), lines
    return tid, secret


def tokens(srv):
    import json
    return {t["id"]: t for t in json.loads(ok([ESTD, "token", "list", "--json", "-c",
                                              srv.conf]).stdout)}


def est_otp(srv, out, secret, subject, *sans, label=None):
    args = [EST, "enroll", "--server", srv.url + (f"/{label}" if label else ""),
            "--cacert", srv.ca, "--otp", secret, "--subject", subject, "--out", out]
    for s in sans:
        args += ["--san", s]
    return run(args)


def basic_post(srv, work, secret, subj, name, label=None):
    csr, _ = make_csr(work, name, subj=subj, der=True)
    b64 = work / f"{name}.b64"
    ok(["openssl", "base64", "-in", csr, "-out", b64])
    return curl(srv.est_url("simpleenroll", label), work, cafile=srv.ca,
                user=f"token:{secret}", data_file=b64, ctype=P10)


def test_token_enrolls_once_then_reenroll_with_cert(tsrv, work):
    tid, secret = create(tsrv, "CN=dev1", "DNS:dev1.example", expires="1h")
    assert tokens(tsrv)[tid]["state"] == "unused"
    db = sqlite3.connect(tsrv.dir / "estd.db")
    stored = db.execute("SELECT hash FROM tokens WHERE id = ?", (tid,)).fetchone()[0]
    db.close()
    assert secret not in stored and secret.split(".")[1] not in stored  # only a hash
    cp = est_otp(tsrv, work / "o1", secret, "CN=dev1", "DNS:dev1.example")
    assert cp.returncode == 0, describe(cp)
    t = tokens(tsrv)[tid]
    assert t["state"] == "used" and t["serial"], t
    rec = tsrv.cert_record(t["serial"])
    assert rec is not None and rec["requester"] == f"token:{tid}", rec
    # the second use: refused, whether as otpChallenge or as Basic password
    cp = est_otp(tsrv, work / "o2", secret, "CN=dev1", "DNS:dev1.example")
    assert cp.returncode != 0 and "403" in cp.stderr and "already used" in cp.stderr, \
        describe(cp)
    r = basic_post(tsrv, work, secret, "/CN=dev1", "again")
    assert r.status == 403, r
    # re-enrollment authenticates with the issued certificate, as always
    cp = run([EST, "reenroll", "--server", tsrv.url, "--cacert", tsrv.ca,
              "--cert", work / "o1" / "cert.pem", "--key", work / "o1" / "key.pem",
              "--out", work / "o3"])
    assert cp.returncode == 0, describe(cp)


def test_basic_user_token_works_too(tsrv, work):
    _, secret = create(tsrv, "CN=dev2")
    r = basic_post(tsrv, work, secret, "/CN=dev2", "b1")
    assert r.status == 200, r


def test_token_user_enrolls_with_est_following_csrattrs(tsrv, work):
    """est enroll asks /csrattrs first (its default) with the token's Basic
    credentials: that request is anonymous - the token is neither checked nor
    used there, and it is not a failed login (401) - and the enrollment then
    uses it."""
    tid, secret = create(tsrv, "CN=dev-csrattrs")
    pw = work / "otp"
    pw.write_text(secret + "\n")
    pw.chmod(0o600)
    r = curl(tsrv.est_url("csrattrs"), work, cafile=tsrv.ca, user=f"token:{secret}")
    assert r.status in (200, 204), r
    r = curl(tsrv.est_url("csrattrs"), work, cafile=tsrv.ca, user="token:not-a-token")
    assert r.status in (200, 204), r
    assert tokens(tsrv)[tid]["state"] == "unused"
    asked = tsrv.log_text().count("path=/.well-known/est/csrattrs label=- identity=anonymous")
    cp = run([EST, "enroll", "--server", tsrv.url, "--cacert", tsrv.ca, "--user", "token",
              "--password-file", pw, "--subject", "CN=dev-csrattrs", "--out", work / "o"])
    assert cp.returncode == 0, describe(cp)
    assert tokens(tsrv)[tid]["state"] == "used"
    log = tsrv.log_text()
    assert log.count("path=/.well-known/est/csrattrs label=- identity=anonymous") > asked, \
        tsrv.log_tail(10)
    assert "path=/.well-known/est/csrattrs label=- identity=anonymous status=401" not in log


def test_token_user_on_required_csrattrs_is_anonymous(work, tmp_path):
    """With csrattrs_auth = required a token holder is not let in (it is not a
    user), and gets the same 401 as anyone anonymous; the token stays unused."""
    srv = Estd(tmp_path).init()
    set_ini(srv.conf, "label", "csrattrs_auth", "required")
    srv.start()
    try:
        tid, secret = create(srv, "CN=dev-req")
        r = curl(srv.est_url("csrattrs"), work, cafile=srv.ca, user=f"token:{secret}")
        assert r.status == 401 and "www-authenticate" in r.headers.lower(), r
        assert tokens(srv)[tid]["state"] == "unused"
    finally:
        srv.teardown()


@pytest.mark.parametrize("case", ["subject", "san", "label", "expired", "revoked"])
def test_token_refused_outside_its_constraints(tsrv, work, case):
    label = "routers" if case == "label" else ""
    tid, secret = create(tsrv, "CN=c1", "DNS:c1.routers.example", label=label)
    subject, sans, use_label = "CN=c1", ["DNS:c1.routers.example"], None
    if case == "subject":
        subject = "CN=other"
    elif case == "san":
        sans = ["DNS:c1.routers.example", "DNS:extra.example"]
    elif case == "label":
        use_label = None  # made for label routers, used on the default label
    elif case == "expired":
        db = sqlite3.connect(tsrv.dir / "estd.db")
        db.execute("UPDATE tokens SET expires_at = 1 WHERE id = ?", (tid,))
        db.commit()
        db.close()
    elif case == "revoked":
        ok([ESTD, "token", "revoke", tid, "-c", tsrv.conf])
    cp = est_otp(tsrv, work / "o", secret, subject, *sans, label=use_label)
    assert cp.returncode != 0 and "403" in cp.stderr, describe(cp)
    assert tokens(tsrv)[tid]["state"] in ("unused", "expired", "revoked")
    assert wait_for(lambda: f"token {tid}" in tsrv.log_text()), tsrv.log_tail()


def test_refused_request_gives_the_token_back(tsrv, work):
    tid, secret = create(tsrv, "CN=k1")
    csr, _ = make_csr(work, "weak", subj="/CN=k1", key="rsa:1024", der=True)
    b64 = work / "weak.b64"
    ok(["openssl", "base64", "-in", csr, "-out", b64])
    r = curl(tsrv.est_url("simpleenroll"), work, cafile=tsrv.ca, user=f"token:{secret}",
             data_file=b64, ctype=P10)
    assert r.status == 400, r  # the profile refuses the key: nothing issued
    assert tokens(tsrv)[tid]["state"] == "unused"
    assert est_otp(tsrv, work / "ok", secret, "CN=k1").returncode == 0


def test_wrong_or_missing_secret_is_401(tsrv, work):
    tid, secret = create(tsrv, "CN=w1")
    bad = secret[:-4] + ("0000" if not secret.endswith("0000") else "1111")
    r = basic_post(tsrv, work, bad, "/CN=w1", "w1")
    assert r.status == 401 and r.header("WWW-Authenticate"), r
    cp = est_otp(tsrv, work / "o", "not-a-token", "CN=w1")
    assert cp.returncode != 0 and "401" in cp.stderr, describe(cp)
    assert tokens(tsrv)[tid]["state"] == "unused"


def test_token_create_refuses_names_the_label_forbids(tsrv):
    cp = run([ESTD, "token", "create", "-c", tsrv.conf, "--label", "routers",
              "--subject", "CN=x", "--san", "DNS:x.elsewhere.example"])
    assert cp.returncode != 0 and "san_pattern" in cp.stderr, describe(cp)
    cp = run([ESTD, "token", "create", "-c", tsrv.conf, "--label", "nosuch",
              "--subject", "CN=x"])
    assert cp.returncode != 0 and "no label" in cp.stderr, describe(cp)
    cp = run([ESTD, "token", "create", "-c", tsrv.conf, "--label", "", "--subject", "CN=x",
              "--expires", "10y"])
    assert cp.returncode == 2, describe(cp)


def test_five_parallel_enrollments_one_token_exactly_one_wins(tsrv, work):
    _, secret = create(tsrv, "CN=race")
    csrs = []
    for i in range(5):
        d = work / f"r{i}"
        d.mkdir()
        csr, _ = make_csr(d, "race", subj="/CN=race", der=True)
        ok(["openssl", "base64", "-in", csr, "-out", d / "race.b64"])
        csrs.append(d)
    results = [None] * 5

    def one(i):
        d = csrs[i]
        results[i] = curl(tsrv.est_url("simpleenroll"), d, cafile=tsrv.ca,
                          user=f"token:{secret}", data_file=d / "race.b64", ctype=P10)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status for r in results)
    assert codes == [200, 403, 403, 403, 403], results
