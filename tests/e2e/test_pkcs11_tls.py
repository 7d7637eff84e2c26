"""The TLS server key on a PKCS#11 token (SoftHSM2): [server] tls_key =
pkcs11:URI. The key is generated on the token and never exists as a file;
its certificate is made from the token's public key. estd opens the key in
the process that serves TLS (the signer process keeps the CA key apart):
est cacerts and est enroll succeed over a handshake only the token's key can
sign, with the CA key in a file and with the CA key on the token too. A
wrong PIN stops estd at start, naming the TLS key."""

import pytest

from e2e_util import (EST, ESTD, PASSWORD, USER, Estd, base_env, describe, est_enroll, ok,
                      run, set_ini, verify)
from test_pkcs11 import PIN, _init_on_token, token  # noqa: F401  (token is a fixture)

TOKEN_URI = "pkcs11:token=estd-ca;object={};type=private"


def _token_pubkey(token, label, tmp_path):
    der = tmp_path / f"{label}.pub.der"
    ok(["pkcs11-tool", "--module", token["module"], "--token-label", "estd-ca",
        "--read-object", "--type", "pubkey", "--label", label, "-o", der])
    pem = tmp_path / f"{label}.pub.pem"
    ok(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", der, "-out", pem])
    return pem


def _tls_cert_for_token_key(srv, token, label, tmp_path, ca_key):
    """A TLS server certificate for 127.0.0.1 carrying the token key's public
    key, issued by the server's CA (ca_key: its key file, or None: an
    openssl-made CA of the test's own that the clients are given)."""
    pub = _token_pubkey(token, label, tmp_path)
    # the request's own key is thrown away: -force_pubkey puts the token's in
    ok(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", tmp_path / "throwaway.key", "-subj", "/CN=127.0.0.1",
        "-out", tmp_path / "tls.csr"])
    ext = tmp_path / "tls.ext"
    ext.write_text("subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n"
                   "keyUsage = critical, digitalSignature\n")
    ca_cert, ca_keyfile = ca_key
    cert = srv.dir / "tls-token.pem"
    ok(["openssl", "x509", "-req", "-in", tmp_path / "tls.csr", "-CA", ca_cert,
        "-CAkey", ca_keyfile, "-CAcreateserial", "-days", "2", "-force_pubkey", pub,
        "-extfile", ext, "-out", cert])
    (tmp_path / "throwaway.key").unlink()
    return cert, pub


def _use_token_tls_key(srv, token, label, cert):
    set_ini(srv.conf, "server", "tls_cert", cert)
    set_ini(srv.conf, "server", "tls_key", TOKEN_URI.format(label))
    set_ini(srv.conf, "server", "tls_key_pin_file", token["pin"])
    set_ini(srv.conf, "ca", "pkcs11_module", token["module"])
    (srv.dir / "tls.key").unlink()  # no TLS key file to fall back on


def _cacerts_and_enroll(srv, work, name):
    out = work / name
    cp = run([EST, "cacerts", "--server", srv.url, "--cacert", srv.ca, "--out",
              work / f"{name}-ca.pem"])
    assert cp.returncode == 0, describe(cp) + "\n" + srv.log_tail()
    cp = est_enroll(srv, out, subject=f"/CN={name}", check=False)
    assert cp.returncode == 0, describe(cp) + "\n" + srv.log_tail()
    verify(srv.ca, out / "cert.pem")


def _server_pubkey(srv, tmp_path):
    cp = run(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}", "-CAfile", srv.ca,
              "-verify_return_error", "-brief"], input="")
    assert "Verification: OK" in cp.stdout + cp.stderr, describe(cp)
    shown = run(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}", "-showcerts"],
                input="")
    pem = shown.stdout[shown.stdout.index("-----BEGIN CERTIFICATE-----"):
                       shown.stdout.index("-----END CERTIFICATE-----") + 25]
    (tmp_path / "peer.pem").write_text(pem + "\n")
    return ok(["openssl", "x509", "-in", tmp_path / "peer.pem", "-noout", "-pubkey"]).stdout


@pytest.mark.parametrize("label", ["ec-key", "rsa-key"])
def test_tls_key_on_softhsm_token(tmp_path, token, work, label):
    srv = Estd(tmp_path / "srv").init()
    cert, pub = _tls_cert_for_token_key(srv, token, label, tmp_path,
                                        (srv.ca, srv.dir / "ca.key"))
    _use_token_tls_key(srv, token, label, cert)
    srv.start()
    try:
        assert _server_pubkey(srv, tmp_path) == pub.read_text()
        _cacerts_and_enroll(srv, work, f"tls-{label}")
        for f in srv.dir.rglob("*"):
            if f.is_file() and f.name != "ca.key":
                assert b"PRIVATE KEY" not in f.read_bytes(), f"{f} holds a private key"
    finally:
        srv.teardown()


def test_tls_and_ca_keys_on_the_token(tmp_path, token, work):
    # the CA key on the token too (signer process), the TLS key in this one
    srv, _ = _init_on_token(tmp_path / "both", token, "rsa-key")
    own = tmp_path / "ownca"
    own.mkdir()
    ok(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", own / "ca.key", "-out", own / "ca.pem", "-subj", "/CN=TLS CA",
        "-days", "2", "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign"])
    cert, pub = _tls_cert_for_token_key(srv, token, "ec-key", tmp_path,
                                        (own / "ca.pem", own / "ca.key"))
    _use_token_tls_key(srv, token, "ec-key", cert)
    set_ini(srv.conf, "ca", "key_pin_file", token["pin"])
    srv.start()
    try:
        out = work / "both"
        env = base_env()
        cp = run([EST, "cacerts", "--server", srv.url, "--cacert", own / "ca.pem", "--out",
                  work / "both-ca.pem"], env=env)
        assert cp.returncode == 0, describe(cp) + "\n" + srv.log_tail()
        cp = run([EST, "enroll", "--server", srv.url, "--cacert", own / "ca.pem", "--user",
                  USER, "--subject", "/CN=both", "--out", out],
                 env=base_env(EST_PASSWORD=PASSWORD))
        assert cp.returncode == 0, describe(cp) + "\n" + srv.log_tail()
        verify(srv.ca, out / "cert.pem")
        assert "this process holds no CA key" in srv.log_text()
    finally:
        srv.teardown()


def test_wrong_tls_key_pin_is_a_clear_startup_error(tmp_path, token):
    srv = Estd(tmp_path / "srv").init()
    cert, _ = _tls_cert_for_token_key(srv, token, "ec-key", tmp_path,
                                      (srv.ca, srv.dir / "ca.key"))
    _use_token_tls_key(srv, token, "ec-key", cert)
    bad = tmp_path / "badpin"
    bad.write_text("0000\n")
    bad.chmod(0o600)
    set_ini(srv.conf, "server", "tls_key_pin_file", bad)
    cp = run([ESTD, "run", "-c", srv.conf], timeout=30)
    assert cp.returncode == 1, describe(cp)
    assert "cannot open the TLS key pkcs11:" in cp.stderr, describe(cp)
    assert PIN not in cp.stderr
