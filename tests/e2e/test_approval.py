"""Manual approval (RFC 7030 4.2.3): a label with approval = manual answers
202 + Retry-After until an operator runs `estd requests approve|reject`;
the client repeats the same request to collect the certificate, which is
issued exactly once."""

import json
import signal
import subprocess

import pytest

from e2e_util import (EST, ESTD, PASSWORD, USER, base_env, cert_pubkey, cert_serial, curl,
                      describe, key_pubkey, make_csr, ok, p7_to_pem, run, set_ini, verify,
                      wait_for)

AUTH = f"{USER}:{PASSWORD}"
P10 = "application/pkcs10"
LABEL = "manual"


@pytest.fixture
def msrv(fresh_server):
    """A private estd with [label manual]: approval = manual, retry_after = 2."""
    srv = fresh_server
    set_ini(srv.conf, f"label {LABEL}", "profile", "default")
    set_ini(srv.conf, f"label {LABEL}", "approval", "manual")
    set_ini(srv.conf, f"label {LABEL}", "retry_after", "2")
    assert srv.stop() == 0
    srv.start()
    return srv


def _b64(work, der, name):
    b64 = work / f"{name}.b64"
    ok(["openssl", "base64", "-in", der, "-out", b64])
    return b64


def _post(srv, work, b64, label=LABEL):
    return curl(srv.est_url("simpleenroll", label), work, cafile=srv.ca, user=AUTH,
                data_file=b64, ctype=P10)


def _requests(srv, status="all"):
    cp = ok([ESTD, "requests", "list", "--json", "--status", status, "-c", srv.conf])
    data = json.loads(cp.stdout)
    assert isinstance(data, list), cp.stdout
    return data


def _decide(srv, *args):
    return run([ESTD, "requests", *args, "-c", srv.conf])


def _cert_of(work, r, name):
    (work / f"{name}.p7").write_bytes(r.body)
    return p7_to_pem(work / f"{name}.p7", work / f"{name}.pem")


def test_pending_until_approved_then_same_certificate_every_time(msrv, work):
    csr, _ = make_csr(work, "dev1", der=True, subj="/CN=dev1")
    b64 = _b64(work, csr, "dev1")

    r = _post(msrv, work, b64)
    assert r.status == 202, r
    assert r.header("Retry-After") == ["2"], r
    assert _post(msrv, work, b64).status == 202          # "the same request" again

    reqs = _requests(msrv)
    assert len(reqs) == 1, reqs                          # the repeat made no second row
    req = reqs[0]
    assert req["status"] == "pending" and req["label"] == LABEL, req
    assert req["subject"] == "CN=dev1" and req["requester"] == f"user:{USER}", req
    assert not [c for c in msrv.certs() if "dev1" in c["subject"]]   # nothing issued yet

    cp = _decide(msrv, "approve", str(req["id"]))
    assert cp.returncode == 0 and "approved" in cp.stdout, describe(cp)
    again = _decide(msrv, "approve", str(req["id"]))      # a decision is made once
    assert again.returncode == 1 and "not pending" in again.stderr, describe(again)

    r = _post(msrv, work, b64)
    assert r.status == 200, r
    pem = _cert_of(work, r, "c1")
    verify(msrv.ca, pem)
    serial = cert_serial(pem)

    r = _post(msrv, work, b64)                           # collected already: same cert
    assert r.status == 200, r
    assert cert_serial(_cert_of(work, r, "c2")) == serial

    mine = [c for c in msrv.certs() if "dev1" in c["subject"]]
    assert len(mine) == 1, mine
    assert mine[0]["requester"] == f"user:{USER}" and mine[0]["label"] == LABEL, mine
    done = _requests(msrv)[0]
    assert done["status"] == "issued" and done["decided_by"].startswith("operator:"), done
    assert int(done["serial"], 16) == int(serial.replace(":", ""), 16), (done, serial)
    assert _requests(msrv, "pending") == []


def test_rejected_request_gets_403_with_the_reason(msrv, work):
    csr, _ = make_csr(work, "evil", der=True)
    b64 = _b64(work, csr, "evil")
    assert _post(msrv, work, b64).status == 202
    rid = str(_requests(msrv, "pending")[0]["id"])

    cp = _decide(msrv, "reject", rid, "--reason", "unknown device")
    assert cp.returncode == 0, describe(cp)
    r = _post(msrv, work, b64)
    assert r.status == 403, r
    assert b"unknown device" in r.body, r
    assert _decide(msrv, "approve", rid).returncode == 1  # rejected stays rejected
    assert _post(msrv, work, b64).status == 403
    assert not [c for c in msrv.certs() if "evil" in c["subject"]]
    shown = _decide(msrv, "show", rid)
    assert shown.returncode == 0 and "rejected" in shown.stdout, describe(shown)


def test_profile_refusal_is_400_at_once_and_never_pending(msrv, work):
    csr, _ = make_csr(work, "weak", der=True, key="rsa:1024")
    r = _post(msrv, work, _b64(work, csr, "weak"))
    assert r.status == 400 and b"1024" in r.body, r
    assert _requests(msrv) == []


