"""/serverkeygen (RFC 7030 4.4) end to end: curl gets the multipart/mixed
answer and openssl reads both parts; `est serverkeygen` writes a matching
pair; the key can come back encrypted (CMS) to a symmetric key configured in
estd.conf or to the client's TLS certificate, and `openssl cms -decrypt` and
`est serverkeygen --decrypt-key` both open it. The store records the
certificate but never the key."""

import base64
import re
import signal
import sqlite3
from pathlib import Path

from e2e_util import (EST, PASSWORD, USER, base_env, cert_pubkey, cert_subject, curl,
                      describe, key_pubkey, make_csr, ok, p7_to_pem, run, set_ini)

PKCS10 = "application/pkcs10"


def b64_csr(work, name, **kw):
    csr, key = make_csr(work, name, der=True, **kw)
    b64 = work / f"{name}.b64"
    b64.write_bytes(base64.encodebytes(csr.read_bytes()))
    return b64, key


def parse_multipart(ctype, body):
    """A minimal RFC 2046 reader, independent of estkit: {media type: (headers, data)}."""
    m = re.match(r"multipart/mixed\s*;\s*boundary=\"?([^\";]+)\"?", ctype, re.I)
    assert m, ctype
    delim = b"--" + m.group(1).encode()
    assert body.count(delim + b"--") == 1, body[-200:]
    inner = body.split(delim + b"--")[0]
    parts = {}
    for chunk in inner.split(delim)[1:]:
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, _, data = chunk.partition(b"\r\n\r\n")
        headers = dict(l.split(": ", 1) for l in head.decode().split("\r\n"))
        parts[headers["Content-Type"].split(";")[0].strip()] = (headers, data.rstrip(b"\r\n"))
    return parts


def serverkeygen_curl(srv, work, b64, label=None):
    return curl(srv.est_url("serverkeygen", label), work, cafile=srv.ca,
                user=f"{USER}:{PASSWORD}", data_file=b64, ctype=PKCS10)


def est_skg(srv, out, *extra, subject="CN=skg-est", check=True, label=None):
    url = srv.url + (f"/{label}" if label else "")
    args = [EST, "serverkeygen", "--server", url, "--cacert", srv.ca, "--subject", subject,
            "--out", out] + list(extra)
    env = base_env()
    if "--cert" not in extra:
        args += ["--user", USER]
        env["EST_PASSWORD"] = PASSWORD
    cp = run(args, env=env)
    if check:
        assert cp.returncode == 0, describe(cp)
    return cp


def restart(srv):
    assert srv.stop(signal.SIGTERM) == 0
    srv.start()


def test_serverkeygen_curl_answer_is_multipart_key_and_cert(server, work):
    b64, csr_key = b64_csr(work, "skgcurl", subj="/CN=skg-curl/O=Example",
                           addext="subjectAltName=DNS:skg.example.test")
    res = serverkeygen_curl(server, work, b64)
    assert res.status == 200, res
    ctype = res.header("Content-Type")[0]
    assert ctype.startswith("multipart/mixed"), res
    parts = parse_multipart(ctype, res.body)
    assert set(parts) == {"application/pkcs8", "application/pkcs7-mime"}, parts.keys()
    key_headers, key_b64 = parts["application/pkcs8"]
    assert key_headers["Content-Transfer-Encoding"] == "base64"
    assert "certs-only" in parts["application/pkcs7-mime"][0]["Content-Type"]

    (work / "key.der").write_bytes(base64.b64decode(key_b64))
    ok(["openssl", "pkey", "-inform", "DER", "-in", work / "key.der", "-out", work / "key.pem"])
    (work / "certs.b64").write_bytes(parts["application/pkcs7-mime"][1])
    p7_to_pem(work / "certs.b64", work / "certs.pem")
    ok(["openssl", "x509", "-in", work / "certs.pem", "-out", work / "cert.pem"])
    # the certificate is for the generated key, not for the CSR's key (RFC 7030 4.4.1)
    assert cert_pubkey(work / "cert.pem") == key_pubkey(work / "key.pem")
    assert key_pubkey(work / "key.pem") != key_pubkey(csr_key)
    assert cert_subject(work / "cert.pem") == "subject=O=Example,CN=skg-curl"
    text = ok(["openssl", "x509", "-in", work / "cert.pem", "-noout", "-ext",
               "subjectAltName"]).stdout
    assert "DNS:skg.example.test" in text
    # like the CSR's key: EC P-256
    assert "prime256v1" in ok(["openssl", "pkey", "-in", work / "key.pem", "-noout",
                               "-text"]).stdout

    serial = ok(["openssl", "x509", "-in", work / "cert.pem", "-noout",
                 "-serial"]).stdout.strip().split("=")[1]
    rec = server.cert_record(serial)
    assert rec is not None and rec["op"] == "serverkeygen", rec
    assert rec["requester"] == f"user:{USER}"
    # the store never holds the private key
    priv = (work / "key.der").read_bytes()
    at = priv.index(b"\x02\x01\x01\x04\x20") + 5  # ECPrivateKey: version 1, privateKey
    scalar = priv[at:at + 32]
    db = server.dir / "estd.db"
    blob = b"".join(p.read_bytes() for p in db.parent.glob("estd.db*"))
    assert len(blob) > 0 and priv not in blob and scalar not in blob
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for (table,) in con.execute("select name from sqlite_master where type='table'"):
            cols = [r[1].lower() for r in con.execute(f"pragma table_info({table})")]
            assert not any("priv" in c or c in ("key", "key_der", "pkcs8") for c in cols), cols
    finally:
        con.close()


