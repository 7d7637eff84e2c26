"""CA rollover (RFC 7030 4.1.3, RFC 4210 4.4): estd ca rollover, SIGHUP,
/cacerts with the four certificates, est cacerts --update accepting the new
root only through its link certificate, issuance switching to the new CA."""

import signal
import time

from e2e_util import (EST, ESTD, base_env, cert_pubkey, curl, describe, est_enroll,
                      ok, run, set_ini)


def _split_pem(path):
    """The PEM certificates of a file, as a list of texts."""
    text = path.read_text()
    blocks = text.split("-----END CERTIFICATE-----")[:-1]
    return [b[b.index("-----BEGIN CERTIFICATE-----"):] + "-----END CERTIFICATE-----\n"
            for b in blocks]


def _pubkeys(path, work):
    keys = []
    for i, pem in enumerate(_split_pem(path)):
        one = work / f"{path.name}.{i}.pem"
        one.write_text(pem)
        keys.append(cert_pubkey(one))
    return keys


def _verifies(cafile, pem):
    cp = run(["openssl", "verify", "-CAfile", cafile, pem])
    return cp.returncode == 0 and ": OK" in cp.stdout


def _issuer_key_is(cert, ca_pem):
    """The issued certificate verifies against ca_pem alone (as the only anchor)."""
    return _verifies(ca_pem, cert)


def _rollover_and_reload(srv):
    offset = srv.log.stat().st_size
    ok([ESTD, "ca", "rollover", "-c", srv.conf, "--switch-at", "now"])
    srv.send(signal.SIGHUP)
    deadline = time.monotonic() + 30  # a sanitized reload on a busy machine is slow
    while "CA rollover: new CA" not in srv.log_text(offset):
        assert time.monotonic() < deadline, "estd did not reload\n" + srv.log_tail()
        assert "reload failed" not in srv.log_text(offset), srv.log_tail()
        time.sleep(0.05)


def test_rollover_end_to_end(fresh_server, work):
    srv = fresh_server
    old_root = srv.ca
    trust = work / "trust.pem"
    trust.write_text(old_root.read_text())

    # Before: issued by the old CA.
    est_enroll(srv, work / "before", subject="/CN=before-rollover")
    before = work / "before" / "cert.pem"
    assert _issuer_key_is(before, old_root)

    _rollover_and_reload(srv)
    new_root = srv.dir / "ca-2.pem"
    assert (srv.dir / "ca-2.key").stat().st_mode & 0o777 == 0o600

    # /cacerts: OldWithOld, NewWithOld, OldWithNew, NewWithNew (RFC 7030 A.1).
    r = curl(srv.est_url("cacerts"), work, cafile=old_root)
    assert r.status == 200, r
    p7 = work / "cacerts.p7"
    p7.write_bytes(r.body)
    cp = ok(["bash", "-o", "pipefail", "-c",
             f"openssl base64 -d -in {p7} | openssl pkcs7 -inform DER -print_certs"])
    assert cp.stdout.count("-----BEGIN CERTIFICATE-----") == 4, cp.stdout
    printed = work / "printed.pem"
    printed.write_text(cp.stdout)
    keys = _pubkeys(printed, work)
    old_key, new_key = cert_pubkey(old_root), cert_pubkey(new_root)
    assert keys.count(old_key) == 2 and keys.count(new_key) == 2, keys

    # The client with the old trust file takes the new root through the link.
    cp = ok([EST, "cacerts", "--server", srv.url, "--cacert", trust, "--update"])
    assert "warning" not in cp.stderr, describe(cp)
    tkeys = _pubkeys(trust, work)
    assert old_key in tkeys and new_key in tkeys, describe(cp)

    # After switch_at: issued by the new CA, verified with the updated trust file.
    est_enroll(srv, work / "after", subject="/CN=after-rollover")
    after = work / "after" / "cert.pem"
    assert _issuer_key_is(after, new_root)
    assert not _issuer_key_is(after, old_root)
    assert _verifies(trust, after)
    # The old certificate still verifies with the old root.
    assert _issuer_key_is(before, old_root)
    assert _verifies(trust, before)

    # TLS client certificates of both CAs authenticate (re-enrollment).
    for name, d in (("before", work / "before"), ("after", work / "after")):
        ok([EST, "reenroll", "--server", srv.url, "--cacert", trust,
            "--cert", d / "cert.pem", "--key", d / "key.pem", "--out", work / f"re-{name}"])
        assert _issuer_key_is(work / f"re-{name}" / "cert.pem", new_root)


