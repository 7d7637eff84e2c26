"""A kept-alive TLS connection's client, worked out once per connection
(lib/server/peer.c): several requests on one connection authenticate with its
client certificate and carry its channel binding; when the trust anchors
change (the SIGHUP of a CA rollover adds the new root to the explicit
anchors; a SIGHUP reads the anchor files again), the next request on a kept
connection is judged against the anchors as they are then.

Each test drives one connection with Python's http.client and checks in the
access log that every request came from the same client port."""

import base64
import http.client
import re
import signal
import ssl
import threading
import time

import pytest

from conftest import start_live, stop_live
from e2e_util import (ESTD, PASSWORD, USER, Estd, est_enroll, make_csr, ok, set_ini,
                      wait_for)

LABEL = "bound"


@pytest.fixture
def srv(tmp_path):
    """An initialised estd; the test configures and starts it (start_live)."""
    s = Estd(tmp_path / "root").init()
    yield s
    stop_live(s)


class Conn:
    """One kept-alive HTTPS connection, with a client certificate or none."""

    def __init__(self, srv, cert=None, key=None, tls12=False):
        ctx = ssl.create_default_context(cafile=str(srv.ca))
        if tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if cert is not None:
            ctx.load_cert_chain(str(cert), str(key))
        self.conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx,
                                                timeout=30)
        self.conn.connect()
        self.sock = self.conn.sock

    def post(self, path, der, auth=None):
        headers = {"Content-Type": "application/pkcs10"}
        if auth is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
        self.conn.request("POST", path, body=base64.b64encode(der), headers=headers)
        resp = self.conn.getresponse()
        body = resp.read()
        # http.client would quietly open a new connection: insist on the first one
        assert self.conn.sock is self.sock, "the kept connection was closed"
        return resp.status, body

    def tls_unique(self):
        return base64.b64encode(self.sock.get_channel_binding("tls-unique")).decode()

    def close(self):
        self.conn.close()


def peer_ports(srv, offset):
    """Client ports of the POST access lines written after offset."""
    return re.findall(r"access method=POST .* peer=127\.0\.0\.1:(\d+)", srv.log_text(offset))


def csr_der(work, name, subj, san=None, challenge=None):
    """A DER request; challenge goes into challengePassword (the channel binding)."""
    if challenge is None:
        csr, _ = make_csr(work, name, subj=subj, der=True,
                          addext=f"subjectAltName={san}" if san else None)
        return csr.read_bytes()
    cnf = work / f"{name}.cnf"
    cnf.write_text("[req]\nprompt = no\ndistinguished_name = dn\nattributes = attrs\n"
                   f"[dn]\nCN = {subj}\n[attrs]\nchallengePassword = {challenge}\n")
    ok(["openssl", "req", "-new", "-config", cnf, "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:P-256", "-nodes", "-keyout", work / f"{name}.key", "-outform",
        "DER", "-out", work / f"{name}.der"])
    return (work / f"{name}.der").read_bytes()


def test_keepalive_reenrolls_with_one_client_cert(srv, work):
    start_live(srv)
    est_enroll(srv, work / "c", subject="/CN=keepalive")
    offset = srv.log.stat().st_size
    conn = Conn(srv, work / "c" / "cert.pem", work / "c" / "key.pem")
    try:
        for i in range(4):
            status, body = conn.post("/.well-known/est/simplereenroll",
                                     csr_der(work, f"r{i}", "/CN=keepalive"))
            assert status == 200, (i, status, body)
    finally:
        conn.close()
    ports = peer_ports(srv, offset)
    assert len(ports) == 4 and len(set(ports)) == 1, srv.log_text(offset)
    assert srv.log_text(offset).count("identity=cert:") == 4, srv.log_text(offset)


def test_keepalive_channel_binding_is_the_connections(srv, work):
    """RFC 7030 3.5 on a kept connection: every request carries this
    connection's tls-unique; another connection's is refused here."""
    set_ini(srv.conf, f"label {LABEL}", "require_channel_binding", "yes")
    start_live(srv)
    other = Conn(srv, tls12=True)
    conn = Conn(srv, tls12=True)
    path = f"/.well-known/est/{LABEL}/simpleenroll"
    try:
        mine, theirs = conn.tls_unique(), other.tls_unique()
        assert mine != theirs
        for i in range(3):
            status, body = conn.post(path, csr_der(work, f"b{i}", f"bound{i}", challenge=mine),
                                     auth=f"{USER}:{PASSWORD}")
            assert status == 200, (i, status, body)
        status, body = conn.post(path, csr_der(work, "x", "stolen", challenge=theirs),
                                 auth=f"{USER}:{PASSWORD}")
        assert status == 403 and b"channel binding does not match" in body, (status, body)
        status, body = other.post(path, csr_der(work, "o", "other", challenge=theirs),
                                  auth=f"{USER}:{PASSWORD}")
        assert status == 200, (status, body)
    finally:
        conn.close()
        other.close()


