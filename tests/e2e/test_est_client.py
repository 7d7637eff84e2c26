"""The est client CLI against estd: cacerts (explicit trust and bootstrap),
enroll with every way to give a password and several key types."""

import stat

import pytest

from e2e_util import (EST, ESTD, base_env, cert_pubkey, cert_serial, cert_text,
                      describe, est_enroll, fingerprint, key_pubkey, ok, run, verify)


def _pem_fingerprints(path):
    """SHA-256 fingerprints of every certificate in a PEM file."""
    text = path.read_text()
    assert "-----BEGIN CERTIFICATE-----" in text, text[:300]
    fps, blocks = [], text.split("-----END CERTIFICATE-----")[:-1]
    for i, b in enumerate(blocks):
        one = path.parent / f"{path.name}.{i}.pem"
        one.write_text(b[b.index("-----BEGIN CERTIFICATE-----"):] +
                       "-----END CERTIFICATE-----\n")
        fps.append(fingerprint(one))
    return fps


def test_init_makes_private_files_0600(server):
    for name in ("ca.pem", "ca.key", "tls.pem", "tls.key", "estd.conf", "estd.db", "users"):
        assert (server.dir / name).is_file(), name
    for name in ("ca.key", "tls.key", "users"):
        mode = stat.S_IMODE((server.dir / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {mode:o}"


def test_cacerts_with_explicit_trust_writes_ca(server, work):
    out = work / "cacerts.pem"
    ok([EST, "cacerts", "--server", server.url, "--cacert", server.ca, "--out", out])
    assert fingerprint(server.ca) in _pem_fingerprints(out)


def test_cacerts_bootstrap_with_right_fingerprint_writes_ca(server, work):
    out = work / "boot.pem"
    fp = fingerprint(server.ca)                      # with colons, as openssl prints it
    ok([EST, "cacerts", "--server", server.url, "--insecure-bootstrap",
        "--fingerprint", fp, "--out", out])
    assert fp in _pem_fingerprints(out)


def test_cacerts_bootstrap_with_wrong_fingerprint_fails_and_writes_nothing(server, work):
    out = work / "boot.pem"
    fp = fingerprint(server.ca)
    wrong = ("0" if fp[0] != "0" else "1") + fp[1:]
    cp = run([EST, "cacerts", "--server", server.url, "--insecure-bootstrap",
              "--fingerprint", wrong, "--out", out])
    assert cp.returncode != 0, describe(cp)
    assert not out.exists(), "est wrote a file for an unverified CA"
    assert cp.stderr.strip(), "no error message"


def test_cacerts_without_trust_anchor_fails(server, work):
    cp = run([EST, "cacerts", "--server", server.url, "--out", work / "x.pem"])
    assert cp.returncode != 0, describe(cp)
    assert not (work / "x.pem").exists()


KEY_CASES = [
    # key type, how the password is given, what `openssl x509 -text` shows
    ("ec:P-256", "env", ["id-ecPublicKey", "prime256v1"]),
    ("rsa:2048", "file", ["rsaEncryption", "(2048 bit)"]),
    ("ed25519", "env", ["ED25519"]),
    (None, "arg", []),
]


@pytest.mark.parametrize("key_type,how,expect", KEY_CASES,
                         ids=[f"{k or 'default'}-{h}" for k, h, _ in KEY_CASES])
def test_enroll_issues_verifiable_cert_recorded_by_server(server, work, key_type, how, expect):
    name = f"dev-{(key_type or 'default').replace(':', '-').lower()}-{how}"
    out = work / "out"
    est_enroll(server, out, subject=f"/CN={name}", san=[f"DNS:{name}.example"],
               key_type=key_type, how=how)
    cert, key = out / "cert.pem", out / "key.pem"

    mode = stat.S_IMODE(key.stat().st_mode)
    assert mode == 0o600, f"key.pem has mode {mode:o}"
    verify(server.ca, cert)
    assert cert_pubkey(cert) == key_pubkey(key), "cert.pem is not for key.pem"
    text = cert_text(cert)
    for word in expect:
        assert word in text, f"{word!r} not in\n{text}"
    assert f"CN = {name}" in ok(["openssl", "x509", "-in", cert, "-noout",
                                 "-subject"]).stdout
    san = ok(["openssl", "x509", "-in", cert, "-noout", "-ext", "subjectAltName"]).stdout
    assert f"DNS:{name}.example" in san, san
    # chain.pem holds the CA.
    assert fingerprint(server.ca) in _pem_fingerprints(out / "chain.pem")

    serial = cert_serial(cert)
    rec = server.cert_record(serial)
    assert rec is not None, f"serial {serial} not in estd certs list --json"
    for field in ("serial", "subject", "label", "requester", "not_after"):
        assert field in rec, f"{field} missing from {rec}"
    assert name in rec["subject"], rec
    assert rec["requester"] and "estuser" in str(rec["requester"]), rec

    shown = ok([ESTD, "certs", "show", rec["serial"], "-c", server.conf])
    assert name in shown.stdout, describe(shown)
    pem = ok([ESTD, "certs", "show", rec["serial"], "-c", server.conf, "--pem"]).stdout
    (work / "shown.pem").write_text(pem)
    assert fingerprint(work / "shown.pem") == fingerprint(cert)


def test_enroll_with_wrong_password_exits_1_with_http_401(server, work):
    cp = est_enroll(server, work / "out", subject="/CN=nope", password="wrong",
                    check=False)
    assert cp.returncode == 1, describe(cp)
    assert "401" in cp.stderr, describe(cp)
    assert not (work / "out" / "cert.pem").exists()


def test_enroll_without_credentials_exits_1_with_http_401(server, work):
    cp = run([EST, "enroll", "--server", server.url, "--cacert", server.ca,
              "--subject", "/CN=anon", "--out", work / "out"])
    assert cp.returncode == 1, describe(cp)
    assert "401" in cp.stderr, describe(cp)


def test_enroll_with_bad_usage_exits_2(server, work):
    cp = run([EST, "enroll", "--no-such-option"])
    assert cp.returncode == 2, describe(cp)
    cp = run([EST, "enroll", "--server", server.url, "--cacert", server.ca,
              "--subject", "/CN=x", "--key-type", "dsa:1024", "--out", work / "o"],
             env=base_env(EST_PASSWORD="estpwd"))
    assert cp.returncode in (1, 2), describe(cp)


def test_enroll_with_own_csr_and_key(server, work):
    key = work / "own.key"
    ok(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", key])
    csr = work / "own.csr"
    ok(["openssl", "req", "-new", "-key", key, "-subj", "/CN=own-csr", "-out", csr])
    out = work / "out"
    ok([EST, "enroll", "--server", server.url, "--cacert", server.ca, "--user", "estuser",
        "--csr", csr, "--key", key, "--out", out], env=base_env(EST_PASSWORD="estpwd"))
    verify(server.ca, out / "cert.pem")
    assert cert_pubkey(out / "cert.pem") == key_pubkey(key)
