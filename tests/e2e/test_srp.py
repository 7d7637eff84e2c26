"""TLS-SRP, certificate-less mutual authentication (RFC 7030 3.3.3, RFC
5054): verifiers made with `openssl srp`, [auth] srp_verifier_file; `est
cacerts/enroll --srp-user` without any trust anchor; the RFC 7030 flow by
hand with curl --tlsauthtype SRP and the openssl CLI; a wrong password and
an unknown user fail the handshake alike and get nothing; the SRP user is
subject to a label's allow list; failed SRP handshakes lock an address out;
SIGHUP rereads the file; without the file an SRP-only client gets no
handshake; TLS 1.3 clients are unaffected; `est fullcmc` and `est revoke`
over SRP (the CMC response checked against /cacerts fetched over SRP; a
revokeRequest is allowed for the certificate's holder or an srp: identity in
[auth] revokers, refused otherwise); `est agent --once` enrolls over SRP
and renews with its certificate."""

import signal
import pytest

from conftest import server_factory, serving, start_live
from e2e_util import (EST, ESTD, PASSWORD, USER, Estd, base_env, cert_serial, describe,
                      make_csr, ok, p7_to_pem, run, set_ini, verify, wait_for)

SRP_CIPHERS = "SRP-AES-256-CBC-SHA:SRP-AES-128-CBC-SHA"
USERS = {"alice": "alice-srp-pw", "bob": "bob-srp-pw"}
HANDSHAKE_FAILED = "TLS-SRP handshake failed (wrong user name or password"


def srp_add(vfile, user, password):
    """openssl srp -add, the operator's way (3072-bit group, password on -passout)."""
    ok(["openssl", "srp", "-srpvfile", vfile, "-add", "-gn", "3072",
        "-passout", f"pass:{password}", user])


def srp_server(root, **auth):
    srv = Estd(root).init()
    vfile = srv.dir / "srp-verifiers"
    vfile.write_text("")
    for user, pw in USERS.items():
        srp_add(vfile, user, pw)
    set_ini(srv.conf, "auth", "srp_verifier_file", "srp-verifiers")
    for k, v in auth.items():
        set_ini(srv.conf, "auth", k, v)
    set_ini(srv.conf, "label routers", "profile", "default")
    set_ini(srv.conf, "label routers", "allow", "user:alice")
    set_ini(srv.conf, "label bound", "profile", "default")
    set_ini(srv.conf, "label bound", "require_channel_binding", "yes")
    srv.vfile = vfile
    return start_live(srv)


@pytest.fixture(scope="module")
def ssrv(tmp_path_factory):
    yield from serving(srp_server(tmp_path_factory.mktemp("srp")))


@pytest.fixture
def own_srp(tmp_path):
    yield from server_factory(tmp_path, srp_server)


def pwfile(work, password, name="srp.pw"):
    f = work / name
    f.write_text(password + "\n")
    f.chmod(0o600)
    return f


def est_srp(srv, work, cmd, user, password, *args, label=None):
    url = srv.url + (f"/{label}" if label else "")
    return run([EST, cmd, "--server", url, "--srp-user", user,
                "--srp-password-file", pwfile(work, password), *args])


def curl_srp(srv, work, user, password, op="cacerts", data=None, label=None, extra=()):
    """curl over TLS 1.2 with TLS-SRP: no --cacert (no certificate in a pure SRP suite)."""
    out = work / "curl.out"
    if out.exists():
        out.unlink()
    args = ["curl", "-sS", "--tlsv1.2", "--tls-max", "1.2", "--ciphers", SRP_CIPHERS,
            "--tlsauthtype", "SRP", "--tlsuser", user, "--tlspassword", password,
            "--insecure", "-o", out, "-w", "%{http_code}", "--max-time", "30"]
    if data is not None:
        args += ["--data-binary", f"@{data}", "-H", "Content-Type: application/pkcs10"]
    cp = run(args + list(extra) + [srv.est_url(op, label)])
    return cp, (out.read_bytes() if out.exists() else b"")


def test_est_cacerts_and_enroll_over_srp_without_trust_anchors(ssrv, work):
    cp = est_srp(ssrv, work, "cacerts", "alice", USERS["alice"], "--out", work / "ca.pem")
    assert cp.returncode == 0, describe(cp)
    assert (work / "ca.pem").read_text() == ssrv.ca.read_text()
    out = work / "e"
    cp = est_srp(ssrv, work, "enroll", "alice", USERS["alice"], "--subject", "CN=alice-dev",
                 "--out", out)
    assert cp.returncode == 0, describe(cp)
    verify(work / "ca.pem", out / "cert.pem")
    assert wait_for(lambda: "identity=srp:alice status=200" in ssrv.log_text()), \
        ssrv.log_tail()
    serial = ok(["openssl", "x509", "-in", out / "cert.pem", "-noout", "-serial"]).stdout
    rec = ssrv.cert_record(serial.strip().split("=", 1)[1])
    assert rec is not None and rec["requester"] == "srp:alice", rec


