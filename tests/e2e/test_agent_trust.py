"""est agent trust maintenance against a real estd (RFC 7030 4.1.3): through a
CA rollover the agent's trust file takes the new root by its NewWithOld link
(and OldWithNew, NewWithNew); renewals switch to the new CA; once the operator
has finished the rollover (old CA and its TLS certificate gone, the old root
in the trust file expired) the agent keeps working, where an agent that did
not refresh its anchors cannot. A server the trust file does not
authenticate, or an unlinked root in a trusted server's answer, never
changes the trust file."""

import re
import signal
import time

from agent_util import agent_conf, links_match, read_state
from e2e_util import EST, ESTD, cert_pubkey, cert_serial, describe, ok, run, set_ini

AGENT = "cacerts_interval = 1\ncheck_interval = 1\n"


def _split_pem(path, work):
    text = path.read_text()
    blocks = text.split("-----END CERTIFICATE-----")[:-1]
    files = []
    for i, b in enumerate(blocks):
        one = work / f"{path.name}.{i}.pem"
        one.write_text(b[b.index("-----BEGIN CERTIFICATE-----"):] +
                       "-----END CERTIFICATE-----\n")
        files.append(one)
    return files


def _roles(trust, work):
    """(public key, self-signed) of each certificate in the trust file."""
    out = []
    for one in _split_pem(trust, work):
        cp = ok(["openssl", "x509", "-in", one, "-noout", "-subject", "-issuer",
                 "-nameopt", "RFC2253"])
        sub, iss = [line.split("=", 1)[1] for line in cp.stdout.splitlines()[:2]]
        selfsig = sub == iss and run(["openssl", "verify", "-CAfile", one, one]).returncode == 0
        out.append((cert_pubkey(one), selfsig))
    return out


def _verifies(cafile, cert, chain=None):
    args = ["openssl", "verify", "-CAfile", cafile]
    if chain is not None:
        args += ["-untrusted", chain]
    return run(args + [cert]).returncode == 0


def _rollover(srv):
    offset = srv.log.stat().st_size
    ok([ESTD, "ca", "rollover", "-c", srv.conf, "--switch-at", "now"])
    srv.send(signal.SIGHUP)
    deadline = time.monotonic() + 30  # a sanitized reload on a busy machine is slow
    while "CA rollover: new CA" not in srv.log_text(offset):
        assert time.monotonic() < deadline, "estd did not reload\n" + srv.log_tail()
        time.sleep(0.05)


def _finish_rollover(srv, work):
    """What the operator does when the old root is done with (estd(8), ca
    rollover): the new CA becomes the CA, the rollover keys go, the server's
    TLS certificate comes from the new CA, estd restarts."""
    d = srv.dir
    ext = work / "tls-ext.cnf"
    ext.write_text("basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                   "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, "
                   "IP:127.0.0.1\nsubjectKeyIdentifier = hash\n"
                   "authorityKeyIdentifier = keyid\n")
    ok(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", d / "tls-2.key", "-out", work / "tls-2.csr", "-subj",
        "/CN=localhost"])
    ok(["openssl", "x509", "-req", "-in", work / "tls-2.csr", "-CA", d / "ca-2.pem", "-CAkey",
        d / "ca-2.key", "-set_serial", "4242", "-days", "30", "-extfile", ext,
        "-out", d / "tls-2.pem"])
    (d / "tls-2.key").chmod(0o600)
    set_ini(srv.conf, "ca", "cert", "ca-2.pem")
    set_ini(srv.conf, "ca", "key", "ca-2.key")
    set_ini(srv.conf, "server", "tls_cert", "tls-2.pem")
    set_ini(srv.conf, "server", "tls_key", "tls-2.key")
    text = srv.conf.read_text()
    text = re.sub(r"(?m)^\s*(next_cert|next_key|link_certs|switch_at)\s*=.*\n", "", text)
    srv.conf.write_text(text)
    assert srv.stop() == 0
    srv.start()


def _expired_copy(root, key, work):
    """The root re-issued with the same key and name but expired (as the old
    root is once its time is over), through `openssl ca`, which takes dates."""
    d = work / "expire-ca"
    d.mkdir()
    (d / "index.txt").write_text("")
    (d / "serial").write_text("7030\n")
    cfg = d / "ca.cnf"
    cfg.write_text(f"""[ca]
default_ca = c
[c]
database = {d}/index.txt
new_certs_dir = {d}
serial = {d}/serial
default_md = sha256
policy = p
unique_subject = no
x509_extensions = x
[p]
commonName = supplied
organizationName = optional
[x]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
""")
    subj = ok(["openssl", "x509", "-in", root, "-noout", "-subject", "-nameopt",
               "compat"]).stdout.split("=", 1)[1].strip()
    ok(["openssl", "req", "-new", "-key", key, "-subj", subj, "-out", d / "root.csr"])
    ok(["openssl", "ca", "-batch", "-config", cfg, "-selfsign", "-keyfile", key, "-in",
        d / "root.csr", "-startdate", "20200101000000Z", "-enddate", "20210101000000Z",
        "-preserveDN", "-notext", "-out", d / "expired.pem"])
    return d / "expired.pem"


