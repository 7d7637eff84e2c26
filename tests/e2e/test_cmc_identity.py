"""identityProofV2 on /fullcmc (RFC 5272 6.2.1, RFC 7030 4.3): a label with
cmc_require_identity_proof = yes refuses a PKIData without a valid proof with
CMC failInfo badIdentity (HTTP 403); est fullcmc --identity-proof-secret-file
builds one."""

import base64

import pytest

from conftest import serving
from e2e_util import EST, PASSWORD, USER, Estd, base_env, curl, describe, ok, run, set_ini

CMC_REQ = "application/pkcs7-mime; smime-type=CMC-request"
SECRET = "correct horse battery staple"


@pytest.fixture
def idp_server(tmp_path):
    srv = Estd(tmp_path / "idp").init()
    sec = srv.dir / "cmc-id.secret"
    sec.write_text(SECRET + "\n")
    sec.chmod(0o600)
    set_ini(srv.conf, "label", "cmc_require_identity_proof", "yes")
    set_ini(srv.conf, "label", "cmc_identity_secret_file", "cmc-id.secret")
    yield from serving(srv)


def _fullcmc(srv, work, name, *extra):
    return run([EST, "fullcmc", "--server", srv.url, "--cacert", srv.ca, "--user", USER,
                "--subject", f"/CN={name}", "--out", work / name, *extra],
               env=base_env(EST_PASSWORD=PASSWORD))


def test_fullcmc_with_the_right_identity_proof(idp_server, work):
    good = work / "good.secret"
    good.write_text(SECRET + "\n")
    cp = _fullcmc(idp_server, work, "idp-ok", "--identity-proof-secret-file", good,
                  "--identification", "device-42")
    assert cp.returncode == 0, describe(cp)
    assert (work / "idp-ok" / "cert.pem").exists()


def test_fullcmc_without_or_with_a_wrong_proof_is_bad_identity(idp_server, work):
    cp = _fullcmc(idp_server, work, "idp-none")
    assert cp.returncode == 1, describe(cp)
    assert "badIdentity" in cp.stderr or "identityProofV2" in cp.stderr, describe(cp)
    bad = work / "bad.secret"
    bad.write_text("wrong secret\n")
    cp = _fullcmc(idp_server, work, "idp-bad", "--identity-proof-secret-file", bad)
    assert cp.returncode == 1, describe(cp)
    assert not (work / "idp-bad" / "cert.pem").exists()


def test_refusal_by_hand_is_403_with_a_signed_cmc_failure(idp_server, work):
    req = work / "noproof.b64"
    ok([EST, "fullcmc", "--cacert", idp_server.ca, "--subject", "/CN=by-hand",
        "--out", work / "h", "--save-request", req])
    r = curl(idp_server.est_url("fullcmc"), work, cafile=idp_server.ca,
             user=f"{USER}:{PASSWORD}", data_file=req, ctype=CMC_REQ)
    assert r.status == 403, r
    der = work / "resp.der"
    der.write_bytes(base64.b64decode(r.body))
    ok(["openssl", "cms", "-verify", "-inform", "DER", "-in", der, "-CAfile", idp_server.ca,
        "-purpose", "any", "-binary", "-out", work / "pkiresponse.der"])
    text = ok(["openssl", "asn1parse", "-inform", "DER", "-in",
               work / "pkiresponse.der"]).stdout
    assert "id-cmc-statusInfoV2" in text or "1.3.6.1.5.5.7.7.25" in text, text
    # with the proof the same kind of request is issued
    good = work / "good.secret"
    good.write_text(SECRET)
    req2 = work / "proof.b64"
    ok([EST, "fullcmc", "--cacert", idp_server.ca, "--subject", "/CN=by-hand-2",
        "--out", work / "h2", "--save-request", req2, "--identity-proof-secret-file", good])
    r = curl(idp_server.est_url("fullcmc"), work, cafile=idp_server.ca,
             user=f"{USER}:{PASSWORD}", data_file=req2, ctype=CMC_REQ)
    assert r.status == 200, r
