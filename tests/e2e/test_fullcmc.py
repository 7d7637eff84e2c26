"""Full CMC (RFC 7030 4.3, RFC 5272): est fullcmc and est revoke against the
real estd, checked with the openssl CLI; estd crl and openssl verify -crl_check."""

import base64
import subprocess

from e2e_util import (EST, ESTD, PASSWORD, USER, base_env, cert_pubkey, cert_serial,
                      cert_subject, curl, describe, free_port, key_pubkey, make_csr,
                      norm_serial, ok, run, set_ini, verify)

CMC_REQ = "application/pkcs7-mime; smime-type=CMC-request"


def _env():
    env = base_env()
    env["EST_PASSWORD"] = PASSWORD
    return env


def _fullcmc(srv, out, *args, check=True):
    cp = run([EST, "fullcmc", "--server", srv.url, "--cacert", srv.ca, "--user", USER,
              "--out", out, *args], env=_env())
    if check:
        assert cp.returncode == 0, describe(cp)
    return cp


def _revoke(srv, cert, key, serial, *args):
    return run([EST, "revoke", "--server", srv.url, "--cacert", srv.ca, "--user", USER,
                "--cert", cert, "--key", key, "--serial", serial, *args], env=_env())


def _enrolled(srv, work, name):
    out = work / name
    _fullcmc(srv, out, "--subject", f"/CN={name}")
    return out / "cert.pem", out / "key.pem"


def test_fullcmc_issues_a_certificate_that_verifies(server, work):
    out = work / "o"
    cp = _fullcmc(server, out, "--subject", "/CN=cmc-dev", "--san", "DNS:cmc-dev.example")
    verify(server.ca, out / "cert.pem")
    assert cert_pubkey(out / "cert.pem") == key_pubkey(out / "key.pem")
    rec = server.cert_record(cert_serial(out / "cert.pem"))
    assert rec is not None and rec["op"] == "fullcmc", rec
    assert "Certificate issued" in cp.stdout


def test_fullcmc_with_openssl_csr(server, work):
    csr, key = make_csr(work, "ossl-cmc")
    out = work / "o"
    _fullcmc(server, out, "--csr", csr, "--key", key)
    verify(server.ca, out / "cert.pem")
    assert cert_pubkey(out / "cert.pem") == key_pubkey(key)
    assert not (out / "key.pem").exists(), "est wrote a key it did not make"


def _save_request(srv, work, name):
    req = work / f"{name}.b64"
    ok([EST, "fullcmc", "--cacert", srv.ca, "--subject", f"/CN={name}", "--out",
        work / name, "--save-request", req])
    return req


