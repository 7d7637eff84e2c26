"""The CA key on a PKCS#11 token (SoftHSM2): `estd init --ca-key pkcs11:URI`
makes the CA certificate with the token's key, estd runs with it (the signer
workers open the token), clients enroll and the chain verifies with openssl;
no CA key file ever exists."""

import os
import shutil
from pathlib import Path

import pytest

from e2e_util import (ESTD, Estd, PASSWORD, USER, describe, est_enroll, ok, run, set_ini,
                      verify, free_port)

SOFTHSM_MODULES = ("/usr/lib/softhsm/libsofthsm2.so",
                   "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
ENGINE = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so"
PIN = "4321"


def _need_tools():
    module = next((m for m in SOFTHSM_MODULES if os.path.exists(m)), None)
    missing = [t for t in ("softhsm2-util", "pkcs11-tool") if shutil.which(t) is None]
    if module is None:
        missing.append("libsofthsm2")
    if not os.path.exists(ENGINE):
        missing.append("libengine-pkcs11-openssl")
    if missing:
        msg = "PKCS#11 test tools missing: " + ", ".join(missing) + \
              " (scripts/install-deps.sh installs them)"
        if os.environ.get("ESTKIT_E2E_ALLOW_SKIP") == "1":
            pytest.skip(msg)
        pytest.fail(msg, pytrace=False)
    return module


@pytest.fixture
def token(tmp_path, monkeypatch):
    """A SoftHSM2 token 'estd-ca' in a private directory, with an EC P-256
    key 'ec-key' and an RSA-2048 key 'rsa-key'."""
    module = _need_tools()
    d = tmp_path / "softhsm"
    (d / "tokens").mkdir(parents=True)
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    ok(["softhsm2-util", "--init-token", "--free", "--label", "estd-ca", "--pin", PIN,
        "--so-pin", "87654321"])
    for label, kid, ktype in (("ec-key", "01", "EC:prime256v1"), ("rsa-key", "02", "rsa:2048")):
        ok(["pkcs11-tool", "--module", module, "--token-label", "estd-ca", "--login",
            "--pin", PIN, "--keypairgen", "--key-type", ktype, "--label", label, "--id", kid])
    pin = tmp_path / "pin"
    pin.write_text(PIN + "\n")
    pin.chmod(0o600)
    return {"module": module, "pin": pin}


def _init_on_token(root, token, label):
    srv = Estd(root)
    uri = f"pkcs11:token=estd-ca;object={label};type=private"
    ok([ESTD, "init", "--dir", srv.dir, "--ca-key", uri, "--ca-key-pin-file", token["pin"],
        "--pkcs11-module", token["module"], "--ca-subject", f"/CN=HSM CA {label}"],
       timeout=120)
    srv.port = free_port()
    set_ini(srv.conf, "server", "listen", f"127.0.0.1:{srv.port}")
    srv.user_add(USER, PASSWORD)
    return srv, uri


def _no_private_key_but_tls(srv):
    for f in srv.dir.rglob("*"):
        if f.is_file() and f.name != "tls.key":
            data = f.read_bytes()
            assert b"PRIVATE KEY" not in data, f"{f} holds a private key"
    assert not (srv.dir / "ca.key").exists()


@pytest.mark.parametrize("label", ["ec-key", "rsa-key"])
def test_ca_key_on_softhsm_token(tmp_path, token, work, label):
    srv, uri = _init_on_token(tmp_path / label, token, label)
    _no_private_key_but_tls(srv)
    assert f"key = {uri}" in srv.conf.read_text()
    # the CA certificate carries the token's public key
    pub = ok(["pkcs11-tool", "--module", token["module"], "--token-label", "estd-ca",
              "--read-object", "--type", "pubkey", "--label", label, "-o",
              tmp_path / f"{label}.der"])
    assert pub.returncode == 0
    tokpub = ok(["openssl", "pkey", "-pubin", "-inform", "DER", "-in",
                 tmp_path / f"{label}.der"]).stdout
    capub = ok(["openssl", "x509", "-in", srv.ca, "-noout", "-pubkey"]).stdout
    assert tokpub == capub
    srv.start()
    try:
        out = work / label
        cp = est_enroll(srv, out, subject=f"/CN=device-{label}", check=False)
        assert cp.returncode == 0, describe(cp) + "\n" + srv.log_tail()
        verify(srv.ca, out / "cert.pem")
        cp = run(["openssl", "verify", "-CAfile", srv.ca, out / "cert.pem"])
        assert cp.returncode == 0 and ": OK" in cp.stdout, describe(cp)
        _no_private_key_but_tls(srv)
    finally:
        srv.teardown()


def test_wrong_pin_is_a_clear_startup_error(tmp_path, token):
    srv, _ = _init_on_token(tmp_path / "wrongpin", token, "ec-key")
    token["pin"].write_text("0000\n")
    cp = run([ESTD, "run", "-c", srv.conf])
    assert cp.returncode == 1, describe(cp)
    assert "cannot open the CA key pkcs11:" in cp.stderr, describe(cp)


def test_inline_signer_with_token(tmp_path, token, work):
    srv, _ = _init_on_token(tmp_path / "inl", token, "ec-key")
    set_ini(srv.conf, "ca", "signer", "inline")
    srv.start()
    try:
        est_enroll(srv, work / "inl", subject="/CN=inline-hsm")
        verify(srv.ca, work / "inl" / "cert.pem")
    finally:
        srv.teardown()