def test_agent_follows_a_ca_rollover_to_its_end(fresh_server, work):
    srv = fresh_server
    old_root = work / "old-root.pem"
    old_root.write_text(srv.ca.read_text())
    conf, out = agent_conf(srv, work, agent_extra=AGENT)
    # the same host, an agent that does not maintain its anchors
    conf2, out2 = agent_conf(srv, work, name="static", agent_extra=AGENT, hook=False,
                             conf_name="static.conf", state="state2", out="out2",
                             extra="update_trust = no\n")
    trust, trust2 = work / "trust-web.pem", work / "trust-static.pem"
    ok([EST, "agent", "--once", "-c", conf])
    ok([EST, "agent", "--once", "-c", conf2])
    before = trust.read_bytes()

    _rollover(srv)
    new_root = srv.dir / "ca-2.pem"
    old_key, new_key = cert_pubkey(old_root), cert_pubkey(new_root)
    time.sleep(1.1)                                   # cacerts_interval
    cp = ok([EST, "agent", "--once", "-c", conf])     # nothing due but the anchors
    assert "trust anchors: 3 certificate(s) added" in cp.stderr, describe(cp)
    assert "new certificate installed" not in cp.stderr, describe(cp)
    roles = _roles(trust, work)
    # OldWithOld (kept), NewWithOld, OldWithNew, NewWithNew
    assert sorted(roles) == sorted([(old_key, True), (new_key, False), (old_key, False),
                                    (new_key, True)]), roles
    assert trust.read_bytes().startswith(before)      # the file's own certificate stays
    assert (trust.stat().st_mode & 0o777) == 0o644
    # nothing new the second time: the file is not rewritten
    time.sleep(1.1)
    mtime = trust.stat().st_mtime_ns
    cp = ok([EST, "agent", "--once", "-c", conf])
    assert "trust anchors" not in cp.stderr and trust.stat().st_mtime_ns == mtime, describe(cp)

    # renewals come from the new CA now, and verify with the agent's own file
    cp = ok([EST, "agent", "--once", "--force", "-c", conf])
    assert _verifies(new_root, out / "cert.pem") and not _verifies(old_root, out / "cert.pem")
    assert _verifies(trust, out / "cert.pem", out / "chain.pem")
    ok([EST, "agent", "--once", "--force", "-c", conf2])   # still fine during the rollover
    assert trust2.read_text() == old_root.read_text()

    # the old CA is gone: the server is authenticated by the new root only
    _finish_rollover(srv, work)
    r = run(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}", "-CAfile", old_root,
             "-verify_return_error", "-brief"], input="")
    assert r.returncode != 0, "the server still presents a chain to the old root"
    first = cert_serial(out / "cert.pem")
    time.sleep(1.1)
    cp = ok([EST, "agent", "--once", "--force", "-c", conf])
    assert cert_serial(out / "cert.pem") != first and links_match(out)
    assert _verifies(new_root, out / "cert.pem")
    assert "trust anchors" not in cp.stderr, describe(cp)      # nothing new to take
    cp = ok([EST, "agent", "status", "-c", conf])
    assert ", ok" in cp.stdout, describe(cp)
    # the old root's time is over: in the trust file it is expired now
    expired = _expired_copy(old_root, srv.dir / "ca.key", work)
    assert run(["openssl", "verify", "-CAfile", expired, expired]).returncode != 0
    certs = _split_pem(trust, work)
    kept = [c.read_text() for c in certs if cert_pubkey(c) != old_key or not
            run(["openssl", "verify", "-CAfile", c, c]).returncode == 0]
    assert len(kept) == 3, kept
    trust.write_text(expired.read_text() + "".join(kept))
    time.sleep(1.1)
    serial = cert_serial(out / "cert.pem")
    last_trust = int(read_state(work)["last_trust"])
    cp = ok([EST, "agent", "--once", "--force", "-c", conf])
    assert cert_serial(out / "cert.pem") != serial and links_match(out), describe(cp)
    assert "/cacerts" not in cp.stderr, describe(cp)           # the refresh worked too
    assert int(read_state(work)["last_trust"]) > last_trust
    # the agent that kept only the old root cannot reach the server any more
    cp = run([EST, "agent", "--once", "--force", "-c", conf2])
    assert cp.returncode == 1, describe(cp)
    assert trust2.read_text() == old_root.read_text()


def test_agent_takes_no_anchor_from_an_unauthenticated_or_unlinked_source(fresh_server,
                                                                         make_server, work):
    srv = fresh_server
    impostor = make_server()                         # another CA on another port
    conf, out = agent_conf(srv, work, agent_extra=AGENT)
    trust = work / "trust-web.pem"
    ok([EST, "agent", "--once", "-c", conf])
    before = trust.read_bytes()
    # the impostor rolls its CA over, so its /cacerts carries links of its own
    _rollover(impostor)
    fake, _ = agent_conf(impostor, work, agent_extra=AGENT, conf_name="fake.conf",
                         server=impostor.url)
    time.sleep(1.1)
    cp = run([EST, "agent", "--once", "--force", "-c", fake])
    assert cp.returncode == 1, describe(cp)
    assert trust.read_bytes() == before, "anchors taken from a server the file does not trust"
    assert links_match(out)                        # the certificate in place stays
    assert "new certificate installed" not in cp.stderr, describe(cp)

    # the real server, authenticated, but its answer carries a root no trusted
    # root links to (as a compromised configuration could): refused, logged
    evil_key, evil = work / "evil.key", work / "evil.pem"
    ok(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", evil_key, "-out", evil, "-subj", "/CN=estkit CA/O=estkit",
        "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE"])
    set_ini(srv.conf, "ca", "chain", str(evil))
    assert srv.stop() == 0
    srv.start()
    time.sleep(1.1)
    cp = ok([EST, "agent", "--once", "-c", conf])
    assert "without a link certificate" in cp.stderr, describe(cp)
    assert trust.read_bytes() == before
    assert cert_pubkey(evil) not in [k for k, _ in _roles(trust, work)]