def test_response_is_signed_by_the_ca_and_echoes_ids(server, work):
    """By hand: curl the request est built, then openssl cms -verify with the CA."""
    req = _save_request(server, work, "by-hand")
    r = curl(server.est_url("fullcmc"), work, cafile=server.ca, user=f"{USER}:{PASSWORD}",
             data_file=req, ctype=CMC_REQ)
    assert r.status == 200, r
    assert r.header("Content-Type")[0].replace(" ", "").lower() == \
        "application/pkcs7-mime;smime-type=cmc-response", r
    der = work / "resp.der"
    der.write_bytes(base64.b64decode(r.body))
    # -purpose any: the CA signs (RFC 5272 3.2.2); openssl defaults to the S/MIME purpose
    cp = ok(["openssl", "cms", "-verify", "-inform", "DER", "-in", der, "-CAfile", server.ca, "-purpose", "any",
             "-binary", "-out", work / "pkiresponse.der"])
    # the PKIResponse names the id-cmc controls of RFC 5272 6
    text = ok(["openssl", "asn1parse", "-inform", "DER", "-in",
               work / "pkiresponse.der"]).stdout
    for oid in ("id-cmc-transactionId", "id-cmc-recipientNonce", "id-cmc-senderNonce",
                "1.3.6.1.5.5.7.7.25"):
        assert oid in text, text
    ct = ok(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", der]).stdout
    assert "id-cct-PKIResponse" in ct, ct
    # the request's transactionId and senderNonce come back
    # (signed by subjectKeyIdentifier, no certificate: read the eContent with -strparse)
    reqder = work / "req.der"
    reqder.write_bytes(base64.b64decode(req.read_text()))
    outer = ok(["openssl", "asn1parse", "-inform", "DER", "-in", reqder]).stdout.splitlines()
    at = next(i for i, l in enumerate(outer) if "id-cct-PKIData" in l)
    off = next(l for l in outer[at:] if "OCTET STRING" in l).split(":")[0].strip()
    reqtext = ok(["openssl", "asn1parse", "-inform", "DER", "-in", reqder,
                  "-strparse", off]).stdout
    def values(t, name):
        lines = t.splitlines()
        return [lines[i + 2].split(":")[-1] for i, l in enumerate(lines) if name in l]
    assert len(values(reqtext, "id-cmc-transactionId")) == 1, reqtext
    assert values(reqtext, "id-cmc-transactionId") == values(text, "id-cmc-transactionId")
    assert values(reqtext, "id-cmc-senderNonce") == values(text, "id-cmc-recipientNonce")
    assert values(text, "id-cmc-senderNonce") != values(text, "id-cmc-recipientNonce")


def test_tampered_request_is_refused_with_a_cmc_failure(server, work):
    req = _save_request(server, work, "tampered")
    der = bytearray(base64.b64decode(req.read_text()))
    i = der.find(b"tampered")
    assert i > 0
    der[i:i + 8] = b"TAMPERED"  # the CN inside the signed PKIData
    bad = work / "bad.b64"
    bad.write_bytes(base64.b64encode(bytes(der)))
    r = curl(server.est_url("fullcmc"), work, cafile=server.ca, user=f"{USER}:{PASSWORD}",
             data_file=bad, ctype=CMC_REQ)
    assert r.status == 400, r
    assert "cmc-response" in r.header("Content-Type")[0].lower(), r
    resp = work / "fail.der"
    resp.write_bytes(base64.b64decode(r.body))
    ok(["openssl", "cms", "-verify", "-inform", "DER", "-in", resp, "-CAfile", server.ca, "-purpose", "any",
        "-binary", "-out", work / "fail.pkir"])
    text = ok(["openssl", "asn1parse", "-inform", "DER", "-in", work / "fail.pkir"]).stdout
    assert "1.3.6.1.5.5.7.7.25" in text, text
    assert server.certs() and all("TAMPERED" not in c["subject"] for c in server.certs())


def test_garbage_and_wrong_content_type(server, work):
    junk = work / "junk.b64"
    junk.write_text(base64.b64encode(b"\x30\x03\x02\x01\x05").decode())
    r = curl(server.est_url("fullcmc"), work, cafile=server.ca, user=f"{USER}:{PASSWORD}",
             data_file=junk, ctype=CMC_REQ)
    assert r.status == 400, r
    r = curl(server.est_url("fullcmc"), work, cafile=server.ca, user=f"{USER}:{PASSWORD}",
             data_file=junk, ctype="application/pkcs10")
    assert r.status == 415, r
    r = curl(server.est_url("fullcmc"), work, cafile=server.ca, data_file=junk, ctype=CMC_REQ)
    assert r.status == 401, r


def test_revoke_by_holder_then_crl_lists_it(fresh_server, work):
    srv = fresh_server
    cert, key = _enrolled(srv, work, "to-revoke")
    serial = cert_serial(cert)
    cp = _revoke(srv, cert, key, serial, "--reason", "keyCompromise")
    assert cp.returncode == 0, describe(cp)
    rec = srv.cert_record(serial)
    assert rec["revoked"] is True and rec["revocation_reason"] == 1, rec
    crl = work / "crl.pem"
    ok([ESTD, "crl", "-c", srv.conf, "--out", crl, "--days", "3"])
    text = ok(["openssl", "crl", "-in", crl, "-noout", "-text"]).stdout
    assert norm_serial(serial) in norm_serial(text.replace("\n", "")) or \
        serial.upper().lstrip("0") in text.replace(":", ""), text
    assert "Key Compromise" in text, text
    ok(["openssl", "crl", "-in", crl, "-noout", "-CAfile", srv.ca])  # signature checks
    cp = run(["openssl", "verify", "-crl_check", "-CRLfile", crl, "-CAfile", srv.ca, cert])
    assert cp.returncode != 0 and "revoked" in (cp.stdout + cp.stderr), describe(cp)
    # a second revocation of the same certificate is a CMC failure
    assert _revoke(srv, cert, key, serial).returncode == 1
    # the CRL number only grows
    n1 = ok(["openssl", "crl", "-in", crl, "-noout", "-crlnumber"]).stdout
    ok([ESTD, "crl", "-c", srv.conf, "--out", crl])
    n2 = ok(["openssl", "crl", "-in", crl, "-noout", "-crlnumber"]).stdout
    assert int(n2.split("=")[1], 16) > int(n1.split("=")[1], 16)


def test_revoke_by_stranger_is_refused(server, work):
    victim, _ = _enrolled(server, work, "victim")
    scert, skey = _enrolled(server, work, "stranger")
    cp = _revoke(server, scert, skey, cert_serial(victim))
    assert cp.returncode == 1, describe(cp)
    assert "badIdentity" in cp.stderr, describe(cp)
    assert server.cert_record(cert_serial(victim))["revoked"] is False


def test_configured_revoker_and_admin_command(fresh_server, work):
    srv = fresh_server
    victim, _ = _enrolled(srv, work, "victim2")
    ops_cert, ops_key = _enrolled(srv, work, "ops")
    set_ini(srv.conf, "auth", "revokers", "user:nobody, cert:CN=ops")
    srv.stop()
    srv.start()
    cp = _revoke(srv, ops_cert, ops_key, cert_serial(victim), "--reason", "superseded")
    assert cp.returncode == 0, describe(cp)
    assert srv.cert_record(cert_serial(victim))["revocation_reason"] == 4
    other, _ = _enrolled(srv, work, "other")
    ok([ESTD, "certs", "revoke", cert_serial(other), "-c", srv.conf, "--reason",
        "cessationOfOperation"])
    assert srv.cert_record(cert_serial(other))["revoked"] is True
    cp = run([ESTD, "certs", "revoke", "abcdef0123", "-c", srv.conf])
    assert cp.returncode == 1, describe(cp)


def test_profile_crl_url_adds_distribution_point(fresh_server, work):
    srv = fresh_server
    set_ini(srv.conf, "profile default", "crl_url", "http://ca.example/crl/estkit.crl")
    srv.stop()
    srv.start()
    cert, _ = _enrolled(srv, work, "with-cdp")
    text = ok(["openssl", "x509", "-in", cert, "-noout", "-ext", "crlDistributionPoints"]).stdout
    assert "URI:http://ca.example/crl/estkit.crl" in text, text


# ---- CRMF (RFC 4211) inside the PKIData (RFC 5272 3.2.1.3.2) ----------------------------

def test_fullcmc_crmf_issues_a_certificate_that_verifies(server, work):
    out = work / "crmf"
    cp = _fullcmc(server, out, "--crmf", "--subject", "/CN=cmc-crmf", "--san",
                  "DNS:cmc-crmf.example")
    verify(server.ca, out / "cert.pem")
    assert cert_pubkey(out / "cert.pem") == key_pubkey(out / "key.pem")
    text = ok(["openssl", "x509", "-in", out / "cert.pem", "-noout", "-text"]).stdout
    assert "DNS:cmc-crmf.example" in text, text
    rec = server.cert_record(cert_serial(out / "cert.pem"))
    assert rec is not None and rec["op"] == "fullcmc", rec
    assert "Certificate issued" in cp.stdout
    # what went over the wire is a CertReqMsg ([1] in reqSequence), no PKCS#10
    req = work / "crmf.b64"
    ok([EST, "fullcmc", "--crmf", "--cacert", server.ca, "--subject", "/CN=cmc-crmf2", "--out",
        work / "crmf2", "--save-request", req])
    der = work / "crmf.der"
    der.write_bytes(base64.b64decode(req.read_text()))
    text = _pkidata_text(der)
    assert any("d=2" in ln and "cont [ 1 ]" in ln for ln in text.splitlines()), text


def _pkidata_text(signed_der, oid="id-cct-PKIData"):
    """asn1parse of the PKIData (or PKIResponse) inside a SignedData (its eContent)."""
    lines = ok(["openssl", "asn1parse", "-inform", "DER", "-in", signed_der]).stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if f":{oid}" in ln.replace(" ", ""))
    econtent = next(ln for ln in lines[start:] if "OCTET STRING" in ln)
    return ok(["openssl", "asn1parse", "-inform", "DER", "-in", signed_der, "-strparse",
               econtent.split(":")[0].strip()]).stdout


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag, content):
    return bytes([tag]) + _der_len(len(content)) + content