def test_serverkeygen_rsa_csr_gets_an_rsa_key(server, work):
    b64, _ = b64_csr(work, "skgrsa", key="rsa:2048")
    res = serverkeygen_curl(server, work, b64)
    assert res.status == 200, res
    parts = parse_multipart(res.header("Content-Type")[0], res.body)
    (work / "k.der").write_bytes(base64.b64decode(parts["application/pkcs8"][1]))
    text = ok(["openssl", "pkey", "-inform", "DER", "-in", work / "k.der", "-noout",
               "-text"]).stdout
    assert "2048 bit" in text, text[:200]


def test_serverkeygen_refuses_bad_requests(server, work):
    b64, _ = b64_csr(work, "skgbad")
    assert curl(server.est_url("serverkeygen"), work, cafile=server.ca, data_file=b64,
                ctype=PKCS10).status == 401
    assert curl(server.est_url("serverkeygen"), work, cafile=server.ca,
                user=f"{USER}:{PASSWORD}", data_file=b64, ctype="text/plain").status == 415
    assert curl(server.est_url("serverkeygen"), work, cafile=server.ca,
                user=f"{USER}:{PASSWORD}").status == 405
    junk = work / "junk.b64"
    junk.write_text("bm90IGEgQ1NS\n")
    res = serverkeygen_curl(server, work, junk)
    assert res.status == 400 and b"PKCS#10" in res.body, res
    # a DecryptKeyIdentifier nobody configured ends the request (RFC 7030 4.4.1.1)
    before = len(server.certs())
    out = work / "nokek"
    kek = work / "kek.hex"
    kek.write_text("00" * 16 + "\n")
    cp = est_skg(server, out, "--decrypt-key", kek, "--key-id", "nosuchkey", check=False)
    assert cp.returncode == 1 and "400" in cp.stderr and "DecryptKeyIdentifier" in cp.stderr, \
        describe(cp)
    assert len(server.certs()) == before


def test_est_serverkeygen_writes_matching_pair(server, work):
    out = work / "out"
    cp = est_skg(server, out, "--san", "DNS:est-skg.example.test", "--key-type", "ec:P-384",
                 subject="CN=skg-est,O=Example")
    for f in ("key.pem", "cert.pem", "chain.pem"):
        assert (out / f).is_file(), describe(cp)
    assert not (out / "key.p7m").exists()
    assert (out / "key.pem").stat().st_mode & 0o777 == 0o600
    assert cert_pubkey(out / "cert.pem") == key_pubkey(out / "key.pem")
    assert "secp384r1" in ok(["openssl", "pkey", "-in", out / "key.pem", "-noout",
                              "-text"]).stdout
    ok(["openssl", "verify", "-CAfile", server.ca, out / "cert.pem"])


