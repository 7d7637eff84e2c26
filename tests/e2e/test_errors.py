"""HTTP errors estd must answer with (RFC 7030 4, RFC 9110), driven by curl;
after all of them the server still enrolls normally."""

import pytest

from e2e_util import PASSWORD, USER, curl, describe, make_csr, ok, p7_to_pem, verify

AUTH = f"{USER}:{PASSWORD}"
P10 = "application/pkcs10"


@pytest.fixture
def good_b64(work):
    """A valid base64 DER CSR, as the tutorial makes it."""
    csr, _ = make_csr(work, "good", der=True)
    ok(["openssl", "base64", "-in", csr, "-out", work / "good.b64"])
    return work / "good.b64"


def test_wrong_password_gets_401_with_www_authenticate(server, work, good_b64):
    r = curl(server.est_url("simpleenroll"), work, cafile=server.ca,
             user=f"{USER}:wrong", data_file=good_b64, ctype=P10)
    assert r.status == 401, r
    challenges = r.header("WWW-Authenticate")
    assert challenges and any(c.lower().startswith("basic") for c in challenges), r


def test_unknown_user_gets_401(server, work, good_b64):
    r = curl(server.est_url("simpleenroll"), work, cafile=server.ca,
             user="nobody:estpwd", data_file=good_b64, ctype=P10)
    assert r.status == 401, r


def test_no_auth_gets_401_with_www_authenticate(server, work, good_b64):
    r = curl(server.est_url("simpleenroll"), work, cafile=server.ca,
             data_file=good_b64, ctype=P10)
    assert r.status == 401, r
    assert r.header("WWW-Authenticate"), r


@pytest.mark.parametrize("body", [
    b"this is not base64 at all!!\n",
    b"QUJDREVGRw==\n",                        # valid base64, not a CSR
    b"",                                     # empty body
], ids=["garbage", "base64-not-der", "empty"])
def test_garbage_body_gets_400(server, work, body):
    f = work / "bad.b64"
    f.write_bytes(body)
    r = curl(server.est_url("simpleenroll"), work, cafile=server.ca, user=AUTH,
             data_file=f, ctype=P10)
    assert r.status == 400, r


def test_csr_with_broken_signature_gets_400(server, work):
    csr, _ = make_csr(work, "tampered", der=True)
    der = bytearray(csr.read_bytes())
    der[-5] ^= 0x55                           # inside the signature BIT STRING
    csr.write_bytes(bytes(der))
    ok(["openssl", "base64", "-in", csr, "-out", work / "t.b64"])
    r = curl(server.est_url("simpleenroll"), work, cafile=server.ca, user=AUTH,
             data_file=work / "t.b64", ctype=P10)
    assert r.status == 400, r


def test_body_over_max_body_gets_413(server, work):
    f = work / "big.b64"
    f.write_bytes(b"A" * 70000)
    r = curl(server.est_url("simpleenroll"), work, cafile=server.ca, user=AUTH,
             data_file=f, ctype=P10)
    assert r.status == 413, r


def test_get_on_simpleenroll_gets_405(server, work):
    r = curl(server.est_url("simpleenroll"), work, cafile=server.ca, user=AUTH)
    assert r.status == 405, r


def test_post_on_cacerts_gets_405(server, work, good_b64):
    r = curl(server.est_url("cacerts"), work, cafile=server.ca, user=AUTH,
             data_file=good_b64, ctype=P10)
    assert r.status == 405, r


@pytest.mark.parametrize("path", [
    "/.well-known/est/nosuchlabel/cacerts",
    "/.well-known/est/nosuchlabel/simpleenroll",
    "/.well-known/est/nosuchop",
    "/.well-known/est/a/b/cacerts",
    "/.well-known/cacerts",
    "/",
], ids=["label-cacerts", "label-enroll", "op", "two-segments", "no-est", "root"])
def test_unknown_label_or_path_gets_404(server, work, path):
    r = curl(server.url + path, work, cafile=server.ca, user=AUTH)
    assert r.status == 404, r


@pytest.mark.parametrize("path", [
    "/.well-known/est/../est/cacerts",
    "/.well-known/est/../../etc/passwd",
    "/.well-known/est/%2e%2e/cacerts",
    "/.well-known/est/..%2fcacerts",
], ids=["dotdot", "dotdot-escape", "encoded-dotdot", "encoded-slash"])
def test_dotdot_in_path_gets_404(server, work, path):
    r = curl(server.url + path, work, cafile=server.ca, user=AUTH,
             extra=["--path-as-is"])
    assert r.status == 404, r


@pytest.mark.parametrize("ctype", ["text/plain", "application/json",
                                   "application/x-www-form-urlencoded"])
def test_wrong_content_type_gets_415(server, work, good_b64, ctype):
    r = curl(server.est_url("simpleenroll"), work, cafile=server.ca, user=AUTH,
             data_file=good_b64, ctype=ctype)
    assert r.status == 415, r


def test_normal_enrollment_still_works_after_errors(server, work, good_b64):
    r = curl(server.est_url("simpleenroll"), work, cafile=server.ca, user=AUTH,
             data_file=good_b64, ctype=P10)
    assert r.status == 200, r
    assert server.running(), server.log_tail()
    (work / "cert.p7").write_bytes(r.body)
    p7_to_pem(work / "cert.p7", work / "cert.pem")
    verify(server.ca, work / "cert.pem")


def test_every_request_gets_an_access_log_line(server, work, good_b64):
    """One access line per request, with status=NNN."""
    start = server.log.stat().st_size
    big = work / "big.b64"
    big.write_bytes(b"A" * 70000)
    bad = work / "bad.b64"
    bad.write_bytes(b"!!!")
    enroll = server.est_url("simpleenroll")
    requests = [
        (200, server.est_url("cacerts"), {}),
        (401, enroll, dict(data_file=good_b64, ctype=P10)),
        (404, server.est_url("cacerts", label="nosuchlabel"), {}),
        (405, enroll, dict(user=AUTH)),
        (415, enroll, dict(user=AUTH, data_file=good_b64, ctype="text/plain")),
        (400, enroll, dict(user=AUTH, data_file=bad, ctype=P10)),
        (413, enroll, dict(user=AUTH, data_file=big, ctype=P10)),
    ]
    for code, url, kw in requests:
        r = curl(url, work, cafile=server.ca, **kw)
        assert r.status == code, r
    # libevent 2.1 answers an over-long body with 413 itself, before any handler
    # runs and with no hook to observe it (evhttp_set_newreqcb arrives in 2.2), so
    # that one request has no access line: a documented limitation
    # (docs/server-internals.md).
    logged = [r for r in requests if r[0] != 413]

    # estd writes (and flushes) a request's access line before it sends the
    # answer (lib/server/handler.c, finish()): every line is there already
    lines = [l for l in server.log_text(start).splitlines() if "status=" in l]
    for code, _, _ in logged:
        assert any(f"status={code}" in l for l in lines), \
            f"no status={code} access line\n{server.log_tail()}"
    assert len(lines) >= len(logged), "\n".join(lines)