def _openssl_cmp_certreqmsg(work, key, subject, san):
    """A CertReqMsg made by `openssl cmp` (its ir, RFC 4210), with no server to
    answer: -reqout keeps the PKIMessage, asn1parse -strparse cuts out the body's
    CertReqMessages and its only CertReqMsg."""
    reqout = work / "ir.der"
    run(["openssl", "cmp", "-cmd", "ir", "-server", f"127.0.0.1:{free_port()}",
         "-path", "pkix/", "-newkey", key, "-key", key, "-subject", subject, "-sans", san,
         "-secret", "pass:unused", "-ref", "1", "-recipient", "/CN=nobody",
         "-certout", work / "unused.pem", "-reqout", reqout, "-msg_timeout", "3"])
    assert reqout.exists() and reqout.stat().st_size > 0, "openssl cmp wrote no request"
    lines = ok(["openssl", "asn1parse", "-inform", "DER", "-in", reqout]).stdout.splitlines()
    # body ir [0] at depth 1 holds CertReqMessages, whose first (only) entry is the CertReqMsg
    body = next(i for i, ln in enumerate(lines) if "d=1" in ln and "cont [ 0 ]" in ln)
    assert "d=2" in lines[body + 1] and "d=3" in lines[body + 2], lines
    first = int(lines[body + 2].split(":")[0])
    msg = work / "certreqmsg.der"
    ok(["openssl", "asn1parse", "-inform", "DER", "-in", reqout, "-strparse", str(first),
        "-noout", "-out", msg])
    return msg.read_bytes()