def test_second_rollover_refused_while_one_is_under_way(fresh_server):
    ok([ESTD, "ca", "rollover", "-c", fresh_server.conf, "--switch-at", "2099-01-01T00:00:00Z"])
    cp = run([ESTD, "ca", "rollover", "-c", fresh_server.conf])
    assert cp.returncode == 1 and "already under way" in cp.stderr, describe(cp)


def test_before_switch_at_the_old_ca_keeps_issuing(fresh_server, work):
    srv = fresh_server
    offset = srv.log.stat().st_size
    ok([ESTD, "ca", "rollover", "-c", srv.conf, "--switch-at", "2099-01-01T00:00:00Z"])
    srv.send(signal.SIGHUP)
    deadline = time.monotonic() + 30  # a sanitized reload on a busy machine is slow
    while "not issuing yet" not in srv.log_text(offset):
        assert time.monotonic() < deadline, srv.log_tail()
        time.sleep(0.05)
    est_enroll(srv, work / "e", subject="/CN=still-old")
    assert _issuer_key_is(work / "e" / "cert.pem", srv.ca)


def test_unlinked_root_in_cacerts_is_refused(fresh_server, work):
    """A /cacerts answer carrying a root no trusted root links to (here slipped
    in through [ca] chain, as a compromised server could) does not enter the
    trust file; the old root stays."""
    srv = fresh_server
    evil_key, evil = work / "evil.key", work / "evil.pem"
    ok(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", evil_key, "-out", evil, "-subj", "/CN=estkit CA/O=estkit",
        "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE"])
    set_ini(srv.conf, "ca", "chain", str(evil))
    srv.stop()
    srv.start()
    trust = work / "trust.pem"
    trust.write_text(srv.ca.read_text())
    cp = ok([EST, "cacerts", "--server", srv.url, "--cacert", trust, "--update"])
    assert "warning" in cp.stderr and "link certificate" in cp.stderr, describe(cp)
    tkeys = _pubkeys(trust, work)
    assert cert_pubkey(srv.ca) in tkeys
    assert cert_pubkey(evil) not in tkeys, "an unlinked root entered the trust file"
    # --out behaves the same when the answer holds a trusted root.
    out = work / "out.pem"
    cp = ok([EST, "cacerts", "--server", srv.url, "--cacert", srv.ca, "--out", out])
    assert cert_pubkey(evil) not in _pubkeys(out, work), describe(cp)


def test_tampered_link_certificate_stops_estd_from_loading(fresh_server, work):
    """estd checks link_certs: a NewWithOld not signed by the old key is refused
    at reload and the running configuration stays."""
    srv = fresh_server
    ok([ESTD, "ca", "rollover", "-c", srv.conf, "--switch-at", "now"])
    other_key = work / "other.key"
    ok(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", other_key])
    # Re-sign the links with a foreign key: neither verifies any more.
    links = srv.dir / "ca-2-links.pem"
    bad = []
    for i, pem in enumerate(_split_pem(links)):
        one, out = work / f"l{i}.pem", work / f"b{i}.pem"
        one.write_text(pem)
        ok(["openssl", "x509", "-in", one, "-signkey", other_key, "-out", out,
            "-preserve_dates"], env=base_env())
        bad.append(out.read_text())
    links.write_text("".join(bad))
    offset = srv.log.stat().st_size
    srv.send(signal.SIGHUP)
    deadline = time.monotonic() + 30  # a sanitized reload on a busy machine is slow
    while "reload failed" not in srv.log_text(offset):
        assert time.monotonic() < deadline, srv.log_tail()
        time.sleep(0.05)
    assert "link_certs" in srv.log_text(offset), srv.log_tail()
    est_enroll(srv, work / "e", subject="/CN=still-old")
    assert _issuer_key_is(work / "e" / "cert.pem", srv.ca)