def test_channel_binding_over_srp(ssrv, work):
    """tls-unique of the SRP connection in the CSR (RFC 7030 3.5)."""
    cp = est_srp(ssrv, work, "enroll", "bob", USERS["bob"], "--subject", "CN=bob-bound",
                 "--channel-binding", "--out", work / "b", label="bound")
    assert cp.returncode == 0, describe(cp)


def test_csrattrs_and_serverkeygen_over_srp(ssrv, work):
    cp = est_srp(ssrv, work, "csrattrs", "bob", USERS["bob"])
    assert cp.returncode == 0, describe(cp)
    assert wait_for(lambda: "csrattrs label=- identity=srp:bob" in ssrv.log_text()), \
        ssrv.log_tail()
    out = work / "skg"
    cp = est_srp(ssrv, work, "serverkeygen", "bob", USERS["bob"], "--subject", "CN=bob-skg",
                 "--out", out)
    assert cp.returncode == 0, describe(cp)
    verify(ssrv.ca, out / "cert.pem")
    assert (out / "key.pem").stat().st_mode & 0o777 == 0o600
    # --srp-user excludes HTTP credentials and certificates (usage error, exit 2)
    cp = est_srp(ssrv, work, "enroll", "bob", USERS["bob"], "--subject", "CN=x",
                 "--user", USER)
    assert cp.returncode == 2 and "--srp-user authenticates both sides" in cp.stderr, \
        describe(cp)


def test_rfc7030_flow_by_hand_with_curl_and_openssl(ssrv, work):
    csr, key = make_csr(work, "hand", subj="/CN=by-hand", der=True)
    b64 = work / "hand.b64"
    ok(["openssl", "base64", "-in", csr, "-out", b64])
    cp, body = curl_srp(ssrv, work, "alice", USERS["alice"], "simpleenroll", data=b64)
    assert cp.returncode == 0 and cp.stdout == "200", describe(cp)
    (work / "resp.b64").write_bytes(body)
    pem = p7_to_pem(work / "resp.b64", work / "hand.pem")
    verify(ssrv.ca, pem)
    # (openssl s_client -srpuser would be the other by-hand client, but the one of
    # OpenSSL 3.0.19 sends a garbled user name - openssl s_server -srpvfile reports an
    # unknown user too - and against estd it then dies of SIGSEGV)
    ok(["openssl", "x509", "-in", pem, "-noout", "-subject"]).stdout.index("CN = by-hand")


@pytest.mark.parametrize("user,password", [("alice", "wrong-password"),
                                           ("mallory", USERS["alice"])])
def test_wrong_password_and_unknown_user_fail_the_handshake_alike(ssrv, work, user,
                                                                  password):
    before = len(ssrv.certs())
    cp = est_srp(ssrv, work, "enroll", user, password, "--subject", "CN=nope",
                 "--out", work / "n")
    assert cp.returncode == 1, describe(cp)
    assert HANDSHAKE_FAILED in cp.stderr and "bad record mac" in cp.stderr, describe(cp)
    assert not (work / "n" / "cert.pem").exists()
    cp, _ = curl_srp(ssrv, work, user, password)
    assert cp.returncode == 35 and cp.stdout == "000", describe(cp)
    assert "alert bad record mac" in cp.stderr, describe(cp)
    assert len(ssrv.certs()) == before


def test_srp_user_not_allowed_on_a_label_gets_403(ssrv, work):
    cp = est_srp(ssrv, work, "enroll", "bob", USERS["bob"], "--subject", "CN=bob-router",
                 "--out", work / "r", label="routers")
    assert cp.returncode == 1 and "HTTP 403" in cp.stderr, describe(cp)
    assert wait_for(lambda: "identity=srp:bob status=403" in ssrv.log_text()), \
        ssrv.log_tail()
    cp = est_srp(ssrv, work, "enroll", "alice", USERS["alice"], "--subject", "CN=alice-r",
                 "--out", work / "a", label="routers")
    assert cp.returncode == 0, describe(cp)


