"""/csrattrs (RFC 7030 4.5, RFC 9908): what estd serves per label, seen with
curl and openssl; `est csrattrs` printing it; `est enroll` following it."""

import sqlite3

import pytest

from e2e_util import EST, PASSWORD, USER, Estd, cert_text, curl, ok, run, set_ini

AUTH = f"{USER}:{PASSWORD}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Estd(tmp_path_factory.mktemp("csrattrs")).init()
    set_ini(s.conf, "label", "profile", "default")
    set_ini(s.conf, "label p384", "csrattrs",
            "challengePassword, ecPublicKey:secp384r1, ecdsa-with-SHA384")
    set_ini(s.conf, "label sha512", "csrattrs", "ecPublicKey:prime256v1, ecdsa-with-SHA512")
    set_ini(s.conf, "label named", "csrattrs_san", "DNS:device.example.com, IP:192.0.2.9")
    set_ini(s.conf, "label tmpl", "csrattrs_subject", "CN=templated,O=Example")
    set_ini(s.conf, "label tmpl", "csrattrs_san", "DNS:t.example.com")
    set_ini(s.conf, "label locked", "csrattrs", "challengePassword")
    set_ini(s.conf, "label locked", "csrattrs_auth", "required")
    s.start()
    yield s
    s.teardown()


def _est(srv, *args, label=None):
    url = f"{srv.url}/{label}" if label else srv.url
    return [EST, args[0], "--server", url, "--cacert", srv.ca, *args[1:]]


def _asn1parse(work, body):
    (work / "attrs.b64").write_bytes(body)
    ok(["openssl", "base64", "-d", "-in", work / "attrs.b64", "-out", work / "attrs.der"])
    return ok(["openssl", "asn1parse", "-inform", "DER", "-in", work / "attrs.der"]).stdout


def test_label_with_csrattrs_answers_200_application_csrattrs(srv, work):
    r = curl(srv.est_url("csrattrs", "p384"), work, cafile=srv.ca)
    assert r.status == 200, r
    assert r.header("Content-Type") == ["application/csrattrs"], r
    dump = _asn1parse(work, r.body)
    for name in ("challengePassword", "id-ecPublicKey", "secp384r1", "ecdsa-with-SHA384"):
        assert name in dump, dump


def test_label_without_csrattrs_answers_204(srv, work):
    r = curl(srv.est_url("csrattrs"), work, cafile=srv.ca)
    assert r.status == 204, r
    assert r.body == b"", r


def test_csrattrs_auth_required_wants_credentials(srv, work):
    r = curl(srv.est_url("csrattrs", "locked"), work, cafile=srv.ca)
    assert r.status == 401, r
    assert any("Basic" in v for v in r.header("WWW-Authenticate")), r
    r = curl(srv.est_url("csrattrs", "locked"), work, cafile=srv.ca, user=AUTH)
    assert r.status == 200, r
    r = curl(srv.est_url("csrattrs", "locked"), work, cafile=srv.ca, user=f"{USER}:wrong")
    assert r.status == 401, r


def test_csrattrs_refuses_post(srv, work):
    (work / "x").write_text("x")
    r = curl(srv.est_url("csrattrs", "p384"), work, cafile=srv.ca, data_file=work / "x")
    assert r.status == 405, r


def test_est_csrattrs_prints_names_and_saves_der(srv, work):
    cp = ok(_est(srv, "csrattrs", "--der", work / "a.der", label="p384"))
    assert cp.stdout.splitlines() == ["challengePassword", "ecPublicKey (secp384r1)",
                                      "ecdsa-with-SHA384"], cp.stdout
    assert "secp384r1" in ok(["openssl", "asn1parse", "-inform", "DER",
                              "-in", work / "a.der"]).stdout
    cp = ok(_est(srv, "csrattrs", label="named"))
    assert "extensionRequest: subjectAltName DNS:device.example.com, IP:192.0.2.9" \
        in cp.stdout, cp.stdout
    cp = ok(_est(srv, "csrattrs", label="tmpl"))
    assert "certificationRequestInfoTemplate:" in cp.stdout, cp.stdout
    assert 'subject: O="Example", CN="templated"' in cp.stdout, cp.stdout
    cp = ok(_est(srv, "csrattrs"))
    assert "no CSR attributes" in cp.stdout, cp.stdout


def _enroll(srv, work, label, *extra):
    out = work / label
    out.mkdir()
    cp = run(_est(srv, "enroll", "--user", USER, "--password", PASSWORD, "--out", out,
                  *extra, label=label))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return out, cp


def _stored_csr_text(srv, work, subject_part):
    db = sqlite3.connect(srv.dir / "estd.db")
    try:
        rows = db.execute("SELECT csr FROM certs WHERE subject LIKE ? "
                          "ORDER BY issued_at DESC", (f"%{subject_part}%",)).fetchall()
    finally:
        db.close()
    assert rows, "no stored request"
    (work / "stored.csr").write_bytes(rows[0][0])
    return ok(["openssl", "req", "-inform", "DER", "-in", work / "stored.csr", "-noout",
               "-text"]).stdout


def test_enroll_follows_p384_and_sha384(srv, work):
    out, cp = _enroll(srv, work, "p384", "--subject", "CN=follow384",
                      "--challenge-password", "s3cret")
    text = cert_text(out / "cert.pem")
    assert "NIST CURVE: P-384" in text or "secp384r1" in text, text
    csr = _stored_csr_text(srv, work, "follow384")
    assert "ecdsa-with-SHA384" in csr, csr
    assert "challengePassword" in csr, csr


def test_enroll_uses_the_hash_asked_for_not_the_default(srv, work):
    out, _ = _enroll(srv, work, "sha512", "--subject", "CN=follow512")
    assert "prime256v1" in cert_text(out / "cert.pem") or \
        "P-256" in cert_text(out / "cert.pem")
    csr = _stored_csr_text(srv, work, "follow512")
    assert "ecdsa-with-SHA512" in csr, csr
    # and without following, the default hash for P-256
    out2 = work / "nofollow"
    out2.mkdir()
    ok(_est(srv, "enroll", "--user", USER, "--password", PASSWORD, "--out", out2,
            "--subject", "CN=nofollow", "--no-csrattrs", label="sha512"))
    assert "ecdsa-with-SHA256" in _stored_csr_text(srv, work, "nofollow")


def test_enroll_takes_sans_from_csrattrs(srv, work):
    out, _ = _enroll(srv, work, "named", "--subject", "CN=named")
    text = cert_text(out / "cert.pem")
    assert "DNS:device.example.com" in text and "IP Address:192.0.2.9" in text, text


def test_enroll_takes_subject_and_san_from_template(srv, work):
    out, _ = _enroll(srv, work, "tmpl")
    text = cert_text(out / "cert.pem")
    assert "CN = templated" in text or "CN=templated" in text, text
    assert "DNS:t.example.com" in text, text


def test_enroll_warns_when_it_cannot_satisfy(srv, work):
    _, cp = _enroll(srv, work, "p384", "--subject", "CN=nopw")
    assert "challengePassword" in cp.stderr, cp.stderr
