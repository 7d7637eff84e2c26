"""est agent with otp_file: the first enrollment uses a one-time token made by
`estd token create` (RFC 7894 otpChallenge in the request, and the Basic
password of user "token"); the file is read as every est secret file is (its
first line, CR/LF stripped, 1..1024 bytes); an unreadable, empty or overlong
file fails the attempt with a message naming it, and leaves the token unused.
The agent asks /csrattrs first (its default) with the same credentials: there
they make the request anonymous, and the token is used only by the
enrollment."""

import json
from pathlib import Path

import pytest

from e2e_util import EST, ESTD, describe, ok, run, set_ini


@pytest.fixture
def tsrv(fresh_server):
    set_ini(fresh_server.conf, "label", "profile", "default")
    fresh_server.stop()
    fresh_server.start()
    return fresh_server


def create_token(srv, subject, san):
    lines = ok([ESTD, "token", "create", "-c", srv.conf, "--label", "", "--subject", subject,
                "--san", san]).stdout.strip().splitlines()
    secret = lines[-1]
    return secret.split(".")[0], secret


def token_state(srv, tid):
    listed = json.loads(ok([ESTD, "token", "list", "--json", "-c", srv.conf]).stdout)
    return next(t for t in listed if t["id"] == tid)


def otp_agent_conf(srv, work, otp):
    out = work / "out"
    trust = work / "trust.pem"
    trust.write_bytes(Path(srv.ca).read_bytes())
    conf = work / "agent.conf"
    conf.write_text(f"""[agent]
state_dir = {work / "state"}

[cert dev]
server = {srv.url}
trust = {trust}
user = token
otp_file = {otp}
subject = CN=otp.example
san = DNS:otp.example
cert = {out}/cert.pem
key = {out}/key.pem
""")
    return conf, out


def test_agent_enrolls_with_a_token_from_otp_file(tsrv, work):
    tid, secret = create_token(tsrv, "CN=otp.example", "DNS:otp.example")
    otp = work / "otp"
    otp.write_text(secret + "\r\nnot this line\n")
    otp.chmod(0o600)
    conf, out = otp_agent_conf(tsrv, work, otp)
    ok([EST, "agent", "--once", "-c", conf])
    subject = ok(["openssl", "x509", "-in", out / "cert.pem", "-noout", "-subject",
                  "-nameopt", "RFC2253"]).stdout
    assert "CN=otp.example" in subject, subject
    t = token_state(tsrv, tid)
    assert t["state"] == "used" and t["serial"], t
    rec = tsrv.cert_record(t["serial"])
    assert rec is not None and rec["requester"] == f"token:{tid}", rec


@pytest.mark.parametrize("content,message", [
    (None, "cannot read password file"),
    ("\nsecret-on-line-two\n", "empty first line or longer than 1024 bytes"),
    ("x" * 1025 + "\n", "empty first line or longer than 1024 bytes"),
])
def test_agent_refuses_a_bad_otp_file(tsrv, work, content, message):
    tid, secret = create_token(tsrv, "CN=otp.example", "DNS:otp.example")
    otp = work / "otp"
    if content is not None:
        otp.write_text(content)
        otp.chmod(0o600)
    conf, out = otp_agent_conf(tsrv, work, otp)
    cp = run([EST, "agent", "--once", "-c", conf])
    assert cp.returncode == 1, describe(cp)
    assert message in cp.stderr and str(otp) in cp.stderr, describe(cp)
    assert secret not in cp.stderr + cp.stdout
    assert not (out / "cert.pem").exists()
    assert token_state(tsrv, tid)["state"] == "unused"
