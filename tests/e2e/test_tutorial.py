"""The RFC 7030 tutorial flows, byte for byte: curl and the openssl CLI
against estd, with no estkit code on the client side."""

import shutil

from e2e_util import (PASSWORD, USER, curl, describe, make_csr, ok, p7_to_pem,
                      run, sh, verify)


def test_cacerts_with_curl_and_openssl_shows_ca_subject(server, work):
    shutil.copy(server.ca, work / "ca.pem")
    ok(["curl", "-sS", "--fail", f"{server.url}/.well-known/est/cacerts",
        "--cacert", "ca.pem", "-o", "cacerts.p7"], cwd=work)
    cp = sh("openssl base64 -d -in cacerts.p7 | openssl pkcs7 -inform DER -print_certs",
            cwd=work)
    assert cp.returncode == 0, describe(cp)
    ca_subject = ok(["openssl", "x509", "-in", "ca.pem", "-noout", "-subject"],
                    cwd=work).stdout.strip()           # "subject=CN = ..."
    assert ca_subject.split("=", 1)[1].strip() in cp.stdout, describe(cp)
    assert "BEGIN CERTIFICATE" in cp.stdout


def test_cacerts_response_has_rfc7030_content_type(server, work):
    r = curl(server.est_url("cacerts"), work, cafile=server.ca)
    assert r.status == 200, r
    assert any(v.lower().startswith("application/pkcs7-mime")
               for v in r.header("Content-Type")), r


def _enroll_with_curl(server, work, b64file, out="cert.p7"):
    """The tutorial's simpleenroll: --anyauth, Basic after the 401 challenge."""
    return run(["curl", "-sS", "--fail", f"{server.url}/.well-known/est/simpleenroll",
                "--anyauth", "-u", f"{USER}:{PASSWORD}", "--cacert", "ca.pem",
                "--data-binary", f"@{b64file}", "-H", "Content-Type: application/pkcs10",
                "-o", out], cwd=work)


def test_simpleenroll_der_csr_base64_with_curl_verifies(server, work):
    shutil.copy(server.ca, work / "ca.pem")
    ok(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem",
        "-out", "csr.der", "-outform", "DER", "-subj", "/CN=x"], cwd=work)
    ok(["openssl", "base64", "-in", "csr.der", "-out", "csr.b64"], cwd=work)
    cp = _enroll_with_curl(server, work, "csr.b64")
    assert cp.returncode == 0, describe(cp)
    cp = sh("openssl base64 -d -in cert.p7 | "
            "openssl pkcs7 -inform DER -print_certs -out cert.pem", cwd=work)
    assert cp.returncode == 0, describe(cp)
    cp = ok(["openssl", "verify", "-CAfile", "ca.pem", "cert.pem"], cwd=work)
    assert "cert.pem: OK" in cp.stdout
    # The certificate is for the key we made.
    pub_cert = ok(["openssl", "x509", "-in", "cert.pem", "-noout", "-pubkey"],
                  cwd=work).stdout
    pub_key = ok(["openssl", "pkey", "-in", "k.pem", "-pubout"], cwd=work).stdout
    assert pub_cert == pub_key
    assert "CN = x" in ok(["openssl", "x509", "-in", "cert.pem", "-noout", "-subject"],
                          cwd=work).stdout


def test_simpleenroll_pem_csr_with_armour_stripped_verifies(server, work):
    shutil.copy(server.ca, work / "ca.pem")
    ok(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem",
        "-out", "csr.p10", "-subj", "/CN=x"], cwd=work)
    # What tutorials do: drop the BEGIN/END lines, keep the base64 lines.
    ok(["sh", "-c", "sed '/-----/d' csr.p10 > csr.b64"], cwd=work)
    cp = _enroll_with_curl(server, work, "csr.b64")
    assert cp.returncode == 0, describe(cp)
    p7_to_pem("cert.p7", work / "cert.pem", cwd=work)
    verify(work / "ca.pem", work / "cert.pem")


def test_simpleenroll_pem_armoured_body_is_rejected_as_malformed_base64(server, work):
    """A PEM-armoured CSR is not the base64 body RFC 7030 4.2.1 asks for:
    estd answers 400 (documented in tests/e2e/README.md and README.md)."""
    csr, _ = make_csr(work, "armoured")
    r = curl(server.est_url("simpleenroll"), work, cafile=server.ca,
             user=f"{USER}:{PASSWORD}", data_file=csr, ctype="application/pkcs10")
    assert r.status == 400, r
    assert r.body.strip(), "a 400 should say why\n" + repr(r)
