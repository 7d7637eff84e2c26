"""Explicit and implicit trust anchor databases (RFC 7030 3.3.1, 3.3.2, 3.6,
3.6.2, 4.1.1), on both sides.

Client: `est cacerts --implicit-ta FILE|system` authenticates the server with
third-party CAs for the bootstrap /cacerts only, authorizing it by RFC 6125
name matching alone (id-kp-cmcRA does not count, 3.6.2).
Server: `[auth] implicit_ca` is kept apart from `[auth] explicit_ca` (alias
client_ca): a client certificate chaining only to the implicit CA authenticates
/simpleenroll and nothing else; `implicit_ca_enabled = no` switches it off."""

import pytest

from conftest import server_factory, start_live, stop_live
from e2e_util import (EST, ESTD, Estd, base_env, curl, describe, make_csr, ok, run,
                      set_ini)


def third_party_ca(d, name="thirdca"):
    """A self-signed CA that is not the estd's."""
    key, pem = d / f"{name}.key", d / f"{name}.pem"
    ok(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", key, "-subj", f"/CN={name}", "-days", "2", "-out", pem,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return pem, key


def issue(d, ca_pem, ca_key, name, ext):
    csr, key = make_csr(d, name)
    extf = d / f"{name}.ext"
    extf.write_text(ext)
    pem = d / f"{name}.pem"
    ok(["openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
        "-CAcreateserial", "-days", "1", "-extfile", extf, "-out", pem])
    return pem, key


@pytest.fixture
def implicit_server(tmp_path):
    def make(root, **auth):
        srv = Estd(root).init()
        for k, v in auth.items():
            set_ini(srv.conf, "auth", k, v)
        return start_live(srv)

    yield from server_factory(tmp_path, make)


# ---- client -------------------------------------------------------------------------

def test_cacerts_with_implicit_ta_file(server, work):
    out = work / "cas.pem"
    cp = run([EST, "cacerts", "--server", server.url, "--implicit-ta", server.ca,
              "--out", out, "--verbose"])
    assert cp.returncode == 0, describe(cp)
    assert "implicit trust anchors" in cp.stderr, describe(cp)
    assert ok(["openssl", "x509", "-in", out, "-noout", "-subject"]).stdout
    # the answer is then the explicit database for everything else
    cp = run([EST, "cacerts", "--server", server.url, "--cacert", out, "--out", work / "b.pem"])
    assert cp.returncode == 0, describe(cp)


def test_cacerts_with_implicit_ta_system_bundle(server, work):
    # "system" is OpenSSL's default bundle, which SSL_CERT_FILE overrides
    cp = run([EST, "cacerts", "--server", server.url, "--implicit-ta", "system",
              "--out", work / "cas.pem"], env=base_env(SSL_CERT_FILE=str(server.ca)))
    assert cp.returncode == 0, describe(cp)
    empty = work / "empty.pem"
    empty.write_text("")
    cp = run([EST, "cacerts", "--server", server.url, "--implicit-ta", "system",
              "--out", work / "no.pem"], env=base_env(SSL_CERT_FILE=str(empty),
                                                      SSL_CERT_DIR=str(work)))
    assert cp.returncode == 1, describe(cp)
    assert not (work / "no.pem").exists()


def test_cacerts_with_unrelated_implicit_ta_refused(server, work):
    other, _ = third_party_ca(work)
    cp = run([EST, "cacerts", "--server", server.url, "--implicit-ta", other,
              "--out", work / "cas.pem"])
    assert cp.returncode == 1, describe(cp)
    assert "TLS" in cp.stderr, describe(cp)
    assert not (work / "cas.pem").exists()


def test_implicit_ta_needs_the_host_name_cmc_ra_does_not_count(tmp_path, work):
    """RFC 7030 3.6.2: with implicit anchors only RFC 6125 name matching
    authorizes; a certificate with id-kp-cmcRA for another name is refused
    even with --accept-ra (which the explicit database would honour)."""
    srv = Estd(tmp_path / "ra").init()
    d = srv.dir
    issue(d, d / "ca.pem", d / "ca.key", "ra",
          "subjectAltName = DNS:elsewhere.example\n"
          "extendedKeyUsage = serverAuth, 1.3.6.1.5.5.7.3.28\n")
    set_ini(srv.conf, "server", "tls_cert", "ra.pem")
    set_ini(srv.conf, "server", "tls_key", "ra.key")
    try:
        start_live(srv)
        cp = run([EST, "cacerts", "--server", srv.url, "--implicit-ta", srv.ca,
                  "--accept-ra", "--out", work / "cas.pem"])
        assert cp.returncode == 1, describe(cp)
        assert not (work / "cas.pem").exists()
        cp = run([EST, "cacerts", "--server", srv.url, "--cacert", srv.ca,
                  "--accept-ra", "--out", work / "cas.pem"])
        assert cp.returncode == 0, describe(cp)
    finally:
        stop_live(srv)


def test_implicit_ta_usage_rules(server, work):
    cp = run([EST, "cacerts", "--server", server.url, "--implicit-ta", server.ca,
              "--cacert", server.ca])
    assert cp.returncode == 2, describe(cp)
    cp = run([EST, "cacerts", "--server", server.url, "--implicit-ta", work / "missing.pem"])
    assert cp.returncode == 1, describe(cp)
    assert "implicit trust anchors" in cp.stderr, describe(cp)
    cp = run([EST, "cacerts", "--help"])
    assert "--implicit-ta" in cp.stdout and "--accept-ra" in cp.stdout, describe(cp)


# ---- server -------------------------------------------------------------------------

def client_cert(work, name="device"):
    ca, cakey = third_party_ca(work)
    cert, key = issue(work, ca, cakey, name,
                      "extendedKeyUsage = clientAuth\nsubjectAltName = DNS:device.example\n")
    return ca, cert, key


def post(srv, op, work, cert, key, name):
    csr, _ = make_csr(work, name, der=True)
    b64 = work / f"{name}.b64"
    b64.write_bytes(__import__("base64").encodebytes(csr.read_bytes()))
    return curl(srv.est_url(op), work, cafile=srv.ca, data_file=b64,
                ctype="application/pkcs10", extra=["--cert", cert, "--key", key])


def test_server_implicit_client_cert_enrolls_only(implicit_server, work):
    ca, cert, key = client_cert(work)
    srv = implicit_server(implicit_ca=str(ca))
    r = post(srv, "simpleenroll", work, cert, key, "e1")
    assert r.status == 200, r
    # the same certificate authenticates nothing else (RFC 7030 3.3.2)
    r = post(srv, "simplereenroll", work, cert, key, "e2")
    assert r.status == 401, r
    r = post(srv, "serverkeygen", work, cert, key, "e3")
    assert r.status == 401, r
    assert "implicit trust anchors ignored" in srv.log_text()


def test_server_implicit_client_cert_with_est(implicit_server, work):
    """The same with est: enroll with the third-party certificate, no password."""
    ca, cert, key = client_cert(work)
    srv = implicit_server(implicit_ca=str(ca))
    out = work / "o"
    out.mkdir()
    cp = run([EST, "enroll", "--server", srv.url, "--cacert", srv.ca, "--cert", cert,
              "--key", key, "--subject", "CN=device.example", "--out", out])
    assert cp.returncode == 0, describe(cp)
    assert (out / "cert.pem").exists()
    # the newly issued (explicit) certificate renews; the third-party one does not
    cp = run([EST, "reenroll", "--server", srv.url, "--cacert", srv.ca, "--cert", cert,
              "--key", key, "--out", work / "r1"])
    assert cp.returncode == 1, describe(cp)
    cp = run([EST, "reenroll", "--server", srv.url, "--cacert", srv.ca,
              "--cert", out / "cert.pem", "--key", out / "key.pem", "--out", work / "r2"])
    assert cp.returncode == 0, describe(cp)


def test_server_implicit_ca_switched_off(implicit_server, work):
    ca, cert, key = client_cert(work)
    srv = implicit_server(implicit_ca=str(ca), implicit_ca_enabled="no")
    r = post(srv, "simpleenroll", work, cert, key, "e1")
    assert r.status != 200, r  # the handshake refuses the certificate


def test_server_explicit_ca_authenticates_every_operation(implicit_server, work):
    ca, cert, key = client_cert(work)
    srv = implicit_server(explicit_ca=str(ca))
    r = post(srv, "simpleenroll", work, cert, key, "e1")
    assert r.status == 200, r
    r = post(srv, "serverkeygen", work, cert, key, "e2")
    assert r.status == 200, r


def test_server_refuses_a_bad_implicit_ca_enabled(tmp_path):
    srv = Estd(tmp_path / "bad").init()
    set_ini(srv.conf, "auth", "implicit_ca_enabled", "maybe")
    cp = run([ESTD, "run", "-c", srv.conf], timeout=30)
    assert cp.returncode != 0, describe(cp)
    assert "implicit_ca_enabled" in cp.stdout + cp.stderr, describe(cp)
