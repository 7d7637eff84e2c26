"""HTTP Digest authentication (RFC 7030 3.2.3, RFC 7616) against the real estd:
curl --digest / --anyauth, est --auth digest, and a standard-library client
that computes SHA-256 and MD5 responses itself to probe the nonce rules
(forged, expired, replayed, shared between two estd processes)."""

import hashlib
import http.client
import os
import re
import shutil
import ssl
import time
from pathlib import Path

import pytest

from e2e_util import (EST, PASSWORD, USER, Estd, base_env, curl, describe, make_csr, ok,
                      p7_to_pem, run, set_ini, free_port)

ENROLL = "/.well-known/est/simpleenroll"


def challenges(res):
    return res.header("WWW-Authenticate")


def parse_challenge(value):
    """'Digest realm="x", nonce="y", algorithm=SHA-256' -> dict (lowercase keys)."""
    assert value.startswith("Digest "), value
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in re.finditer(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', value[7:])}


class DigestClient:
    """A minimal RFC 7616 client over http.client + ssl (Python 3.11's urllib
    only does MD5 and SHA-1 Digest, so the response is computed here)."""

    def __init__(self, srv, port=None):
        self.srv, self.port = srv, port or srv.port
        self.ctx = ssl.create_default_context(cafile=str(srv.ca))

    def post(self, path, body, authz=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                           timeout=30)
        hdrs = {"Content-Type": "application/pkcs10"}
        if authz:
            hdrs["Authorization"] = authz
        conn.request("POST", path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        www = resp.headers.get_all("WWW-Authenticate") or []
        conn.close()
        return resp.status, www, data

    def nonce(self, body, alg="SHA-256"):
        status, www, _ = self.post(ENROLL, body)
        assert status == 401, www
        for w in www:
            if w.startswith("Digest ") and parse_challenge(w).get("algorithm") == alg:
                return parse_challenge(w)
        raise AssertionError(f"no Digest {alg} challenge in {www}")

    @staticmethod
    def authz(alg, user, password, realm, nonce, uri, nc="00000001", cnonce="0a4f113b",
              method="POST", extra=""):
        h = (lambda s: hashlib.sha256(s.encode()).hexdigest()) if alg == "SHA-256" else \
            (lambda s: hashlib.md5(s.encode()).hexdigest())
        ha1 = h(f"{user}:{realm}:{password}")
        ha2 = h(f"{method}:{uri}")
        resp = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
                f'algorithm={alg}, qop=auth, nc={nc}, cnonce="{cnonce}", '
                f'response="{resp}"{extra}')


def csr_b64(work, name):
    csr, _ = make_csr(work, name)
    text = Path(csr).read_text()
    return "".join(l for l in text.splitlines() if "-----" not in l).encode()


def csr_file(work, name):
    csr, _ = make_csr(work, name, der=True)
    out = Path(work) / f"{name}.b64"
    ok(["openssl", "base64", "-in", csr, "-out", out])
    return out


def test_401_offers_digest_sha256_then_md5_then_basic(server, work):
    res = curl(server.est_url("simpleenroll"), work, cafile=server.ca,
               data_file=csr_file(work, "c0"), ctype="application/pkcs10")
    assert res.status == 401, res
    www = challenges(res)
    assert len(www) == 3, res
    assert parse_challenge(www[0])["algorithm"] == "SHA-256", res
    assert parse_challenge(www[1])["algorithm"] == "MD5", res
    assert www[2].startswith("Basic realm="), res
    for w in www[:2]:
        c = parse_challenge(w)
        assert c["qop"] == "auth" and c["realm"] == "estkit" and len(c["nonce"]) == 64, res
        assert "stale" not in c, res


@pytest.mark.parametrize("mode", ["--digest", "--anyauth"])
def test_curl_digest_enrolls(server, work, mode):
    res = curl(server.est_url("simpleenroll"), work, cafile=server.ca,
               user=f"{USER}:{PASSWORD}", data_file=csr_file(work, "c1"),
               ctype="application/pkcs10", extra=[mode, "-v"])
    assert res.status == 200, res
    # curl answers the first (SHA-256) Digest challenge
    assert re.search(r"Authorization: Digest .*algorithm=SHA-256", res.cp.stderr), res
    (work / "c1.p7").write_bytes(res.body)
    p7_to_pem(work / "c1.p7", work / "c1.pem")


def test_curl_digest_wrong_password_is_401(server, work):
    res = curl(server.est_url("simpleenroll"), work, cafile=server.ca,
               user=f"{USER}:wrong", data_file=csr_file(work, "c2"),
               ctype="application/pkcs10", extra=["--digest"])
    assert res.status == 401, res


@pytest.mark.parametrize("alg", ["SHA-256", "MD5"])
def test_stdlib_client_enrolls_with_each_algorithm(server, work, alg):
    cl = DigestClient(server)
    body = csr_b64(work, "p" + alg[:3])
    ch = cl.nonce(body, alg)
    st, _, data = cl.post(ENROLL, body, cl.authz(alg, USER, PASSWORD, ch["realm"],
                                                 ch["nonce"], ENROLL))
    assert st == 200, data
    # the same nonce with the next nonce-count is fine (RFC 7616 3.4)
    st, _, data = cl.post(ENROLL, body, cl.authz(alg, USER, PASSWORD, ch["realm"],
                                                 ch["nonce"], ENROLL, nc="00000002"))
    assert st == 200, data


def test_replayed_nonce_count_is_401(server, work):
    cl = DigestClient(server)
    body = csr_b64(work, "r1")
    ch = cl.nonce(body)
    a = cl.authz("SHA-256", USER, PASSWORD, ch["realm"], ch["nonce"], ENROLL, nc="00000005")
    assert cl.post(ENROLL, body, a)[0] == 200
    st, www, _ = cl.post(ENROLL, body, a)
    assert st == 401, www
    lower = cl.authz("SHA-256", USER, PASSWORD, ch["realm"], ch["nonce"], ENROLL,
                     nc="00000004", cnonce="other")
    assert cl.post(ENROLL, body, lower)[0] == 401


def test_forged_nonce_is_401_without_stale(server, work):
    cl = DigestClient(server)
    body = csr_b64(work, "f1")
    ch = cl.nonce(body)
    n = ch["nonce"]
    # flip one character inside the MAC part, keeping valid base64
    i = 40
    forged = n[:i] + ("A" if n[i] != "A" else "B") + n[i + 1:]
    st, www, _ = cl.post(ENROLL, body, cl.authz("SHA-256", USER, PASSWORD, ch["realm"],
                                                forged, ENROLL))
    assert st == 401
    assert not any("stale=true" in w for w in www), www
    assert "forged or foreign nonce" in server.log_text()


@pytest.mark.parametrize("authz_fix", [
    lambda a: a.replace('uri="' + ENROLL + '"', 'uri="/.well-known/est/cacerts"'),
    lambda a: a.replace('realm="estkit"', 'realm="other"'),
    lambda a: a.replace("qop=auth", "qop=auth-int"),
    lambda a: a.replace("algorithm=SHA-256", "algorithm=SHA-256-sess"),
    lambda a: a.replace('cnonce="0a4f113b", ', ""),
    lambda a: a + ', nc=00000009',                    # a parameter twice
    lambda a: a.replace("nc=00000001", "nc=1"),
    lambda a: a + ", " + "x" * 4100,                  # over 4 KiB
    lambda a: a.replace('username="estuser"', 'username="estuser\\"'),
], ids=["uri", "realm", "qop", "sess", "no-cnonce", "dup", "nc-format", "oversized",
        "unterminated"])
def test_malformed_or_mismatched_digest_is_401(server, work, authz_fix):
    cl = DigestClient(server)
    body = csr_b64(work, "m1")
    ch = cl.nonce(body)
    a = cl.authz("SHA-256", USER, PASSWORD, ch["realm"], ch["nonce"], ENROLL)
    st, www, _ = cl.post(ENROLL, body, authz_fix(a))
    assert st == 401, www
    assert any(w.startswith("Digest ") for w in www), www


def test_expired_nonce_is_401_with_stale(fresh_server, work):
    srv = fresh_server
    srv.stop()
    set_ini(srv.conf, "auth", "digest_nonce_lifetime", "1")
    srv.start()
    cl = DigestClient(srv)
    body = csr_b64(work, "e1")
    ch = cl.nonce(body)
    time.sleep(2.2)
    st, www, _ = cl.post(ENROLL, body, cl.authz("SHA-256", USER, PASSWORD, ch["realm"],
                                                ch["nonce"], ENROLL))
    assert st == 401, www
    assert sum("stale=true" in w for w in www) == 2, www
    # wrong password with an expired nonce: no stale (RFC 7616 3.3)
    st, www, _ = cl.post(ENROLL, body, cl.authz("SHA-256", USER, "bad", ch["realm"],
                                                ch["nonce"], ENROLL, nc="00000002"))
    assert st == 401 and not any("stale=true" in w for w in www), www
    # a fresh nonce works
    ch = cl.nonce(body)
    st, _, data = cl.post(ENROLL, body, cl.authz("SHA-256", USER, PASSWORD, ch["realm"],
                                                 ch["nonce"], ENROLL))
    assert st == 200, data


def test_two_estd_sharing_digest_key_accept_each_others_nonces(fresh_server, work):
    srv = fresh_server
    assert (srv.dir / "digest.key").stat().st_mode & 0o777 == 0o600
    conf2 = srv.dir / "estd2.conf"
    shutil.copy(srv.conf, conf2)
    port2 = free_port()
    set_ini(conf2, "server", "listen", f"127.0.0.1:{port2}")
    second = Estd(srv.root, name=srv.dir.name)
    second.conf, second.port, second.log = conf2, port2, srv.root / "second-estd.log"
    second.start()
    try:
        body = csr_b64(work, "s1")
        ch = DigestClient(srv).nonce(body)
        a = DigestClient.authz("SHA-256", USER, PASSWORD, ch["realm"], ch["nonce"], ENROLL)
        st, _, data = DigestClient(srv, port2).post(ENROLL, body, a)
        assert st == 200, data
    finally:
        assert second.stop() == 0


def test_digest_key_is_created_when_missing(fresh_server, work):
    srv = fresh_server
    srv.stop()
    key = srv.dir / "digest.key"
    key.unlink()
    srv.start()
    assert key.stat().st_size == 32 and key.stat().st_mode & 0o777 == 0o600
    cl = DigestClient(srv)
    body = csr_b64(work, "k1")
    ch = cl.nonce(body)
    assert cl.post(ENROLL, body, cl.authz("MD5", USER, PASSWORD, ch["realm"], ch["nonce"],
                                          ENROLL))[0] == 200


def test_user_without_ha1_can_use_basic_only(fresh_server, work):
    srv = fresh_server
    users = srv.dir / "users"
    text = users.read_text()
    name, crypt_hash = text.strip().split(":")[:2]
    users.write_text(f"{name}:{crypt_hash}\n")
    srv.stop()
    srv.start()
    cl = DigestClient(srv)
    body = csr_b64(work, "u1")
    ch = cl.nonce(body)
    assert cl.post(ENROLL, body, cl.authz("SHA-256", USER, PASSWORD, ch["realm"],
                                          ch["nonce"], ENROLL))[0] == 401
    assert "has no Digest HA1 values" in srv.log_text()
    res = curl(srv.est_url("simpleenroll"), work, cafile=srv.ca, user=f"{USER}:{PASSWORD}",
               data_file=csr_file(work, "u2"), ctype="application/pkcs10")
    assert res.status == 200, res


def test_methods_basic_only_offers_no_digest(fresh_server, work):
    srv = fresh_server
    srv.stop()
    set_ini(srv.conf, "auth", "methods", "basic")
    srv.start()
    res = curl(srv.est_url("simpleenroll"), work, cafile=srv.ca, user=f"{USER}:{PASSWORD}",
               data_file=csr_file(work, "b1"), ctype="application/pkcs10",
               extra=["--digest"])
    assert res.status == 401, res
    assert challenges(res) == ['Basic realm="estkit"'], res


def test_est_enroll_auth_digest(server, work):
    env = base_env()
    env["EST_PASSWORD"] = PASSWORD
    out = work / "d1"
    cp = run([EST, "enroll", "--server", server.url, "--cacert", server.ca, "--user", USER,
              "--auth", "digest", "--subject", "CN=digest-dev", "--out", out], env=env)
    assert cp.returncode == 0, describe(cp)
    assert (out / "cert.pem").is_file()
    env["EST_PASSWORD"] = "wrong"
    cp = run([EST, "enroll", "--server", server.url, "--cacert", server.ca, "--user", USER,
              "--auth", "any", "--subject", "CN=digest-dev2", "--out", work / "d2"], env=env)
    assert cp.returncode != 0 and "401" in cp.stderr, describe(cp)
    cp = run([EST, "enroll", "--server", server.url, "--cacert", server.ca, "--user", USER,
              "--auth", "kerberos", "--subject", "CN=x", "--out", work / "d3"], env=env)
    assert cp.returncode == 2, describe(cp)