def test_tls13_and_certificate_clients_are_unaffected(ssrv, work):
    cp = run(["curl", "-sS", "--tlsv1.3", "--cacert", ssrv.ca, "-o", "/dev/null",
              "-w", "%{http_code}", ssrv.est_url("cacerts")])
    assert cp.returncode == 0 and cp.stdout == "200", describe(cp)
    cp = run(["openssl", "s_client", "-connect", f"127.0.0.1:{ssrv.port}",
              "-CAfile", ssrv.ca, "-brief"], input="")
    assert "Protocol version: TLSv1.3" in cp.stderr, describe(cp)
    env = base_env(EST_PASSWORD=PASSWORD)
    cp = run([EST, "enroll", "--server", ssrv.url, "--cacert", ssrv.ca, "--user", USER,
              "--subject", "CN=basic-user", "--out", work / "u"], env=env)
    assert cp.returncode == 0, describe(cp)


def test_srp_only_client_fails_without_verifier_file(server, work):
    cp, _ = curl_srp(server, work, "alice", USERS["alice"])
    assert cp.returncode == 35 and cp.stdout == "000", describe(cp)
    assert "handshake failure" in cp.stderr, describe(cp)
    cp = est_srp(server, work, "cacerts", "alice", USERS["alice"], "--out", work / "ca.pem")
    assert cp.returncode == 1 and HANDSHAKE_FAILED in cp.stderr, describe(cp)
    assert not (work / "ca.pem").exists()


def test_failed_srp_handshakes_lock_the_address_out(own_srp, work):
    srv = own_srp(auth_fail_limit="3", auth_fail_lockout="60", auth_fail_delay="0")
    for pw in ("bad1", "bad2", "bad3"):
        cp, _ = curl_srp(srv, work, "alice", pw)
        assert cp.returncode == 35, describe(cp)
    assert wait_for(lambda: "(TLS-SRP)" in srv.log_text()), srv.log_tail()
    cp, _ = curl_srp(srv, work, "alice", USERS["alice"])
    assert cp.returncode == 35 and "access denied" in cp.stderr, describe(cp)
    # another address is not locked out
    cp, _ = curl_srp(srv, work, "alice", USERS["alice"],
                     extra=("--interface", "127.0.0.2"))
    assert cp.returncode == 0 and cp.stdout == "200", describe(cp)


def test_sighup_rereads_the_verifier_file(own_srp, work):
    srv = own_srp()
    cp, _ = curl_srp(srv, work, "carol", "carol-pw")
    assert cp.returncode == 35, describe(cp)
    srp_add(srv.vfile, "carol", "carol-pw")
    srv.send(signal.SIGHUP)
    assert wait_for(lambda: "TLS-SRP: reloaded 3 users" in srv.log_text()), srv.log_tail()
    cp, _ = curl_srp(srv, work, "carol", "carol-pw")
    assert cp.returncode == 0 and cp.stdout == "200", describe(cp)
    # a broken file on SIGHUP: logged, the loaded verifiers stay
    with open(srv.vfile, "a") as f:
        f.write("not a verifier line\n")
    srv.send(signal.SIGHUP)
    assert wait_for(lambda: "line 4" in srv.log_text()), srv.log_tail()
    cp, _ = curl_srp(srv, work, "carol", "carol-pw")
    assert cp.returncode == 0 and cp.stdout == "200", describe(cp)


def test_estd_refuses_to_start_with_a_malformed_verifier_file(tmp_path):
    srv = Estd(tmp_path).init()
    (srv.dir / "v").write_text("V\tabc\tdef\tu1\t1024\t\n")
    set_ini(srv.conf, "auth", "srp_verifier_file", "v")
    cp = run([ESTD, "run", "-c", srv.conf], timeout=30)
    assert cp.returncode != 0, describe(cp)
    assert "line 1: user u1: group '1024'" in cp.stderr + cp.stdout, describe(cp)


def srp_fullcmc(srv, work, user, name):
    """est fullcmc over SRP without --cacert: a new key and certificate in work/name."""
    out = work / name
    cp = est_srp(srv, work, "fullcmc", user, USERS[user], "--subject", f"/CN={name}",
                 "--out", out)
    assert cp.returncode == 0, describe(cp)
    return out / "cert.pem", out / "key.pem"


def srp_revoke(srv, work, user, cert, key, serial):
    return est_srp(srv, work, "revoke", user, USERS[user], "--cert", cert, "--key", key,
                   "--serial", serial, "--reason", "superseded")