def test_default_label_still_issues_at_once(msrv, work):
    csr, _ = make_csr(work, "auto", der=True)
    r = _post(msrv, work, _b64(work, csr, "auto"), label=None)
    assert r.status == 200, r
    assert _requests(msrv) == []


@pytest.mark.parametrize("cmd", [
    ["requests", "approve", "999"], ["requests", "show", "0"], ["requests", "approve"],
    ["requests", "list", "--status", "bogus"], ["requests", "approve", "1", "--reason", "x"],
    ["requests", "frob"],
])
def test_bad_requests_commands_fail_clearly(msrv, cmd):
    cp = run([ESTD, *cmd, "-c", msrv.conf])
    assert cp.returncode in (1, 2), describe(cp)
    assert "estd: requests:" in cp.stderr, describe(cp)


def _est(srv, out, *extra):
    env = base_env()
    env["EST_PASSWORD"] = PASSWORD
    return [EST, "enroll", "--server", f"{srv.url}/{LABEL}", "--cacert", str(srv.ca),
            "--user", USER, "--subject", "/CN=waiter", "--out", str(out), *extra], env


def test_est_without_wait_exits_75_and_writes_nothing(msrv, work):
    out = work / "nowait"
    out.mkdir()
    args, env = _est(msrv, out)
    cp = run(args, env=env)
    assert cp.returncode == 75, describe(cp)
    assert list(out.iterdir()) == [], list(out.iterdir())


def test_est_wait_completes_after_approval_with_the_same_key(msrv, work):
    out = work / "wait"
    out.mkdir()
    args, env = _est(msrv, out, "--wait=30")
    proc = subprocess.Popen([str(a) for a in args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        pending = wait_for(lambda: _requests(msrv, "pending"), timeout=15)
        assert pending, "est --wait never reached the server"
        assert not (out / "key.pem").exists()             # nothing written while waiting
        assert _decide(msrv, "approve", str(pending[0]["id"])).returncode == 0
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (stdout, stderr)
    assert "pending, retrying in" in stdout, stdout
    verify(msrv.ca, out / "cert.pem")
    assert cert_pubkey(out / "cert.pem") == key_pubkey(out / "key.pem")
    assert len([r for r in _requests(msrv) if r["status"] == "issued"]) == 1


def test_est_wait_gives_up_after_max(msrv, work):
    out = work / "giveup"
    out.mkdir()
    args, env = _est(msrv, out, "--wait=1")
    cp = run(args, env=env, timeout=30)
    assert cp.returncode == 75, describe(cp)
    assert "still pending" in cp.stderr, describe(cp)
    assert list(out.iterdir()) == []


def test_pending_request_survives_sigkill_and_is_collected_after_restart(msrv, work):
    csr, _ = make_csr(work, "crash", der=True)
    b64 = _b64(work, csr, "crash")
    assert _post(msrv, work, b64).status == 202
    msrv.proc.send_signal(signal.SIGKILL)
    msrv.proc.wait(timeout=10)

    msrv.start()
    reqs = _requests(msrv, "pending")
    assert len(reqs) == 1 and reqs[0]["subject"] == "CN=crash", reqs
    assert _post(msrv, work, b64).status == 202           # still the same request
    assert _decide(msrv, "approve", str(reqs[0]["id"])).returncode == 0
    r = _post(msrv, work, b64)
    assert r.status == 200, r
    verify(msrv.ca, _cert_of(work, r, "crash"))


def test_est_reenroll_wait_collects_after_approval(msrv, work):
    """/simplereenroll on a manual label: the same hold, the same collection."""
    first = work / "first"
    first.mkdir()
    cp = run([EST, "enroll", "--server", msrv.url, "--cacert", msrv.ca, "--user", USER,
              "--subject", "/CN=renewer", "--out", first],
             env={**base_env(), "EST_PASSWORD": PASSWORD})
    assert cp.returncode == 0, describe(cp)
    out = work / "renewed"
    out.mkdir()
    proc = subprocess.Popen([str(EST), "reenroll", "--server", f"{msrv.url}/{LABEL}",
                             "--cacert", str(msrv.ca), "--cert", str(first / "cert.pem"),
                             "--key", str(first / "key.pem"), "--out", str(out),
                             "--wait=30"], env=base_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        pending = wait_for(lambda: _requests(msrv, "pending"), timeout=15)
        assert pending and pending[0]["op"] == "simplereenroll", pending
        assert pending[0]["requester"].startswith("cert:"), pending
        assert _decide(msrv, "approve", str(pending[0]["id"])).returncode == 0
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (stdout, stderr)
    verify(msrv.ca, out / "cert.pem")
    assert cert_pubkey(out / "cert.pem") == key_pubkey(out / "key.pem")
    assert cert_pubkey(out / "cert.pem") != cert_pubkey(first / "cert.pem")  # new key
