"""CMC responses during a CA rollover (RFC 7030 4.1.3, RFC 5272 3.2.2): the
PKIResponse is signed by the key of the CA that issued the certificates in it,
so after switch_at by the new CA, before it by the old one."""

import base64
import signal
import time

from e2e_util import EST, ESTD, PASSWORD, USER, curl, describe, ok, run

CMC_REQ = "application/pkcs7-mime; smime-type=CMC-request"


def _reload(srv, switch_at, marker):
    offset = srv.log.stat().st_size
    ok([ESTD, "ca", "rollover", "-c", srv.conf, "--switch-at", switch_at])
    srv.send(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while marker not in srv.log_text(offset):
        assert time.monotonic() < deadline, "estd did not reload\n" + srv.log_tail()
        time.sleep(0.05)


def _fullcmc_by_hand(srv, work, name):
    req = work / f"{name}.b64"
    ok([EST, "fullcmc", "--cacert", srv.ca, "--subject", f"/CN={name}", "--out",
        work / name, "--save-request", req])
    r = curl(srv.est_url("fullcmc"), work, cafile=srv.ca, user=f"{USER}:{PASSWORD}",
             data_file=req, ctype=CMC_REQ)
    assert r.status == 200, r
    der = work / f"{name}.resp.der"
    der.write_bytes(base64.b64decode(r.body))
    return der


def _signed_by(der, root, work):
    """openssl cms -verify with root as the only anchor, signer certs from the message
    ignored except the one that matches root (-nointern would need a -certfile)."""
    cp = run(["openssl", "cms", "-verify", "-inform", "DER", "-in", der, "-CAfile", root,
              "-purpose", "any", "-binary", "-out", work / "content.der"])
    return cp.returncode == 0


def test_cmc_response_signed_by_the_new_ca_after_switch(fresh_server, work):
    srv = fresh_server
    old_root = work / "old-root.pem"
    old_root.write_text(srv.ca.read_text())
    _reload(srv, "now", "CA rollover: new CA")
    new_root = srv.dir / "ca-2.pem"
    der = _fullcmc_by_hand(srv, work, "after-switch")
    assert _signed_by(der, new_root, work), "response not signed by the issuing (new) CA"
    assert not _signed_by(der, old_root, work)
    # the certificate inside is the new CA's too
    cp = ok(["openssl", "cms", "-verify", "-inform", "DER", "-in", der, "-CAfile", new_root,
             "-purpose", "any", "-binary", "-out", work / "r.der"])
    # est itself accepts it with a trust file holding both roots
    both = work / "both.pem"
    both.write_text(old_root.read_text() + new_root.read_text())
    cp = run([EST, "fullcmc", "--server", srv.url, "--cacert", both, "--user", USER,
              "--subject", "/CN=est-after", "--out", work / "est-after"],
             env={**__import__("e2e_util").base_env(), "EST_PASSWORD": PASSWORD})
    assert cp.returncode == 0, describe(cp)


def test_cmc_response_signed_by_the_old_ca_before_switch(fresh_server, work):
    srv = fresh_server
    _reload(srv, "2099-01-01T00:00:00Z", "not issuing yet")
    der = _fullcmc_by_hand(srv, work, "before-switch")
    assert _signed_by(der, srv.ca, work)
    assert not _signed_by(der, srv.dir / "ca-2.pem", work)