def issue_device_cert(work, ca_pem, ca_key):
    """A TLS client certificate CN=device issued by ca_pem with openssl."""
    csr, key = make_csr(work, "device", subj="/CN=device")
    ext = work / "device.ext"
    ext.write_text("extendedKeyUsage = clientAuth\nsubjectAltName = DNS:device.example\n")
    pem = work / "device.pem"
    ok(["openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
        "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", pem])
    return pem, key


def test_trust_anchor_added_applies_to_kept_connection(srv, work):
    """A certificate of the implicit anchors authenticates /simpleenroll only
    (RFC 7030 3.3.2). When a rollover's SIGHUP makes its CA the next root,
    hence an explicit anchor, the same kept connection may /simplereenroll."""
    # the rollover's new CA exists first; the server starts without the rollover
    before = srv.conf.read_text()
    ok([ESTD, "ca", "rollover", "-c", srv.conf, "--switch-at", "2099-01-01T00:00:00Z"])
    rolled = srv.conf.read_text()
    next_root = srv.dir / "ca-2.pem"
    implicit = work / "implicit.pem"
    implicit.write_text(next_root.read_text())
    srv.conf.write_text(before)
    set_ini(srv.conf, "auth", "implicit_ca", str(implicit))
    cert, key = issue_device_cert(work, next_root, srv.dir / "ca-2.key")
    start_live(srv)
    reenroll = "/.well-known/est/simplereenroll"
    offset = srv.log.stat().st_size
    conn = Conn(srv, cert, key)
    try:
        status, body = conn.post(reenroll, csr_der(work, "r1", "/CN=device",
                                                   san="DNS:device.example"))
        assert status == 401, (status, body)
        status, body = conn.post("/.well-known/est/simpleenroll",
                                 csr_der(work, "e1", "/CN=device"))
        assert status == 200, (status, body)

        srv.conf.write_text(rolled)
        set_ini(srv.conf, "auth", "implicit_ca", str(implicit))
        mark = srv.log.stat().st_size
        srv.send(signal.SIGHUP)
        deadline = time.monotonic() + 30  # a sanitized reload on a busy machine is slow
        while "CA rollover: new CA" not in srv.log_text(mark):
            assert time.monotonic() < deadline, "estd did not reload\n" + srv.log_tail()
            time.sleep(0.05)

        status, body = conn.post(reenroll, csr_der(work, "r2", "/CN=device",
                                                   san="DNS:device.example"))
        assert status == 200, (status, body)
    finally:
        conn.close()
    ports = peer_ports(srv, offset)
    assert len(ports) == 3 and len(set(ports)) == 1, srv.log_text(offset)


