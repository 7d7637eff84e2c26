"""backend = proxy with HTTP Basic credentials towards the upstream
(upstream_user + upstream_password_file): the upstream estd (the CA) accepts
only Basic on its label (methods = basic, allow = user:rauser, so no client
certificate will do). Enrollment through the RA works with the right
password; with a wrong one the RA answers 502 with a message of its own (the
client's credentials were fine, the RA's were not) and never passes on the
upstream's 401 challenge; its log says why. A missing, empty or non-private
password file is a configuration error at start and at reload."""

import os
import signal
import subprocess

import pytest

from conftest import serving_group, start_live
from e2e_util import (ESTD, EST, PASSWORD, USER, Estd, base_env, curl, describe, make_csr,
                      run, set_ini, verify, wait_for)

AUTH = f"{USER}:{PASSWORD}"
RA_USER = "rauser"
RA_PASSWORD = "ra-upstream-secret"


def _pwfile(path, text, mode=0o600):
    path.write_text(text)
    os.chmod(path, mode)
    return path


def _proxy_label(ra, label, ca, pwfile):
    for k, v in {"backend": "proxy", "upstream_url": f"{ca.url}/viauser",
                 "upstream_trust": ca.ca, "upstream_user": RA_USER,
                 "upstream_password_file": pwfile, "upstream_timeout": "5"}.items():
        set_ini(ra.conf, f"label {label}", k, v)


def _setup_pair(ca, ra):
    # the CA: Basic only, and on this label only the RA's user may enroll
    set_ini(ca.conf, "auth", "methods", "basic")
    set_ini(ca.conf, "label viauser", "allow", f"user:{RA_USER}")
    ca.user_add(RA_USER, RA_PASSWORD)
    start_live(ca)
    _proxy_label(ra, "good", ca, _pwfile(ra.root / "good.pw", RA_PASSWORD + "\n"))
    _proxy_label(ra, "bad", ca, _pwfile(ra.root / "bad.pw", "not-the-password\n"))
    start_live(ra)
    ra.upstream = ca
    return ra


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    yield from serving_group(tmp_path_factory.mktemp("proxybasic"), _setup_pair, "ca", "ra")


def _post_csr(srv, work, label, name):
    csr, _ = make_csr(work, name, der=True)
    b64 = work / f"{name}.b64"
    run(["openssl", "base64", "-in", csr, "-out", b64])
    return curl(srv.est_url("simpleenroll", label), work, cafile=srv.ca, user=AUTH,
                data_file=b64, ctype="application/pkcs10")


def test_enroll_through_the_ra_with_basic_upstream(pair, work):
    out = work / "dev"
    cp = run([EST, "enroll", "--server", f"{pair.url}/good", "--cacert", pair.ca, "--user",
              USER, "--subject", "CN=basic-dev1", "--out", out],
             env=base_env(EST_PASSWORD=PASSWORD))
    assert cp.returncode == 0, describe(cp) + pair.log_tail()
    verify(pair.upstream.ca, out / "cert.pem")
    rec = [r for r in pair.certs() if r["subject"].endswith("basic-dev1")]
    assert len(rec) == 1 and rec[0]["requester"] == f"user:{USER}", rec
    # the CA saw the RA's user, authenticated with Basic
    up = pair.upstream.cert_record(rec[0]["serial"])
    assert up is not None and up["requester"] == f"user:{RA_USER}", up


def test_the_upstream_label_takes_no_other_identity(pair, work):
    # the client's own credentials are no good at the CA's label: only the RA's user
    csr, _ = make_csr(work, "direct", der=True)
    b64 = work / "direct.b64"
    run(["openssl", "base64", "-in", csr, "-out", b64])
    r = curl(pair.upstream.est_url("simpleenroll", "viauser"), work, cafile=pair.upstream.ca,
             user=AUTH, data_file=b64, ctype="application/pkcs10")
    assert r.status == 403, r


def test_wrong_upstream_password_is_a_502_without_the_challenge(pair, work):
    off = len(pair.log_text())
    r = _post_csr(pair, work, "bad", "badpw")
    assert r.status == 502, r
    assert b"upstream refused RA credentials" in r.body, r
    # the client authenticated fine: no challenge for it to answer
    assert r.header("WWW-Authenticate") == [], r
    log = pair.log_text(off)
    assert "label 'bad'" in log and "401" in log, log
    assert f"upstream_user '{RA_USER}'" in log and "upstream_password_file" in log, log


def _start_fails(srv, timeout=20):
    """estd run must refuse the configuration: returns its output."""
    try:
        cp = subprocess.run([str(ESTD), "run", "-c", str(srv.conf)], capture_output=True,
                            text=True, timeout=timeout, env=base_env(),
                            stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"estd kept running with a bad password file: {e}") from e
    assert cp.returncode != 0, describe(cp)
    return cp.stdout + cp.stderr


@pytest.mark.parametrize("case", ["missing", "group-readable", "world-readable", "empty",
                                  "too-long", "directory"])
def test_bad_password_file_is_a_config_error_at_start(pair, tmp_path, case):
    srv = Estd(tmp_path, name="ra").init()
    pw = tmp_path / "pw"
    if case == "group-readable":
        _pwfile(pw, RA_PASSWORD + "\n", 0o640)
    elif case == "world-readable":
        _pwfile(pw, RA_PASSWORD + "\n", 0o604)
    elif case == "empty":
        _pwfile(pw, "\nsecond line\n")
    elif case == "too-long":
        _pwfile(pw, "x" * 1025 + "\n")
    elif case == "directory":
        pw.mkdir()
    _proxy_label(srv, "up", pair.upstream, pw)
    out = _start_fails(srv)
    assert "label 'up'" in out and "upstream_password_file" in out and str(pw) in out, out
    want = {"missing": "No such file", "group-readable": "chmod 600",
            "world-readable": "chmod 600", "empty": "empty", "too-long": "longer than",
            "directory": "not a regular file"}[case]
    assert want in out, out


def test_bad_password_file_on_reload_keeps_the_running_config(pair, work):
    pw = pair.root / "good.pw"
    off = len(pair.log_text())
    os.chmod(pw, 0o644)
    try:
        pair.send(signal.SIGHUP)
        assert wait_for(lambda: "reload failed" in pair.log_text(off)), pair.log_tail()
        assert "chmod 600" in pair.log_text(off), pair.log_tail()
    finally:
        os.chmod(pw, 0o600)
    # the old configuration still serves
    out = work / "after"
    cp = run([EST, "enroll", "--server", f"{pair.url}/good", "--cacert", pair.ca, "--user",
              USER, "--subject", "CN=basic-dev2", "--out", out],
             env=base_env(EST_PASSWORD=PASSWORD))
    assert cp.returncode == 0, describe(cp)
