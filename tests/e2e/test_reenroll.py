"""Re-enrollment (RFC 7030 4.2.2): the current certificate authenticates the
TLS connection, and the new request must keep its subject."""

from e2e_util import (EST, PASSWORD, USER, cert_pubkey, cert_serial, cert_subject,
                      curl, describe, est_enroll, key_pubkey, make_csr, ok, p7_to_pem,
                      run, verify)


def _enrolled(server, work, name):
    out = work / name
    est_enroll(server, out, subject=f"/CN={name}", san=[f"DNS:{name}.example"],
               key_type="ec:P-256")
    return out / "cert.pem", out / "key.pem"


def test_reenroll_with_client_cert_gives_new_key_same_subject(server, work):
    cert, key = _enrolled(server, work, "re-dev")
    out = work / "renewed"
    ok([EST, "reenroll", "--server", server.url, "--cacert", server.ca,
        "--cert", cert, "--key", key, "--out", out])
    new_cert, new_key = out / "cert.pem", out / "key.pem"
    verify(server.ca, new_cert)
    assert cert_subject(new_cert) == cert_subject(cert)
    assert cert_pubkey(new_cert) == key_pubkey(new_key)
    assert cert_pubkey(new_cert) != cert_pubkey(cert), "re-enroll kept the old key"
    assert cert_serial(new_cert) != cert_serial(cert)
    san = ok(["openssl", "x509", "-in", new_cert, "-noout", "-ext", "subjectAltName"]).stdout
    assert "DNS:re-dev.example" in san, san
    assert server.cert_record(cert_serial(new_cert)) is not None


def test_reenroll_rejects_changed_subject(server, work):
    cert, key = _enrolled(server, work, "re-subj")
    csr, _ = make_csr(work, "other", subj="/CN=someone-else")
    out = work / "renewed"
    cp = run([EST, "reenroll", "--server", server.url, "--cacert", server.ca,
              "--cert", cert, "--key", key, "--csr", csr, "--out", out])
    assert cp.returncode == 1, describe(cp)
    assert "400" in cp.stderr, describe(cp)
    assert not (out / "cert.pem").exists()


def test_reenroll_with_basic_auth_only_is_refused(server, work):
    """simplereenroll needs the TLS client certificate, Basic is not enough."""
    csr, _ = make_csr(work, "basic-only", der=True)
    ok(["openssl", "base64", "-in", csr, "-out", work / "csr.b64"])
    r = curl(server.est_url("simplereenroll"), work, cafile=server.ca,
             user=f"{USER}:{PASSWORD}", data_file=work / "csr.b64",
             ctype="application/pkcs10")
    assert r.status in (401, 403), r


def test_reenroll_with_curl_and_client_cert(server, work):
    """The same flow by hand: curl --cert/--key and a CSR with the same subject."""
    cert, key = _enrolled(server, work, "re-curl")
    csr, newkey = make_csr(work, "re-curl-new", subj="/CN=re-curl", der=True,
                           addext="subjectAltName=DNS:re-curl.example")
    ok(["openssl", "base64", "-in", csr, "-out", work / "csr.b64"])
    r = curl(server.est_url("simplereenroll"), work, cafile=server.ca,
             data_file=work / "csr.b64", ctype="application/pkcs10",
             extra=["--cert", cert, "--key", key])
    assert r.status == 200, r
    (work / "new.p7").write_bytes(r.body)
    p7_to_pem(work / "new.p7", work / "new.pem")
    verify(server.ca, work / "new.pem")
    assert cert_pubkey(work / "new.pem") == key_pubkey(newkey)
    assert cert_subject(work / "new.pem") == cert_subject(cert)
