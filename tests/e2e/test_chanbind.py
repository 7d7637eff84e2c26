"""Channel binding (RFC 7030 3.5): linking identity and proof of possession.

A label with require_channel_binding = yes takes only requests that carry the
binding of the TLS connection they arrive on: tls-unique on TLS 1.2,
tls-exporter (RFC 9266) on TLS 1.3, in challengePassword or in the RFC 7894
estIdentityLinking attribute. Driven with est, curl, openssl and, for an
independent tls-unique, Python's ssl module.
"""

import base64
import http.client
import ssl

import pytest

from conftest import serving
from e2e_util import (EST, PASSWORD, USER, Estd, base_env, curl, describe, est_enroll, ok,
                      run, set_ini, sh)

LABEL = "bound"
TLS = ["1.2", "1.3"]


@pytest.fixture(scope="module")
def bsrv(tmp_path_factory):
    """An estd whose label 'bound' requires channel binding; the default does not."""
    srv = Estd(tmp_path_factory.mktemp("cb")).init()
    set_ini(srv.conf, f"label {LABEL}", "require_channel_binding", "yes")
    yield from serving(srv)


def post_csr(srv, work, pem_csr, label=None):
    """curl: POST a PEM request on a new connection of its own."""
    b64 = work / "post.b64"
    cp = sh(f"openssl req -in '{pem_csr}' -outform DER | openssl base64 > '{b64}'")
    assert cp.returncode == 0, describe(cp)
    return curl(srv.est_url("simpleenroll", label), work, cafile=srv.ca,
                user=f"{USER}:{PASSWORD}", data_file=b64, ctype="application/pkcs10")


def attrs_text(pem_csr):
    return ok(["openssl", "req", "-in", pem_csr, "-noout", "-text"]).stdout


@pytest.mark.parametrize("tls", TLS)
def test_bound_enrollment_succeeds(bsrv, work, tls):
    out = work / "o"
    out.mkdir()
    est_enroll(bsrv, out, subject=f"CN=bound-{tls}", label=LABEL,
               extra=["--channel-binding", "--tls-max", tls, "--csr-out", work / "sent.csr"])
    text = attrs_text(work / "sent.csr")
    assert "challengePassword" in text
    # tls-unique is a 12-byte Finished (16 base64 chars), tls-exporter 32 bytes (44)
    val = text.split("challengePassword", 1)[1].split(":", 1)[1].split()[0]
    assert len(base64.b64decode(val)) == (12 if tls == "1.2" else 32)


@pytest.mark.parametrize("tls", TLS)
def test_identity_linking_attribute_succeeds(bsrv, work, tls):
    out = work / "o"
    out.mkdir()
    est_enroll(bsrv, out, subject=f"CN=linked-{tls}", label=LABEL,
               extra=["--identity-linking", "--tls-max", tls, "--csr-out", work / "sent.csr"])
    text = attrs_text(work / "sent.csr")
    assert "1.2.840.113549.1.9.16.2.58" in text  # estIdentityLinking (RFC 7894)
    assert "challengePassword" not in text


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("flag", ["--channel-binding", "--identity-linking"])
def test_request_bound_to_another_connection_is_refused(bsrv, work, tls, flag):
    out = work / "o"
    out.mkdir()
    est_enroll(bsrv, out, subject=f"CN=replay-{tls}", label=LABEL,
               extra=[flag, "--tls-max", tls, "--csr-out", work / "sent.csr"])
    # the same request, posted by curl on a connection of its own
    for label in (LABEL, None):
        r = post_csr(bsrv, work, work / "sent.csr", label)
        if label is None and flag == "--channel-binding":
            # not required there: a challengePassword may be meant for the backend
            assert r.status == 200, r
        else:
            assert r.status == 403, r
            assert b"channel binding does not match this TLS connection" in r.body, r


@pytest.mark.parametrize("tls", TLS)
def test_label_requiring_binding_refuses_unbound_request(bsrv, work, tls):
    out = work / "o"
    out.mkdir()
    cp = est_enroll(bsrv, out, subject="CN=unbound", label=LABEL, check=False,
                    extra=["--tls-max", tls])
    assert cp.returncode == 1, describe(cp)
    assert "HTTP 400: channel binding required" in cp.stderr, describe(cp)
    assert not (out / "cert.pem").exists()


def test_label_requiring_binding_refuses_openssl_request_without_it(bsrv, work):
    ok(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", work / "k.pem", "-subj", "/CN=plain", "-out", work / "r.csr"])
    r = post_csr(bsrv, work, work / "r.csr", LABEL)
    assert r.status == 400 and b"channel binding required" in r.body, r
    r = post_csr(bsrv, work, work / "r.csr")
    assert r.status == 200, r  # the default label does not require it


def test_independent_tls_unique_is_accepted(bsrv, work):
    """Python's ssl computes tls-unique itself; openssl req puts it in
    challengePassword; the request goes out on that same connection."""
    ctx = ssl.create_default_context(cafile=str(bsrv.ca))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    conn = http.client.HTTPSConnection("127.0.0.1", bsrv.port, context=ctx, timeout=30)
    try:
        conn.connect()
        cb = base64.b64encode(conn.sock.get_channel_binding("tls-unique")).decode()
        cnf = work / "req.cnf"
        cnf.write_text("[req]\nprompt = no\ndistinguished_name = dn\nattributes = attrs\n"
                       f"[dn]\nCN = py\n[attrs]\nchallengePassword = {cb}\n")
        ok(["openssl", "req", "-new", "-config", cnf, "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", work / "py.key", "-outform",
            "DER", "-out", work / "py.der"])
        body = base64.b64encode((work / "py.der").read_bytes())
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        conn.request("POST", f"/.well-known/est/{LABEL}/simpleenroll", body=body,
                     headers={"Content-Type": "application/pkcs10",
                              "Authorization": "Basic " + auth})
        resp = conn.getresponse()
        data = resp.read()
        assert resp.status == 200, (resp.status, data)
    finally:
        conn.close()


def test_channel_binding_needs_a_request_est_builds(bsrv, work):
    ok(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", work / "k.pem", "-subj", "/CN=x", "-out", work / "r.csr"])
    cp = run([EST, "enroll", "--server", bsrv.url, "--cacert", bsrv.ca, "--user", USER,
              "--csr", work / "r.csr", "--channel-binding"],
             env=base_env(EST_PASSWORD=PASSWORD))
    assert cp.returncode == 2, describe(cp)
    cp = run([EST, "enroll", "--server", bsrv.url, "--cacert", bsrv.ca, "--tls-max", "1.1",
              "--subject", "CN=x"])
    assert cp.returncode == 2 and "--tls-max" in cp.stderr, describe(cp)
