"""The certificate estd hands back after signing (parsed without decoding its
public key on the enrollment paths, BENCHMARKS.md) is the one it signed and
recorded: /simpleenroll, /serverkeygen and /fullcmc, with the CA signing
inline and in the signer process, answer a certificate that is byte for byte
the stored one, verifies under the CA, carries the requested names and the
client's (or the generated) key, and its serial and op are in the store."""

import base64

import pytest

from e2e_util import (EST, ESTD, PASSWORD, USER, base_env, cert_pubkey, cert_serial, describe,
                      key_pubkey, ok, run, set_ini, verify)


def _pem_to_der(text):
    body = text.split("-----BEGIN CERTIFICATE-----", 1)[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def _stored_der(srv, serial):
    cp = ok([ESTD, "certs", "show", serial, "-c", srv.conf, "--pem"])
    return _pem_to_der(cp.stdout)


def _file_der(pem_path):
    return _pem_to_der(pem_path.read_text())


def _est(srv, op, out, *extra):
    env = base_env()
    env["EST_PASSWORD"] = PASSWORD
    cp = run([EST, op, "--server", srv.url, "--cacert", srv.ca, "--user", USER, "--out", out,
              *extra], env=env)
    assert cp.returncode == 0, describe(cp)
    return cp


OPS = {
    # op: (est arguments, the op the store records)
    "enroll": (["--subject", "CN=copy-enroll", "--san", "DNS:copy-enroll.example"],
               "simpleenroll"),
    "serverkeygen": (["--subject", "CN=copy-skg", "--san", "DNS:copy-skg.example"],
                     "serverkeygen"),
    "fullcmc": (["--subject", "/CN=copy-cmc", "--san", "DNS:copy-cmc.example"], "fullcmc"),
}


@pytest.mark.parametrize("signer", ["process", "inline"])
def test_answered_certificate_is_the_signed_and_recorded_one(fresh_server, work, signer):
    srv = fresh_server
    if signer != "process":
        srv.stop()
        set_ini(srv.conf, "ca", "signer", signer)
        srv.start()
    for op, (args, recorded_op) in OPS.items():
        out = work / op
        _est(srv, op, out, *args)
        cert = out / "cert.pem"
        verify(srv.ca, cert)
        assert cert_pubkey(cert) == key_pubkey(out / "key.pem"), op
        serial = cert_serial(cert)
        rec = srv.cert_record(serial)
        assert rec is not None and rec["op"] == recorded_op, (op, rec)
        name = args[1].lstrip("/").split("=", 1)[1]
        assert f"DNS:{name}.example" in rec["sans"], (op, rec)
        assert _stored_der(srv, serial) == _file_der(cert), op
        text = ok(["openssl", "x509", "-in", cert, "-noout", "-ext", "subjectAltName"]).stdout
        assert f"DNS:{name}.example" in text, (op, text)