def _ec_key(work, name):
    key = work / f"{name}.pem"
    ok(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", key])
    return key


def _post_pkidata(srv, work, key, reqs, name):
    """PKIData { controls {}, reqSequence { reqs }, {}, {} } signed by openssl cms with key
    (signer named by its key identifier, RFC 5272 3.2.1.3.2) and posted with curl."""
    pkidata = work / f"{name}.pkidata.der"
    pkidata.write_bytes(_tlv(0x30, _tlv(0x30, b"") + _tlv(0x30, b"".join(reqs)) +
                             _tlv(0x30, b"") + _tlv(0x30, b"")))
    selfsigned = work / f"{name}.self.pem"
    ok(["openssl", "req", "-x509", "-new", "-key", key, "-subj", f"/CN={name}", "-days", "1",
        "-out", selfsigned])
    signed = work / f"{name}.signed.der"
    ok(["openssl", "cms", "-sign", "-binary", "-nodetach", "-in", pkidata,
        "-econtent_type", "1.3.6.1.5.5.7.12.2", "-signer", selfsigned, "-inkey", key,
        "-keyid", "-nocerts", "-md", "sha256", "-outform", "DER", "-out", signed])
    b64 = work / f"{name}.signed.b64"
    b64.write_bytes(base64.b64encode(signed.read_bytes()))
    return curl(srv.est_url("fullcmc"), work, cafile=srv.ca, user=f"{USER}:{PASSWORD}",
                data_file=b64, ctype=CMC_REQ)


def _crm(msg):
    """TaggedRequest crm [1] IMPLICIT CertReqMsg."""
    assert msg[0] == 0x30, msg[:4].hex()
    return b"\xa1" + msg[1:]


def test_fullcmc_crmf_from_openssl_cmp_signed_by_openssl_cms(server, work):
    key = _ec_key(work, "k")
    msg = _openssl_cmp_certreqmsg(work, key, "/CN=ossl-crmf", "DNS:ossl-crmf.example")
    r = _post_pkidata(server, work, key, [_crm(msg)], "ossl-crmf")
    resp = work / "resp.der"
    assert r.status == 200, (r, _status_text(work, r.body))
    resp.write_bytes(base64.b64decode(r.body))
    ok(["openssl", "cms", "-verify", "-inform", "DER", "-in", resp, "-CAfile", server.ca,
        "-purpose", "any", "-binary", "-out", work / "resp.pkir"])
    leaf = _leaves_for_key(work, resp, key)[0]
    verify(server.ca, leaf)
    text = ok(["openssl", "x509", "-in", leaf, "-noout", "-text"]).stdout
    assert "CN = ossl-crmf" in text and "DNS:ossl-crmf.example" in text, text
    assert server.cert_record(cert_serial(leaf))["op"] == "fullcmc"


def test_fullcmc_mixed_pkcs10_and_crmf_from_openssl(server, work):
    key = _ec_key(work, "mixed")
    msg = _openssl_cmp_certreqmsg(work, key, "/CN=mixed-crmf", "DNS:mixed-crmf.example")
    csr = work / "mixed.csr.der"
    ok(["openssl", "req", "-new", "-key", key, "-subj", "/CN=mixed-pkcs10", "-outform", "DER",
        "-out", csr])
    # tcr [0] IMPLICIT TaggedCertificationRequest { bodyPartID 1, CertificationRequest }
    tcr = _tlv(0xa0, _tlv(0x02, b"\x01") + csr.read_bytes())
    r = _post_pkidata(server, work, key, [tcr, _crm(msg)], "mixed")
    assert r.status == 200, (r, _status_text(work, r.body))
    resp = work / "mixed.resp.der"
    resp.write_bytes(base64.b64decode(r.body))
    names = sorted(cert_subject(p) for p in _leaves_for_key(work, resp, key))
    assert len(names) == 2 and "mixed-crmf" in names[0] and "mixed-pkcs10" in names[1], names


def test_fullcmc_crmf_with_a_broken_pop_is_pop_failed(server, work):
    key = _ec_key(work, "badpop")
    msg = bytearray(_openssl_cmp_certreqmsg(work, key, "/CN=bad-pop", "DNS:bad-pop.example"))
    i = msg.find(b"bad-pop")
    assert i > 0
    msg[i:i + 7] = b"BAD-POP"  # the subject the POP signature covers
    r = _post_pkidata(server, work, key, [_crm(bytes(msg))], "bad-pop")
    assert r.status == 400, r
    lines = _status_text(work, r.body)
    # CMCStatus failed (2), failInfo popFailed (9, RFC 5272 6.1.4)
    assert any(ln.rstrip().endswith(":09") for ln in lines), lines
    assert all("BAD-POP" not in c["subject"] for c in server.certs())


def _status_text(work, body):
    """The strings of a CMC response (statusString says why), for failure messages."""
    der = work / "why.der"
    der.write_bytes(base64.b64decode(body))
    text = _pkidata_text(der, "id-cct-PKIResponse")
    return [ln for ln in text.splitlines() if "UTF8STRING" in ln or "INTEGER" in ln]


def _leaves_for_key(work, resp, key):
    """The certificates of the CMS response whose public key is key's (at least one)."""
    p7 = work / f"{resp.stem}.p7.pem"
    # a CMS SignedData is a PKCS#7 signedData: openssl pkcs7 lists its certificates
    ok(["openssl", "pkcs7", "-inform", "DER", "-in", resp, "-print_certs", "-out", p7])
    want = key_pubkey(key)
    found = []
    for i, chunk in enumerate(p7.read_text().split("-----END CERTIFICATE-----")):
        if "BEGIN CERTIFICATE" not in chunk:
            continue
        pem = work / f"{resp.stem}.c{i}.pem"
        pem.write_text(chunk[chunk.index("-----BEGIN"):] + "-----END CERTIFICATE-----\n")
        if cert_pubkey(pem) == want:
            found.append(pem)
    assert found, "no certificate for the requested key in the response"
    return found