def test_serverkeygen_key_encrypted_to_a_configured_symmetric_key(fresh_server, work):
    srv = fresh_server
    kek_hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    (srv.dir / "kek-1.hex").write_text(kek_hex + "\n")
    set_ini(srv.conf, "label", "serverkeygen_kek", "device-kek-1:kek-1.hex")
    set_ini(srv.conf, "label", "serverkeygen_key", "ec:P-521")
    restart(srv)
    client_kek = work / "kek.hex"
    client_kek.write_text(kek_hex)
    out = work / "enc"
    est_skg(srv, out, "--decrypt-key", client_kek, "--key-id", "device-kek-1")
    assert (out / "key.pem").stat().st_mode & 0o777 == 0o600
    assert cert_pubkey(out / "cert.pem") == key_pubkey(out / "key.pem")
    # serverkeygen_key overrides the CSR's key type (est asked for P-256)
    assert "secp521r1" in ok(["openssl", "pkey", "-in", out / "key.pem", "-noout",
                              "-text"]).stdout
    # openssl opens the same CMS: EnvelopedData (kekri) -> SignedData -> PKCS#8
    info = ok(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in",
               out / "key.p7m"]).stdout
    assert "d.kekri" in info and "id-aes256-wrap" in info, info[:800]
    ok(["openssl", "cms", "-decrypt", "-binary", "-inform", "DER", "-in", out / "key.p7m",
        "-secretkey", kek_hex, "-secretkeyid", b"device-kek-1".hex(), "-out", work / "sd.der"])
    ok(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", work / "sd.der",
        "-CAfile", srv.ca, "-purpose", "any", "-out", work / "p8.der"])
    ok(["openssl", "pkey", "-inform", "DER", "-in", work / "p8.der", "-out", work / "p8.pem"])
    assert key_pubkey(work / "p8.pem") == key_pubkey(out / "key.pem")
    # a wrong key does not open it
    bad = work / "bad.hex"
    bad.write_text("ff" * 32)
    cp = est_skg(srv, work / "bad", "--decrypt-key", bad, "--key-id", "device-kek-1",
                 check=False)
    assert cp.returncode == 1 and "decrypt" in cp.stderr, describe(cp)


def _enroll_tls_cert(srv, outdir, key_type, label=None):
    url = srv.url + (f"/{label}" if label else "")
    env = base_env()
    env["EST_PASSWORD"] = PASSWORD
    cp = run([EST, "enroll", "--server", url, "--cacert", srv.ca, "--user", USER,
              "--subject", f"CN=tls-{key_type.replace(':', '-')}", "--key-type", key_type,
              "--out", outdir], env=env)
    assert cp.returncode == 0, describe(cp)
    return outdir / "cert.pem", outdir / "key.pem"


def _check_cert_encrypted(srv, work, cert, key, out, label=None, ri="d.ktri"):
    est_skg(srv, out, "--cert", cert, "--key", key, "--decrypt-key", key, label=label)
    assert cert_pubkey(out / "cert.pem") == key_pubkey(out / "key.pem")
    info = ok(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in",
               out / "key.p7m"]).stdout
    assert ri in info, info[:800]
    ok(["openssl", "cms", "-decrypt", "-binary", "-inform", "DER", "-in", out / "key.p7m",
        "-inkey", key, "-recip", cert, "-out", out / "sd.der"])
    ok(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", out / "sd.der",
        "-CAfile", srv.ca, "-purpose", "any", "-out", out / "p8.der"])
    ok(["openssl", "pkey", "-inform", "DER", "-in", out / "p8.der", "-out", out / "p8.pem"])
    assert key_pubkey(out / "p8.pem") == key_pubkey(out / "key.pem")


def test_serverkeygen_key_encrypted_to_the_client_certificate(fresh_server, work):
    srv = fresh_server
    # RSA: key transport (KeyTransRecipientInfo)
    cert, key = _enroll_tls_cert(srv, work / "rsa", "rsa:2048")
    _check_cert_encrypted(srv, work, cert, key, work / "out-rsa", ri="d.ktri")
    # EC: key agreement (KeyAgreeRecipientInfo) needs keyAgreement in the certificate
    ecert, ekey = _enroll_tls_cert(srv, work / "ec", "ec:P-256")
    cp = est_skg(srv, work / "ec-refused", "--cert", ecert, "--key", ekey, "--decrypt-key",
                 ekey, check=False)
    assert cp.returncode == 1 and "key agreement" in cp.stderr, describe(cp)
    set_ini(srv.conf, "profile agree", "key_usage", "digitalSignature, keyAgreement")
    set_ini(srv.conf, "label agree", "profile", "agree")
    restart(srv)
    acert, akey = _enroll_tls_cert(srv, work / "agree", "ec:P-256", label="agree")
    _check_cert_encrypted(srv, work, acert, akey, work / "out-ec", label="agree",
                          ri="d.kari")
    # the identifier must name the certificate the client authenticated with
    cp = est_skg(srv, work / "mismatch", "--cert", cert, "--key", key, "--decrypt-key",
                 akey, check=False)
    assert cp.returncode != 0, describe(cp)


def test_serverkeygen_refused_on_manual_approval_labels(fresh_server, work):
    srv = fresh_server
    set_ini(srv.conf, "label", "approval", "manual")
    restart(srv)
    before = len(srv.certs())
    cp = est_skg(srv, work / "held", check=False)
    assert cp.returncode == 1 and "403" in cp.stderr and "manual approval" in cp.stderr, \
        describe(cp)
    assert len(srv.certs()) == before
    assert not (work / "held" / "key.pem").exists()