def third_party_ca(work, name):
    key, pem = work / f"{name}.key", work / f"{name}.pem"
    ok(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", key, "-subj", f"/CN={name}", "-days", "2", "-out", pem,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return pem, key


def wait_log(srv, mark, text):
    deadline = time.monotonic() + 30  # a sanitized reload on a busy machine is slow
    while text not in srv.log_text(mark):
        assert time.monotonic() < deadline, f"no {text!r} in the log\n" + srv.log_tail()
        time.sleep(0.05)


def test_replaced_anchor_file_applies_on_sighup(srv, work):
    """docs/security.md: SIGHUP reads the client-certificate anchor files
    again. The removed CA's certificate fails new handshakes and no longer
    authenticates the next request of a kept connection; the added CA's
    works at once."""
    ca, ca_key = third_party_ca(work, "partner")
    other, other_key = third_party_ca(work, "successor")
    anchors = work / "explicit.pem"
    anchors.write_text(ca.read_text())
    set_ini(srv.conf, "auth", "explicit_ca", str(anchors))
    cert, key = issue_device_cert(work, ca, ca_key)
    (work / "b").mkdir()
    cert_b, key_b = issue_device_cert(work / "b", other, other_key)
    start_live(srv)
    reenroll = "/.well-known/est/simplereenroll"
    with pytest.raises((ssl.SSLError, OSError, http.client.HTTPException)):
        Conn(srv, cert_b, key_b).post(reenroll, csr_der(work, "b0", "/CN=device",
                                                        san="DNS:device.example"))
    conn = Conn(srv, cert, key)
    try:
        status, body = conn.post(reenroll, csr_der(work, "r1", "/CN=device",
                                                   san="DNS:device.example"))
        assert status == 200, (status, body)

        anchors.write_text(other.read_text())  # the partner CA out, its successor in
        mark = srv.log.stat().st_size
        srv.send(signal.SIGHUP)
        wait_log(srv, mark, "client certificate trust anchors reloaded")

        # the kept connection's next request: its certificate no longer counts
        status, body = conn.post(reenroll, csr_der(work, "r2", "/CN=device",
                                                   san="DNS:device.example"))
        assert status == 401, (status, body)
        assert "no longer chains to the client trust anchors" in srv.log_text(mark), \
            srv.log_text(mark)
        with pytest.raises((ssl.SSLError, OSError, http.client.HTTPException)):
            late = Conn(srv, cert, key)
            try:
                late.post(reenroll, csr_der(work, "r3", "/CN=device", san="DNS:device.example"))
            finally:
                late.close()
        fresh = Conn(srv, cert_b, key_b)
        try:
            status, body = fresh.post(reenroll, csr_der(work, "b1", "/CN=device",
                                                        san="DNS:device.example"))
            assert status == 200, (status, body)
        finally:
            fresh.close()
    finally:
        conn.close()
    assert srv.running()


@pytest.mark.parametrize("content", [None, "", "not a certificate\n",
                                     "-----BEGIN CERTIFICATE-----\nMIIB\n"
                                     "-----END CERTIFICATE-----\n"],
                         ids=["missing", "empty", "no-pem", "damaged"])
def test_bad_anchor_file_keeps_old_anchors(srv, work, content):
    """A SIGHUP with an anchor file that does not load changes nothing: the
    error is logged, new and kept connections go on with the anchors loaded
    before."""
    ca, ca_key = third_party_ca(work, "partner")
    anchors = work / "explicit.pem"
    anchors.write_text(ca.read_text())
    set_ini(srv.conf, "auth", "explicit_ca", str(anchors))
    cert, key = issue_device_cert(work, ca, ca_key)
    start_live(srv)
    reenroll = "/.well-known/est/simplereenroll"
    conn = Conn(srv, cert, key)
    try:
        status, body = conn.post(reenroll, csr_der(work, "r1", "/CN=device",
                                                   san="DNS:device.example"))
        assert status == 200, (status, body)
        if content is None:
            anchors.unlink()
        else:
            anchors.write_text(content)
        mark = srv.log.stat().st_size
        srv.send(signal.SIGHUP)
        wait_log(srv, mark, "the anchors loaded before stay in use")
        assert str(anchors) in srv.log_text(mark)
        assert "trust anchors reloaded" not in srv.log_text(mark)
        status, body = conn.post(reenroll, csr_der(work, "r2", "/CN=device",
                                                   san="DNS:device.example"))
        assert status == 200, (status, body)
        fresh = Conn(srv, cert, key)
        try:
            status, body = fresh.post(reenroll, csr_der(work, "r3", "/CN=device",
                                                        san="DNS:device.example"))
            assert status == 200, (status, body)
        finally:
            fresh.close()
    finally:
        conn.close()
    assert srv.running()


def test_handshakes_while_sighups_reload_anchors(srv, work):
    """Connections on several threads while SIGHUPs swap the anchor files
    again and again: every handshake of a CA present in every version works,
    the server stays up (under the sanitizers: no report)."""
    ca, ca_key = third_party_ca(work, "partner")
    other, _ = third_party_ca(work, "successor")
    anchors = work / "explicit.pem"
    anchors.write_text(ca.read_text())
    set_ini(srv.conf, "auth", "explicit_ca", str(anchors))
    set_ini(srv.conf, "server", "io_threads", "2")
    cert, key = issue_device_cert(work, ca, ca_key)
    start_live(srv)
    versions = [ca.read_text(), ca.read_text() + other.read_text()]
    results, stop = [], threading.Event()

    def client():
        while not stop.is_set():
            try:
                c = Conn(srv, cert, key)
                try:
                    c.conn.request("GET", "/.well-known/est/cacerts")
                    results.append(c.conn.getresponse().status)
                finally:
                    c.close()
            except (ssl.SSLError, OSError, http.client.HTTPException) as e:
                results.append(repr(e))

    mark = srv.log.stat().st_size
    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(30):
            tmp = work / "explicit.pem.new"
            tmp.write_text(versions[i % 2])
            tmp.replace(anchors)  # atomically: each reload sees one whole version
            srv.send(signal.SIGHUP)
            # one at a time: SIGHUPs sent while one is pending would merge into one
            assert wait_for(lambda: srv.log_text(mark).count("trust anchors reloaded")
                            == i + 1), srv.log_tail()
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert len(results) >= 10 and all(r == 200 for r in results), results[:20]
    assert "stay in use" not in srv.log_text(mark)
    assert srv.running()
