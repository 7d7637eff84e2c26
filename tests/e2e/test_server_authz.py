"""Server authorization (RFC 7030 3.6, 3.6.1): the client accepts a server
whose certificate chains to the explicit trust anchor (--cacert) and names the
URL's host (RFC 6125) - or, only with --accept-ra, carries id-kp-cmcRA.
Credentials are never sent to a server that is not authorized."""

import pytest

from conftest import server_factory, start_live
from e2e_util import EST, PASSWORD, USER, Estd, base_env, describe, ok, run, set_ini


def ra_server(tmp_path, eku):
    """An estd whose TLS certificate (from its own CA) names only
    elsewhere.example, with the given extendedKeyUsage."""
    srv = Estd(tmp_path).init()
    d = srv.dir
    ext = d / "ext.cnf"
    ext.write_text(f"subjectAltName = DNS:elsewhere.example\nextendedKeyUsage = {eku}\n")
    ok(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", d / "ra.key", "-subj", "/CN=elsewhere.example",
        "-out", d / "ra.csr"])
    ok(["openssl", "x509", "-req", "-in", d / "ra.csr", "-CA", d / "ca.pem", "-CAkey",
        d / "ca.key", "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", d / "ra.pem"])
    set_ini(srv.conf, "server", "tls_cert", "ra.pem")
    set_ini(srv.conf, "server", "tls_key", "ra.key")
    return start_live(srv)


@pytest.fixture
def servers(tmp_path):
    yield from server_factory(tmp_path, ra_server)


def cacerts(srv, work, *extra):
    return run([EST, "cacerts", "--server", srv.url, "--cacert", srv.ca,
                "--out", work / "cas.pem", *extra])


def test_cmc_ra_server_accepted_only_with_accept_ra(servers, work):
    srv = servers("serverAuth, 1.3.6.1.5.5.7.3.28")  # id-kp-cmcRA (RFC 6402)
    cp = cacerts(srv, work)
    assert cp.returncode == 1, describe(cp)
    cp = cacerts(srv, work, "--accept-ra")
    assert cp.returncode == 0, describe(cp)
    out = work / "o"
    out.mkdir()
    cp = run([EST, "enroll", "--server", srv.url, "--cacert", srv.ca, "--user", USER,
              "--subject", "CN=via-ra", "--out", out, "--accept-ra"],
             env=base_env(EST_PASSWORD=PASSWORD))
    assert cp.returncode == 0, describe(cp)


def test_name_mismatch_without_cmc_ra_refused_even_with_accept_ra(servers, work):
    srv = servers("serverAuth")
    cp = cacerts(srv, work, "--accept-ra")
    assert cp.returncode == 1, describe(cp)
    assert not (work / "cas.pem").exists()


def test_credentials_never_reach_an_unauthorized_server(servers, work):
    srv = servers("serverAuth")
    out = work / "o"
    out.mkdir()
    before = srv.log_text()
    cp = run([EST, "enroll", "--server", srv.url, "--cacert", srv.ca, "--user", USER,
              "--subject", "CN=nope", "--out", out],
             env=base_env(EST_PASSWORD=PASSWORD))
    assert cp.returncode == 1, describe(cp)
    assert "TLS" in cp.stderr, describe(cp)
    # no HTTP request (and so no Authorization header) reached the server
    new = srv.log_text()[len(before):]
    assert "access " not in new, new
    assert not (out / "cert.pem").exists()
