"""Credentials through a transport hook (estkit_client_set_transport) go
only to a server the library authorized (RFC 7030 3.6): tests/e2e/hook_enroll.c
runs TLS of its own and verifies nothing itself. Without a reported chain or
an explicit declaration no Authorization header leaves the client; a reported
chain is checked like the libcurl transport's (explicit trust anchors, the
URL's host); a chain from another CA gets no credentials."""

import pytest

from conftest import serving
from e2e_util import BIN, PASSWORD, USER, Estd, base_env, cert_subject, describe, run

HOOK = BIN / "hook_enroll"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    yield from serving(Estd(tmp_path_factory.mktemp("hook")).init())


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    """Another CA: its estd plays the server a wrong address leads to."""
    yield from serving(Estd(tmp_path_factory.mktemp("hook-other")).init())


def hook_enroll(srv, work, mode, *, url=None, connect_to=None, out="cert.pem"):
    env = base_env(EST_PASSWORD=PASSWORD)
    if connect_to:
        env["HOOK_CONNECT_TO"] = connect_to
    return run([HOOK, mode, url or srv.url, srv.ca, USER, "CN=hook", work / out], env=env)


def test_without_proof_no_credentials_leave(srv, work):
    off = len(srv.log_text())
    cp = hook_enroll(srv, work, "none")
    assert cp.returncode == 1, describe(cp)
    assert "http=401" in cp.stdout and "credentials withheld" in cp.stderr, describe(cp)
    assert not (work / "cert.pem").exists()
    seen = srv.log_text(off)
    assert "identity=anonymous status=401" in seen and "user:estuser" not in seen, seen


def test_reported_chain_authorizes_and_enrolls(srv, work):
    cp = hook_enroll(srv, work, "chain")
    assert cp.returncode == 0, describe(cp)
    assert "http=200" in cp.stdout and "chain=success" in cp.stdout, describe(cp)
    assert "CN=hook" in cert_subject(work / "cert.pem").replace(" ", "")


def test_declared_hook_enrolls(srv, work):
    cp = hook_enroll(srv, work, "declare")
    assert cp.returncode == 0, describe(cp)


def test_chain_of_another_ca_gets_no_credentials(srv, other, work):
    # the client trusts srv's CA but reaches other's server: the hook's own TLS
    # lets it through, the library does not hand it the password
    off = len(other.log_text())
    cp = hook_enroll(srv, work, "chain", connect_to=f"127.0.0.1:{other.port}")
    assert cp.returncode == 1, describe(cp)
    assert "not trusted" in cp.stderr and "credentials withheld" in cp.stderr, describe(cp)
    assert "http=401" in cp.stdout, describe(cp)
    seen = other.log_text(off)
    assert "identity=anonymous status=401" in seen and "user:estuser" not in seen, seen


def test_chain_for_another_name_gets_no_credentials(srv, work):
    # a trusted certificate, but it names localhost and 127.0.0.1, not ca.example
    off = len(srv.log_text())
    cp = hook_enroll(srv, work, "chain", url=f"https://ca.example:{srv.port}",
                     connect_to=f"127.0.0.1:{srv.port}")
    assert cp.returncode == 1, describe(cp)
    assert "does not match ca.example" in cp.stderr, describe(cp)
    assert "user:estuser" not in srv.log_text(off), srv.log_tail()
