"""backend = command: estd runs a signing program per request (no shell)
with the request on stdin and the context in ESTD_* variables; its exit
status decides: 0 issued, 1 rejected (403 + first stderr line), 2 pending
(202 + Retry-After), anything else, garbage or a timeout -> 5xx, fast.
The programs are the shipped examples/command/*.sh."""

import time

import pytest

from e2e_util import (EST, PASSWORD, REPO, USER, base_env, curl, describe, make_csr, ok,
                      p7_to_pem, run, set_ini, verify, wait_for)

AUTH = f"{USER}:{PASSWORD}"
P10 = "application/pkcs10"
SIGN = REPO / "examples" / "command" / "openssl-sign.sh"
POLICY = REPO / "examples" / "command" / "site-policy.sh"


def _ext_ca(root):
    """A CA of its own (not estd's) in root/extca: ca.pem + ca.key."""
    d = root / "extca"
    d.mkdir()
    ok(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", d / "ca.key", "-out", d / "ca.pem", "-subj", "/CN=External CA",
        "-days", "30", "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return d


@pytest.fixture
def csrv(fresh_server, tmp_path):
    srv = fresh_server
    extca = _ext_ca(tmp_path)
    envout = tmp_path / "env.txt"
    labels = {
        "sign": {"command": f"{SIGN} {extca} 30"},
        "policy": {"command": f"{POLICY} example.com pending {SIGN} {extca}",
                   "command_cacerts": f"{extca}/ca.pem", "retry_after": "7"},
        # a command line of this server only: other suites on the machine run theirs
        "slow": {"command": f"/usr/bin/sleep 30.{srv.port}", "command_timeout": "2"},
        "garbage": {"command": "/usr/bin/printf 'not a certificate'"},
        "env": {"command": f"/bin/sh -c \"env > '{envout}'; echo 'no thanks:\\tbye\\033[2J' >&2; "
                           f"exit 1\"", "command_input": "der"},
        "crash": {"command": "/bin/sh -c 'kill -SEGV $$'"},
    }
    for name, keys in labels.items():
        set_ini(srv.conf, f"label {name}", "backend", "command")
        for k, v in keys.items():
            set_ini(srv.conf, f"label {name}", k, v)
    assert srv.stop() == 0
    srv.start()
    srv.extca = extca
    srv.envout = envout
    return srv


def _csr_b64(work, subj, name):
    csr, key = make_csr(work, name, subj=subj, der=True)
    b64 = work / f"{name}.b64"
    ok(["openssl", "base64", "-in", csr, "-out", b64])
    return b64, key


def _send(srv, work, label, b64):
    return curl(srv.est_url("simpleenroll", label), work, cafile=srv.ca, user=AUTH,
                data_file=b64, ctype=P10)


def _post(srv, work, label, subj, name):
    b64, key = _csr_b64(work, subj, name)
    return _send(srv, work, label, b64), key


def test_est_enroll_through_openssl_sign_chains_to_the_external_ca(csrv, work):
    out = work / "out"
    env = base_env(EST_PASSWORD=PASSWORD)
    cp = run([EST, "enroll", "--server", f"{csrv.url}/sign", "--cacert", csrv.ca, "--user",
              USER, "--subject", "CN=dev1.example.com", "--san", "DNS:dev1.example.com",
              "--out", out], env=env)
    assert cp.returncode == 0, describe(cp)
    verify(csrv.extca / "ca.pem", out / "cert.pem")
    text = ok(["openssl", "x509", "-in", out / "cert.pem", "-noout", "-text"]).stdout
    assert "DNS:dev1.example.com" in text and "External CA" in text
    recs = [r for r in csrv.certs() if r.get("label") == "sign"]
    assert len(recs) == 1, recs
    assert recs[0]["op"] == "simpleenroll via command"
    assert recs[0]["requester"] == f"user:{USER}"


def test_site_policy_issues_rejects_and_pends(csrv, work):
    r, key = _post(csrv, work, "policy", "/CN=host.example.com", "good")
    assert r.status == 200, r
    (work / "good.p7").write_bytes(r.body)
    pem = p7_to_pem(work / "good.p7", work / "good.pem")
    verify(csrv.extca / "ca.pem", pem)

    r, _ = _post(csrv, work, "policy", "/CN=evil.org", "bad")
    assert r.status == 403, r
    assert b"CN 'evil.org' is not under example.com" in r.body, r

    r, _ = _post(csrv, work, "policy", "/CN=later.example.com/OU=pending", "held")
    assert r.status == 202, r
    assert r.header("Retry-After") == ["300"], r


def test_cacerts_of_a_command_label_is_command_cacerts(csrv, work):
    r = curl(csrv.est_url("cacerts", "policy"), work, cafile=csrv.ca)
    assert r.status == 200, r
    (work / "ca.p7").write_bytes(r.body)
    pem = p7_to_pem(work / "ca.p7", work / "ca.pem")
    assert "External CA" in ok(["openssl", "x509", "-in", pem, "-noout", "-subject"]).stdout


def test_timeout_kills_the_program_and_answers_503_fast(csrv, work):
    b64, _ = _csr_b64(work, "/CN=slow.example.com", "slow")
    t0 = time.monotonic()
    r = _send(csrv, work, "slow", b64)
    took = time.monotonic() - t0
    assert r.status == 503, r
    assert r.header("Retry-After"), r
    # command_timeout (2 s) and not the program's 30 s, with room for a loaded or
    # sanitized run (curl's start and the TLS handshake are in the figure)
    assert took < 2 + 4, f"took {took:.1f}s"
    assert "timed out, killed" in csrv.log_text()
    # the process group is gone: no sleep 30 left behind (SIGKILL takes effect
    # when the process next runs: poll for it)
    pgrep = ["pgrep", "-f", f"^/usr/bin/sleep 30\\.{csrv.port}$"]
    assert wait_for(lambda: run(pgrep).stdout.strip() == ""), run(pgrep).stdout


def test_garbage_output_and_crash_are_500(csrv, work):
    r, _ = _post(csrv, work, "garbage", "/CN=g.example.com", "garbage")
    assert r.status == 500, r
    assert b"no usable certificate" in r.body, r
    r, _ = _post(csrv, work, "crash", "/CN=c.example.com", "crash")
    assert r.status == 500, r
    log = csrv.log_text()
    assert "exit 0 but output is not a certificate" in log
    assert "killed by signal 11" in log


def test_environment_is_clean_and_carries_the_request(csrv, work):
    r, _ = _post(csrv, work, "env", "/CN=env.example.com/O=Acme", "env")
    assert r.status == 403, r
    # first stderr line, control characters made harmless
    assert r.body.strip() == b"no thanks: bye?[2J", r
    env = dict(line.split("=", 1) for line in csrv.envout.read_text().splitlines()
               if "=" in line and line.split("=", 1)[0].isidentifier())
    assert env["PATH"] == "/usr/bin:/bin"
    assert env["ESTD_OP"] == "simpleenroll"
    assert env["ESTD_LABEL"] == "env"
    assert env["ESTD_USER"] == USER
    assert env["ESTD_IDENTITY"] == f"user:{USER}"
    assert env["ESTD_CSR_SUBJECT"] in ("CN=env.example.com,O=Acme", "O=Acme,CN=env.example.com")
    assert env["ESTD_PEER"].startswith("127.0.0.1:")
    assert env["ESTD_CLIENT_CERT"] == "" and env["ESTD_CLIENT_SUBJECT"] == ""
    assert env["ESTD_CHANNEL_BINDING"], env
    # nothing of estd's own environment (HOME, LC_ALL, NO_PROXY, ...)
    for k in ("HOME", "LC_ALL", "NO_PROXY", "ESTKIT_BIN"):
        assert k not in env, k


def test_serverkeygen_is_not_offered_on_a_command_label(csrv, work):
    csr, _ = make_csr(work, "skg", subj="/CN=skg.example.com", der=True)
    b64 = work / "skg.b64"
    ok(["openssl", "base64", "-in", csr, "-out", b64])
    r = curl(csrv.est_url("serverkeygen", "sign"), work, cafile=csrv.ca, user=AUTH,
             data_file=b64, ctype=P10)
    assert r.status == 501, r
