"""CMC during a CA rollover (RFC 7030 4.1.3, RFC 5272 3.2.2): the PKIResponse
is signed by the key of the CA that issued the certificates in it, so after
switch_at by the new CA, before it by the old one; and a revokeRequest signed
with a certificate of either CA (both trusted while the rollover lasts) is
accepted from its holder."""

import base64
import signal
import time

from e2e_util import (EST, ESTD, PASSWORD, USER, base_env, cert_serial, curl, describe, ok,
                      run, verify)

CMC_REQ = "application/pkcs7-mime; smime-type=CMC-request"


def _reload(srv, switch_at, marker, *extra):
    offset = srv.log.stat().st_size
    ok([ESTD, "ca", "rollover", "-c", srv.conf, "--switch-at", switch_at, *extra])
    srv.send(signal.SIGHUP)
    deadline = time.monotonic() + 30  # a sanitized reload on a busy machine is slow
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
             env={**base_env(), "EST_PASSWORD": PASSWORD})
    assert cp.returncode == 0, describe(cp)


def test_cmc_response_signed_by_the_old_ca_before_switch(fresh_server, work):
    srv = fresh_server
    _reload(srv, "2099-01-01T00:00:00Z", "not issuing yet")
    der = _fullcmc_by_hand(srv, work, "before-switch")
    assert _signed_by(der, srv.ca, work)
    assert not _signed_by(der, srv.dir / "ca-2.pem", work)


def _enroll(srv, cacert, work, name, *args):
    out = work / name
    cp = run([EST, "fullcmc", "--server", srv.url, "--cacert", cacert, "--user", USER,
              "--subject", f"/CN={name}", "--out", out, *args],
             env={**base_env(), "EST_PASSWORD": PASSWORD})
    assert cp.returncode == 0, describe(cp)
    return out / "cert.pem", out / "key.pem"


def _revoke_with_basic(srv, cacert, work, cert, key, serial):
    """est revoke's request, sent with HTTP Basic and no TLS client certificate, so the
    CMS signer certificate alone says who asks (not the TLS layer's trust)."""
    req = work / f"revoke-{serial}.b64"
    ok([EST, "revoke", "--cacert", cacert, "--cert", cert, "--key", key, "--serial", serial,
        "--save-request", req])
    return curl(srv.est_url("fullcmc"), work, cafile=cacert, user=f"{USER}:{PASSWORD}",
                data_file=req, ctype=CMC_REQ)


def test_cmc_revoke_by_holders_of_old_and_new_ca_certificates(fresh_server, work):
    srv = fresh_server
    old_root = work / "old-root.pem"
    old_root.write_text(srv.ca.read_text())
    before, before_key = _enroll(srv, srv.ca, work, "before-rollover")
    victim, _ = _enroll(srv, srv.ca, work, "victim")
    # a new root with a name of its own: the revoked certificate's issuer must match it
    _reload(srv, "now", "CA rollover: new CA", "--subject", "/CN=estkit test CA 2")
    new_root = srv.dir / "ca-2.pem"
    both = work / "both.pem"
    both.write_text(old_root.read_text() + new_root.read_text())
    after, after_key = _enroll(srv, both, work, "after-rollover", "--crmf")
    verify(new_root, after)
    stranger, stranger_key = _enroll(srv, both, work, "stranger-after")
    # the holder of the new CA's certificate may not revoke someone else's
    r = _revoke_with_basic(srv, both, work, stranger, stranger_key, cert_serial(victim))
    assert r.status == 403, r
    assert srv.cert_record(cert_serial(victim))["revoked"] is False
    # each holder revokes its own, whichever CA issued it
    for cert, key in ((before, before_key), (after, after_key)):
        serial = cert_serial(cert)
        r = _revoke_with_basic(srv, both, work, cert, key, serial)
        assert r.status == 200, (cert, r)
        assert srv.cert_record(serial)["revoked"] is True, cert
    # est revoke itself, TLS client certificate of the new CA included
    cp = run([EST, "revoke", "--server", srv.url, "--cacert", both, "--cert", stranger,
              "--key", stranger_key, "--serial", cert_serial(stranger)], env=base_env())
    assert cp.returncode == 0, describe(cp)
    assert srv.cert_record(cert_serial(stranger))["revoked"] is True
