"""backend = proxy: estd as an RA (RFC 7030 3.7) in front of another estd
acting as the CA. Two real estd processes: the CA trusts the RA's
certificate (issued by the CA itself, with id-kp-cmcRA); clients talk to the
RA with Basic or their certificate, the RA forwards with its own
certificate. Upstream answers are mapped (202 + Retry-After, 400/403 with
the reason, 401 -> 502), and a dead upstream gives a fast 503 until it is
back."""

import base64
import signal
import time

import pytest

from conftest import serving_group, start_live
from e2e_util import (EST, PASSWORD, USER, base_env, cert_subject, curl, describe,
                      make_csr, ok, p7_to_pem, run, set_ini, verify)
from proxy_util import ra_cert, ra_profile

AUTH = f"{USER}:{PASSWORD}"
P10 = "application/pkcs10"
UPSTREAM_TIMEOUT = 3


def _restart(srv):
    assert srv.stop() == 0
    srv.start()


def _setup_pair(ca, ra):
    # the CA: an RA profile (clientAuth + id-kp-cmcRA), a held label, CSR attributes
    ra_profile(ca)
    set_ini(ca.conf, "label", "csrattrs", "challengePassword, ecPublicKey:secp384r1")
    set_ini(ca.conf, "label manual", "approval", "manual")
    set_ini(ca.conf, "label manual", "retry_after", "5")
    # RFC 7030 3.7: RA 1 (not RA 2) is trusted to have checked the channel binding
    set_ini(ca.conf, "auth", "ra_certs", "cert:CN=RA 1")
    set_ini(ca.conf, "label bound", "require_channel_binding", "yes")
    start_live(ca)
    out = ra_cert(ca, ca.root / "racert", "RA 1")
    out2 = ra_cert(ca, ca.root / "racert2", "RA 2")
    eku = ok(["openssl", "x509", "-in", out / "cert.pem", "-noout",
              "-ext", "extendedKeyUsage"]).stdout
    assert "CMC Registration Authority" in eku or "cmcRA" in eku, eku
    # the RA: every label a proxy to the CA ([backend] defaults), one overridden
    for k, v in {"backend": "proxy", "upstream_url": ca.url, "upstream_trust": ca.ca,
                 "upstream_timeout": UPSTREAM_TIMEOUT, "upstream_retry_after": "9",
                 "upstream_cacerts_ttl": "0"}.items():
        set_ini(ra.conf, "backend", k, v)
    for lab in ("label", "label held"):
        set_ini(ra.conf, lab, "upstream_cert", out / "cert.pem")
        set_ini(ra.conf, lab, "upstream_key", out / "key.pem")
    set_ini(ra.conf, "label held", "upstream_url", f"{ca.url}/manual")
    for lab, cert in (("bound", out), ("bound2", out2)):
        set_ini(ra.conf, f"label {lab}", "upstream_url", f"{ca.url}/bound")
        set_ini(ra.conf, f"label {lab}", "upstream_cert", cert / "cert.pem")
        set_ini(ra.conf, f"label {lab}", "upstream_key", cert / "key.pem")
    # no RA certificate: the CA sees an anonymous client
    set_ini(ra.conf, "label anon", "backend", "proxy")
    # certificates the CA issued authenticate clients at the RA (re-enrollment)
    set_ini(ra.conf, "auth", "client_ca", ca.ca)
    start_live(ra)
    ra.upstream = ca
    ra.racert = out
    return ra


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    yield from serving_group(tmp_path_factory.mktemp("proxy"), _setup_pair, "ca", "ra")


def _post(srv, work, op, label, csr_der, **kw):
    b64 = work / f"{csr_der.stem}.b64"
    b64.write_text(base64.encodebytes(csr_der.read_bytes()).decode())
    return curl(srv.est_url(op, label), work, cafile=srv.ca, user=AUTH, data_file=b64,
                ctype=P10, **kw)


def test_enroll_through_the_ra_chains_to_the_upstream_ca(pair, work):
    out = work / "dev"
    cp = run([EST, "enroll", "--server", pair.url, "--cacert", pair.ca, "--user", USER,
              "--subject", "CN=dev1", "--san", "DNS:dev1.example", "--out", out],
             env=base_env(EST_PASSWORD=PASSWORD))
    assert cp.returncode == 0, describe(cp)
    verify(pair.upstream.ca, out / "cert.pem")
    assert cert_subject(out / "cert.pem") == "subject=CN=dev1"
    # recorded at both ends: the RA knows the user, the CA knows the RA
    ra_rec = [r for r in pair.certs() if r["subject"].endswith("dev1")]
    assert len(ra_rec) == 1 and ra_rec[0]["op"] == "simpleenroll via proxy", ra_rec
    assert ra_rec[0]["requester"] == f"user:{USER}"
    ca_rec = pair.upstream.cert_record(ra_rec[0]["serial"])
    assert ca_rec is not None and "RA 1" in ca_rec["requester"], ca_rec
    # and the RA's own CA never signed anything
    assert run(["openssl", "verify", "-CAfile", pair.ca, out / "cert.pem"]).returncode != 0


