"""The issued certificate carries the CSR's SubjectPublicKeyInfo byte for byte
(estd copies it instead of re-encoding the key, BENCHMARKS.md), with the CA
signing inline and in the signer process, for every key type the default
profile allows, including an EC key whose point is sent compressed."""

import shutil

import pytest

from e2e_util import PASSWORD, USER, describe, ok, run, set_ini, sh, verify


def _tlv(der, off):
    """(tag, start of contents, end) of the DER element at off."""
    tag, n = der[off], der[off + 1]
    off += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(der[off:off + k], "big")
        off += k
    return tag, off, off + n


def _children(der, start, end):
    out = []
    while start < end:
        tag, cs, ce = _tlv(der, start)
        out.append((tag, start, ce))
        start = ce
    return out


def spki_of_csr(der):
    """CertificationRequest -> CertificationRequestInfo -> its 3rd element."""
    _, s, _ = _tlv(der, 0)
    _, cs, ce = _tlv(der, s)
    _, a, b = _children(der, cs, ce)[2]     # version, subject, subjectPKInfo
    return der[a:b]


def spki_of_cert(der):
    """Certificate -> TBSCertificate -> the element after subject."""
    _, s, _ = _tlv(der, 0)
    _, cs, ce = _tlv(der, s)
    kids = _children(der, cs, ce)
    if kids[0][0] == 0xA0:      # [0] version
        kids = kids[1:]
    _, a, b = kids[5]           # serial, signature, issuer, validity, subject, SPKI
    return der[a:b]


P256 = ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
# each: the commands that make NAME.key
KEYS = {
    "ec-p256": [P256 + ["-out", "ec-p256.key"]],
    "ec-p384": [["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-384", "-out", "ec-p384.key"]],
    "ec-p256-compressed": [P256 + ["-out", "full.key"],
                           ["openssl", "ec", "-in", "full.key", "-conv_form", "compressed",
                            "-out", "ec-p256-compressed.key"]],
    "rsa-2048": [["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                  "rsa_keygen_bits:2048", "-out", "rsa-2048.key"]],
    "ed25519": [["openssl", "genpkey", "-algorithm", "ED25519", "-out", "ed25519.key"]],
}


@pytest.mark.parametrize("signer", ["process", "inline"])
def test_issued_certificate_has_the_csr_public_key_bytes(fresh_server, work, signer):
    srv = fresh_server
    if signer != "process":
        srv.stop()
        set_ini(srv.conf, "ca", "signer", signer)
        srv.start()
    shutil.copy(srv.ca, work / "ca.pem")
    for name, cmds in KEYS.items():
        for cmd in cmds:
            ok(cmd, cwd=work)
        ok(["openssl", "req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}",
            "-outform", "DER", "-out", f"{name}.csr"], cwd=work)
        ok(["openssl", "base64", "-in", f"{name}.csr", "-out", f"{name}.b64"], cwd=work)
        cp = run(["curl", "-sS", "--fail", f"{srv.url}/.well-known/est/simpleenroll",
                  "-u", f"{USER}:{PASSWORD}", "--cacert", "ca.pem",
                  "--data-binary", f"@{name}.b64", "-H", "Content-Type: application/pkcs10",
                  "-o", f"{name}.p7"], cwd=work)
        assert cp.returncode == 0, describe(cp)
        cp = sh(f"openssl base64 -d -in {name}.p7 | openssl pkcs7 -inform DER -print_certs |"
                f" openssl x509 -outform DER -out {name}.crt", cwd=work)
        assert cp.returncode == 0, describe(cp)
        csr_spki = spki_of_csr((work / f"{name}.csr").read_bytes())
        cert_spki = spki_of_cert((work / f"{name}.crt").read_bytes())
        assert cert_spki == csr_spki, name
        if name == "ec-p256-compressed":
            # BIT STRING of 1 + 33 bytes: 0x02 or 0x03, then x
            assert cert_spki[-34] == 0 and cert_spki[-33] in (2, 3), cert_spki.hex()
        ok(["openssl", "x509", "-inform", "DER", "-in", f"{name}.crt", "-out",
            f"{name}.pem"], cwd=work)
        verify(work / "ca.pem", work / f"{name}.pem")
        pub_cert = ok(["openssl", "x509", "-in", f"{name}.pem", "-noout", "-pubkey"],
                      cwd=work).stdout
        pub_key = ok(["openssl", "pkey", "-in", f"{name}.key", "-pubout"], cwd=work).stdout
        assert pub_cert == pub_key, name
