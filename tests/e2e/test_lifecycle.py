"""The server's life: TLS versions on the wire, durability across a crash,
graceful shutdown, and estd init options."""

import signal

import pytest

from e2e_util import (ESTD, cert_serial, cert_text, describe, est_enroll, ok, run,
                      verify)


def _s_client(srv, version):
    # SECLEVEL=0 lets this client offer TLS 1.0/1.1 at all, so a refusal
    # comes from estd and not from the local OpenSSL policy.
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}", f"-{version}",
            "-CAfile", srv.ca, "-verify_return_error", "-verify_ip", "127.0.0.1",
            "-brief"]
    if version in ("tls1", "tls1_1"):
        args += ["-cipher", "DEFAULT@SECLEVEL=0"]
    return run(args, input="", timeout=30)


@pytest.mark.parametrize("version", ["tls1", "tls1_1"])
def test_tls_below_1_2_is_refused(server, version):
    cp = _s_client(server, version)
    assert cp.returncode != 0, describe(cp)
    assert "Protocol version" not in cp.stdout + cp.stderr, describe(cp)
    # The refusal is estd's protocol_version alert (RFC 8446 6.2), not a local error.
    assert "alert protocol version" in cp.stderr, describe(cp)
    assert server.running()


@pytest.mark.parametrize("version,name", [("tls1_2", "TLSv1.2"), ("tls1_3", "TLSv1.3")])
def test_tls_1_2_and_1_3_are_accepted_with_valid_server_cert(server, version, name):
    cp = _s_client(server, version)
    assert cp.returncode == 0, describe(cp)
    assert f"Protocol version: {name}" in cp.stdout + cp.stderr, describe(cp)


def test_enrollment_survives_sigkill_right_after_est_exits(fresh_server, work):
    """Nothing is lost: the certificate is committed before est gets it."""
    srv = fresh_server
    out = work / "out"
    cp = est_enroll(srv, out, subject="/CN=durable", key_type="ec:P-256", check=False)
    srv.proc.send_signal(signal.SIGKILL)     # the moment est exited
    assert cp.returncode == 0, describe(cp)
    srv.proc.wait(timeout=10)
    serial = cert_serial(out / "cert.pem")

    srv.start()                              # same directory, same port
    rec = srv.cert_record(serial)
    assert rec is not None, (f"serial {serial} lost after SIGKILL; have "
                             f"{[r.get('serial') for r in srv.certs()]}")
    assert "durable" in rec["subject"]
    # And the restarted server works.
    est_enroll(srv, work / "after", subject="/CN=after-restart")
    verify(srv.ca, work / "after" / "cert.pem")


def test_sigterm_while_idle_exits_0_and_logs_shutting_down(fresh_server):
    srv = fresh_server
    rc = srv.stop(signal.SIGTERM)
    assert rc == 0, srv.log_tail()
    assert "shutting down" in srv.log_text(), srv.log_tail()


def test_init_with_rsa3072_ca_enrolls(make_server, work):
    srv = make_server(key_type="rsa:3072")
    ca_text = cert_text(srv.ca)
    assert "rsaEncryption" in ca_text and "(3072 bit)" in ca_text, ca_text
    out = work / "rsa-ca"
    est_enroll(srv, out, subject="/CN=under-rsa-ca", san=["DNS:under-rsa-ca.example"],
               key_type="ec:P-256")
    verify(srv.ca, out / "cert.pem")
    assert "sha256WithRSAEncryption" in cert_text(out / "cert.pem")


def test_init_refuses_to_overwrite_without_force(server, work):
    before = server.ca.read_bytes()
    cp = run([ESTD, "init", "--dir", server.dir])
    assert cp.returncode != 0, describe(cp)
    assert server.ca.read_bytes() == before, "estd init overwrote the CA"


def test_certs_list_json_works_while_server_runs(server, work):
    est_enroll(server, work / "o", subject="/CN=listed")
    serial = cert_serial(work / "o" / "cert.pem")
    cp = ok([ESTD, "certs", "list", "-c", server.conf])
    assert server.cert_record(serial) is not None
    assert cp.stdout.strip(), describe(cp)
