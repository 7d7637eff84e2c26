"""What the default profile lets through and what an issued certificate
contains, seen from outside with curl and openssl; several enrollments at
once; a TLS client certificate from another CA."""

import datetime
import threading

import pytest

from e2e_util import (PASSWORD, USER, cert_serial, cert_text, curl, make_csr, ok,
                      p7_to_pem, run, verify)

AUTH = f"{USER}:{PASSWORD}"
P10 = "application/pkcs10"


def _post_csr(server, work, csr_der, name="req"):
    b64 = work / f"{name}.b64"
    ok(["openssl", "base64", "-in", csr_der, "-out", b64])
    return curl(server.est_url("simpleenroll"), work, cafile=server.ca, user=AUTH,
                data_file=b64, ctype=P10)


@pytest.mark.parametrize("key,addext,reason", [
    ("rsa:1024", None, "1024"),
    ("ec", "basicConstraints=critical,CA:TRUE", "CA"),
], ids=["rsa1024-too-small", "asks-for-ca"])
def test_profile_refuses_request_with_400_and_reason(server, work, key, addext, reason):
    csr, _ = make_csr(work, "refused", key=key, der=True, addext=addext)
    r = _post_csr(server, work, csr)
    assert r.status == 400, r
    assert reason in r.body.decode(errors="replace"), r


def test_profile_refuses_curve_not_allowed(server, work):
    key = work / "k1.key"
    ok(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
        "ec_paramgen_curve:secp256k1", "-out", key])
    csr, _ = make_csr(work, "k1", keyfile=key, der=True)
    r = _post_csr(server, work, csr)
    assert r.status == 400, r


def test_issued_cert_takes_extensions_from_profile_not_request(server, work):
    csr, _ = make_csr(work, "greedy", der=True,
                      addext="extendedKeyUsage=serverAuth,codeSigning")
    r = _post_csr(server, work, csr)
    assert r.status == 200, r
    (work / "g.p7").write_bytes(r.body)
    pem = p7_to_pem(work / "g.p7", work / "g.pem")
    verify(server.ca, pem)
    text = cert_text(pem)
    assert "CA:FALSE" in text or "Basic Constraints" not in text, text
    assert "TLS Web Client Authentication" in text, text
    assert "Code Signing" not in text and "TLS Web Server Authentication" not in text, text
    assert "Certificate Sign" not in text, text


def _enddate(pem):
    out = ok(["openssl", "x509", "-in", pem, "-noout", "-enddate"]).stdout
    return datetime.datetime.strptime(out.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")


def test_issued_validity_follows_profile_and_stays_within_ca(server, work):
    csr, _ = make_csr(work, "validity", der=True)
    r = _post_csr(server, work, csr)
    assert r.status == 200, r
    (work / "v.p7").write_bytes(r.body)
    pem = p7_to_pem(work / "v.p7", work / "v.pem")
    end = _enddate(pem)
    now = datetime.datetime.utcnow()
    assert datetime.timedelta(days=360) < end - now <= datetime.timedelta(days=366), end
    assert end <= _enddate(server.ca)


def test_parallel_enrollments_all_succeed_with_distinct_serials(server, work):
    n = 12
    csrs = [make_csr(work, f"par{i}", der=True)[0] for i in range(n)]
    results = [None] * n

    def one(i):
        d = work / f"p{i}"
        d.mkdir()
        b64 = d / "csr.b64"
        ok(["openssl", "base64", "-in", csrs[i], "-out", b64])
        results[i] = curl(server.est_url("simpleenroll"), d, cafile=server.ca, user=AUTH,
                          data_file=b64, ctype=P10)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    serials = set()
    for i, r in enumerate(results):
        assert r is not None and r.status == 200, r
        (work / f"p{i}" / "c.p7").write_bytes(r.body)
        pem = p7_to_pem(work / f"p{i}" / "c.p7", work / f"p{i}" / "c.pem")
        serials.add(cert_serial(pem))
    assert len(serials) == n, serials
    for s in serials:
        assert server.cert_record(s) is not None, f"{s} not recorded"


def test_client_cert_from_another_ca_fails_the_handshake(server, work):
    """docs/design.md: a presented but unverifiable client certificate is a
    TLS failure, not a silent fallback to anonymous."""
    key, cert = work / "rogue.key", work / "rogue.pem"
    ok(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=rogue", "-days", "2"])
    cp = run(["curl", "-sS", "--cacert", server.ca, "--cert", cert, "--key", key,
              "-o", "/dev/null", "-w", "%{http_code}", server.est_url("cacerts")])
    assert cp.returncode != 0 and cp.stdout.strip() in ("", "000"), cp
    # The server is still fine for everyone else.
    r = curl(server.est_url("cacerts"), work, cafile=server.ca)
    assert r.status == 200, r