def test_fullcmc_over_srp_issues(ssrv, work):
    cert, key = srp_fullcmc(ssrv, work, "alice", "cmc-srp")
    verify(ssrv.ca, cert)
    rec = ssrv.cert_record(cert_serial(cert))
    assert rec is not None and rec["op"] == "fullcmc" and rec["requester"] == "srp:alice", rec
    assert (work / "cmc-srp" / "key.pem").stat().st_mode & 0o777 == 0o600
    # --srp-user excludes --cert/--user here too (usage error, exit 2)
    cp = est_srp(ssrv, work, "fullcmc", "alice", USERS["alice"], "--subject", "/CN=x",
                 "--cert", cert, "--tls-key", key)
    assert cp.returncode == 2 and "--srp-user authenticates both sides" in cp.stderr, \
        describe(cp)
    # a wrong SRP password: no handshake, no certificate
    before = len(ssrv.certs())
    cp = est_srp(ssrv, work, "fullcmc", "alice", "wrong", "--subject", "/CN=nope",
                 "--out", work / "nope")
    assert cp.returncode == 1 and HANDSHAKE_FAILED in cp.stderr, describe(cp)
    assert len(ssrv.certs()) == before


def test_revoke_over_srp_holder_allowed_stranger_refused(ssrv, work):
    """[auth] revokers is empty: over SRP the signer certificate decides, as
    over Basic (src/estd/backend/cmc.c may_revoke)."""
    victim, _ = srp_fullcmc(ssrv, work, "alice", "srp-victim")
    scert, skey = srp_fullcmc(ssrv, work, "bob", "srp-stranger")
    cp = srp_revoke(ssrv, work, "bob", scert, skey, cert_serial(victim))
    assert cp.returncode == 1 and "badIdentity" in cp.stderr, describe(cp)
    assert ssrv.cert_record(cert_serial(victim))["revoked"] is False
    # the holder revokes its own certificate (signed with it; TLS is SRP)
    cp = srp_revoke(ssrv, work, "bob", scert, skey, cert_serial(scert))
    assert cp.returncode == 0 and "Revoked" in cp.stdout, describe(cp)
    rec = ssrv.cert_record(cert_serial(scert))
    assert rec["revoked"] is True and rec["revocation_reason"] == 4, rec
    assert wait_for(lambda: "by=cert:CN=srp-stranger" in ssrv.log_text()), ssrv.log_tail()


def test_revoke_over_srp_by_a_configured_srp_revoker(own_srp, work):
    srv = own_srp(revokers="srp:bob")
    victim, _ = srp_fullcmc(srv, work, "alice", "srp-victim2")
    bcert, bkey = srp_fullcmc(srv, work, "bob", "srp-ops")
    acert, akey = srp_fullcmc(srv, work, "alice", "srp-alice2")
    # alice is no revoker: her certificate does not revoke bob's
    cp = srp_revoke(srv, work, "alice", acert, akey, cert_serial(bcert))
    assert cp.returncode == 1 and "badIdentity" in cp.stderr, describe(cp)
    cp = srp_revoke(srv, work, "bob", bcert, bkey, cert_serial(victim))
    assert cp.returncode == 0, describe(cp)
    assert srv.cert_record(cert_serial(victim))["revoked"] is True
    assert srv.cert_record(cert_serial(bcert))["revoked"] is False
    assert wait_for(lambda: "by=srp:bob" in srv.log_text()), srv.log_tail()


def test_agent_once_enrolls_over_srp_and_renews_with_its_certificate(ssrv, work):
    out = work / "out"
    conf = work / "agent.conf"
    conf.write_text(f"""[agent]
state_dir = {work / "state"}
retry_min = 1
retry_max = 4

[cert dev]
server = {ssrv.url}
trust = {ssrv.ca}
srp_user = alice
srp_password_file = {pwfile(work, USERS["alice"], "agent-srp.pw")}
subject = CN=agent-srp.example
cert = {out}/cert.pem
key = {out}/key.pem
""")
    cp = run([EST, "agent", "--once", "-c", conf])
    assert cp.returncode == 0, describe(cp)
    verify(ssrv.ca, out / "cert.pem")
    first = cert_serial(out / "cert.pem")
    assert ssrv.cert_record(first)["requester"] == "srp:alice"
    # renewal: /simplereenroll with the certificate, not SRP
    cp = run([EST, "agent", "--once", "--force", "-c", conf])
    assert cp.returncode == 0, describe(cp)
    second = cert_serial(out / "cert.pem")
    assert second != first
    rec = ssrv.cert_record(second)
    assert rec["op"] == "simplereenroll" and not rec["requester"].startswith("srp:"), rec
    # a wrong password file: the first enrollment fails the handshake
    conf.write_text(conf.read_text().replace("agent-srp.pw", "bad.pw")
                    .replace(str(work / "state"), str(work / "state2"))
                    .replace(str(out), str(work / "out2")))
    pwfile(work, "wrong", "bad.pw")
    cp = run([EST, "agent", "--once", "-c", conf])
    assert cp.returncode == 1, describe(cp)
    assert not (work / "out2" / "cert.pem").exists()