def test_cacerts_are_the_upstream_ones(pair, work):
    r = curl(pair.est_url("cacerts"), work, cafile=pair.ca)
    assert r.status == 200, r
    (work / "ca.p7").write_bytes(r.body)
    pem = p7_to_pem(work / "ca.p7", work / "ca.pem")
    assert (ok(["openssl", "x509", "-in", pem, "-noout", "-fingerprint"]).stdout ==
            ok(["openssl", "x509", "-in", pair.upstream.ca, "-noout", "-fingerprint"]).stdout)


def test_reenroll_through_the_ra(pair, work):
    out = work / "first"
    ok([EST, "enroll", "--server", pair.url, "--cacert", pair.ca, "--user", USER,
        "--subject", "CN=renewme", "--out", out], env=base_env(EST_PASSWORD=PASSWORD))
    new = work / "second"
    cp = run([EST, "reenroll", "--server", pair.url, "--cacert", pair.ca,
              "--cert", out / "cert.pem", "--key", out / "key.pem", "--out", new])
    assert cp.returncode == 0, describe(cp)
    verify(pair.upstream.ca, new / "cert.pem")
    assert cert_subject(new / "cert.pem") == "subject=CN=renewme"
    recs = [r for r in pair.certs() if r["op"] == "simplereenroll via proxy"]
    assert recs and recs[-1]["requester"].startswith("cert:"), recs


def test_upstream_refusals_are_passed_on(pair, work):
    # the CA's profile refuses a 1024-bit RSA key: 400 with its reason
    csr, _ = make_csr(work, "weak", key="rsa:1024", der=True)
    r = _post(pair, work, "simpleenroll", None, csr)
    assert r.status == 400, r
    assert b"RSA" in r.body or b"key" in r.body, r
    # the CA does not know the RA without its key: 401 upstream -> 502
    csr, _ = make_csr(work, "anon", der=True)
    r = _post(pair, work, "simpleenroll", "anon", csr)
    assert r.status == 502, r
    assert b"upstream refused RA credentials" in r.body, r


def test_pending_upstream_is_202_with_its_retry_after(pair, work):
    csr, _ = make_csr(work, "held", der=True)
    r = _post(pair, work, "simpleenroll", "held", csr)
    assert r.status == 202, r
    assert r.header("Retry-After") == ["5"], r


def test_csrattrs_and_serverkeygen_through_the_ra(pair, work):
    r = curl(pair.est_url("csrattrs"), work, cafile=pair.ca)
    assert r.status == 200, r
    up = curl(pair.upstream.est_url("csrattrs"), work, cafile=pair.upstream.ca)
    assert up.status == 200 and r.body.strip() == up.body.strip(), (r, up)
    out = work / "skg"
    cp = run([EST, "serverkeygen", "--server", pair.url, "--cacert", pair.ca, "--user", USER,
              "--password", PASSWORD, "--subject", "CN=skg1", "--out", out])
    assert cp.returncode == 0, describe(cp)
    verify(pair.upstream.ca, out / "cert.pem")
    assert (ok(["openssl", "x509", "-in", out / "cert.pem", "-noout", "-pubkey"]).stdout ==
            ok(["openssl", "pkey", "-in", out / "key.pem", "-pubout"]).stdout)


def test_upstream_down_is_a_fast_503_and_recovers(pair, work):
    ca = pair.upstream
    csr, _ = make_csr(work, "down", der=True)
    ca.stop(signal.SIGKILL)
    try:
        t0 = time.monotonic()
        r = _post(pair, work, "simpleenroll", None, csr)
        took = time.monotonic() - t0
        assert r.status == 503, r
        assert r.header("Retry-After") == ["9"], r
        assert took < UPSTREAM_TIMEOUT + 1, f"took {took:.1f}s"
        r = curl(pair.est_url("cacerts"), work, cafile=pair.ca)
        assert r.status == 503, r
    finally:
        ca.start()
    r = _post(pair, work, "simpleenroll", None, csr)
    assert r.status == 200, r


def test_ca_trusts_only_listed_ras_with_the_channel_binding(pair, work):
    """The client binds its CSR to its connection to the RA (RFC 7030 3.5); the RA
    checks it; the CA (require_channel_binding) accepts that from RA 1 only
    ([auth] ra_certs, RFC 7030 3.7), RA 2 is refused with the CA's reason."""
    env = base_env(EST_PASSWORD=PASSWORD)
    out = work / "bound"
    cp = run([EST, "enroll", "--server", f"{pair.url}/bound", "--cacert", pair.ca, "--user",
              USER, "--subject", "CN=bound1", "--channel-binding", "--out", out], env=env)
    assert cp.returncode == 0, describe(cp)
    verify(pair.upstream.ca, out / "cert.pem")
    cp = run([EST, "enroll", "--server", f"{pair.url}/bound2", "--cacert", pair.ca, "--user",
              USER, "--subject", "CN=bound2", "--channel-binding", "--out", work / "b2"],
             env=env)
    assert cp.returncode != 0, describe(cp)
    assert "403" in cp.stderr and "channel binding" in cp.stderr, describe(cp)
