"""Helpers for the hostile-input catalogue (test_hostile.py): a small raw
HTTPS client that keeps its connection (and TLS session) when it can, a
minimal DER writer to build requests openssl's CLI will not make (NUL bytes
in names, thousands of names, forged certificates), signed with the openssl
CLI, and the Digest computation of RFC 7616.

Only the Python standard library and the openssl CLI are used.
"""

import base64
import hashlib
import os
import re
import socket
import ssl
import subprocess
import time
from pathlib import Path

from e2e_util import PASSWORD, USER, ok

AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
P10 = "application/pkcs10"
EST = "/.well-known/est"


# ---- a minimal DER writer (test data only) ----------------------------------------------

def _len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + _len(len(content)) + content


def seq(*items):
    return tlv(0x30, b"".join(items))


def set_of(*items):
    return tlv(0x31, b"".join(sorted(items)))


def oid(dotted):
    parts = [int(x) for x in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7F]
        p >>= 7
        while p:
            enc.append(0x80 | (p & 0x7F))
            p >>= 7
        body += bytes(reversed(enc))
    return tlv(0x06, body)


def integer(n):
    b = n.to_bytes((n.bit_length() + 8) // 8 or 1, "big", signed=True)
    return tlv(0x02, b)


def utf8(s):
    return tlv(0x0C, s if isinstance(s, bytes) else s.encode())


def bitstring(b):
    return tlv(0x03, b"\x00" + b)


def octets(b):
    return tlv(0x04, b)


def utctime(s):
    return tlv(0x17, s.encode())


def boolean(v):
    return tlv(0x01, b"\xff" if v else b"\x00")


OID_CN = "2.5.4.3"
OID_OU = "2.5.4.11"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
OID_EXT_REQ = "1.2.840.113549.1.9.14"
OID_SAN = "2.5.29.17"
OID_BC = "2.5.29.19"


def name(*rdns):
    """rdns: (oid, value bytes/str) pairs, one attribute per RDN."""
    return seq(*[set_of(seq(oid(o), utf8(v))) for o, v in rdns])


def san_ext(dns_names):
    gn = b"".join(tlv(0x82, d if isinstance(d, bytes) else d.encode()) for d in dns_names)
    return seq(oid(OID_SAN), octets(tlv(0x30, gn)))


def bc_ext(ca):
    return seq(oid(OID_BC), boolean(True), octets(seq(boolean(True)) if ca else seq()))


def sign(keyfile, tbs, workdir):
    """ECDSA-SHA256 signature (DER Ecdsa-Sig-Value) of tbs with the openssl CLI."""
    workdir = Path(workdir)
    data = workdir / "tbs.der"
    data.write_bytes(tbs)
    cp = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(keyfile), str(data)],
                        capture_output=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def ec_key(workdir, stem, curve="P-256"):
    """A new EC key: (key path, SubjectPublicKeyInfo DER)."""
    workdir = Path(workdir)
    key = workdir / f"{stem}.key"
    ok(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}",
        "-out", key])
    spki = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"],
                          capture_output=True, check=True, timeout=30).stdout
    return key, spki


def build_csr(workdir, key, spki, subject, exts=()):
    """A PKCS#10 (RFC 2986) DER signed with key (EC, ECDSA-SHA256)."""
    attrs = b""
    if exts:
        attrs = seq(oid(OID_EXT_REQ), set_of(seq(*exts)))
    info = seq(integer(0), subject, spki, tlv(0xA0, attrs))
    sig = sign(key, info, workdir)
    return seq(info, seq(oid(OID_ECDSA_SHA256)), bitstring(sig))


def build_cert(workdir, ca_key, issuer_der, key_spki, subject, not_before, not_after,
               serial=0x1234):
    """An X.509 v3 end-entity certificate signed by ca_key (EC), no extensions
    but basicConstraints CA:FALSE. Dates as UTCTime strings 'YYMMDDHHMMSSZ'."""
    tbs = seq(tlv(0xA0, integer(2)), integer(serial), seq(oid(OID_ECDSA_SHA256)),
              issuer_der, seq(utctime(not_before), utctime(not_after)), subject, key_spki,
              tlv(0xA3, seq(bc_ext(False))))
    sig = sign(ca_key, tbs, workdir)
    return seq(tbs, seq(oid(OID_ECDSA_SHA256)), bitstring(sig))


def der_to_pem(der, label):
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def cert_subject_der(pem_path):
    """The subject Name DER of a PEM certificate (via openssl asn1parse)."""
    der = subprocess.run(["openssl", "x509", "-in", str(pem_path), "-outform", "DER"],
                         capture_output=True, check=True, timeout=30).stdout
    return _subject_of(der)


def _read_tlv(buf, pos):
    tag = buf[pos]
    n = buf[pos + 1]
    hdr = 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[pos + 2:pos + 2 + k], "big")
        hdr += k
    return tag, pos + hdr, pos + hdr + n


def _subject_of(cert_der):
    _, c0, _ = _read_tlv(cert_der, 0)           # Certificate
    _, t0, _ = _read_tlv(cert_der, c0)          # TBSCertificate
    pos = t0
    fields = []
    while len(fields) < 6:
        tag, s, e = _read_tlv(cert_der, pos)
        fields.append((tag, pos, e))
        pos = e
    # [0] version, serial, sigalg, issuer, validity, subject
    _, s, e = fields[5] if fields[0][0] == 0xA0 else fields[4]
    return cert_der[s:e]


# ---- HTTP over TLS ---------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return f"HTTP {self.status} {self.headers} {self.body[:200]!r}"


def read_response(sock, deadline):
    """Reads one HTTP/1.1 response (Content-Length or close-delimited)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {buf[:200]!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    if not m:
        raise ConnectionError(f"not an HTTP response: {lines[0]!r}")
    headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:] if ":" in l]
    clen = [v for k, v in headers if k.lower() == "content-length"]
    if clen:
        n = int(clen[0])
        while len(rest) < n:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        rest = rest[:n]
    return Response(int(m.group(1)), headers, rest)


class Client:
    """One HTTPS client: keeps its connection alive and resumes its TLS session."""

    def __init__(self, port, cafile, *, cert=None, key=None, source=None, timeout=15.0):
        self.port, self.source, self.timeout = port, source, timeout
        self.ctx = ssl.create_default_context(cafile=str(cafile))
        self.ctx.check_hostname = False
        if cert:
            self.ctx.load_cert_chain(str(cert), str(key))
        self.sock = None
        self.session = None

    def connect(self):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout,
                                       source_address=(self.source, 0) if self.source
                                       else None)
        try:
            self.sock = self.ctx.wrap_socket(raw, session=self.session)
        except BaseException:
            raw.close()
            raise
        self.session = self.sock.session

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def raw(self, data, *, keep=True):
        """Sends raw request bytes; returns the Response. Reconnects once when a
        kept-alive connection turned out to be closed."""
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self.connect()
            try:
                self.sock.sendall(data)
                resp = read_response(self.sock, time.monotonic() + self.timeout)
            except (ConnectionError, ssl.SSLError, OSError):
                self.close()
                if fresh or attempt:
                    raise
                continue
            closes = any(v.lower() == "close" for v in resp.header("Connection"))
            if closes or not keep:
                self.close()
            return resp
        raise AssertionError("unreachable")

    def request(self, method, path, *, headers=(), body=b"", keep=True):
        return self.raw(http_bytes(method, path, headers=headers, body=body), keep=keep)


def http_bytes(method, path, *, headers=(), body=b"", clen=True):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers]
    if clen and (body or method == "POST"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def enroll_bytes(b64, *, auth=AUTH, op="simpleenroll", ctype=P10, label=None):
    path = f"{EST}/{label}/{op}" if label else f"{EST}/{op}"
    hdrs = [("Content-Type", ctype)] if ctype else []
    if auth:
        hdrs.append(("Authorization", auth))
    return http_bytes("POST", path, headers=hdrs, body=b64)


def b64(der):
    return base64.encodebytes(der)


# ---- Digest (RFC 7616) -----------------------------------------------------------------

def digest_challenge(resp):
    """(realm, nonce, stale) of the SHA-256 challenge of a 401."""
    for v in resp.header("WWW-Authenticate"):
        if v.lower().startswith("digest") and "SHA-256" in v:
            params = dict(re.findall(r'(\w+)="?([^",]*)"?', v[6:]))
            return params["realm"], params["nonce"], params.get("stale", "false")
    raise AssertionError(f"no Digest SHA-256 challenge in {resp}")


def digest_authz(method, uri, realm, nonce, nc=1, user=USER, password=PASSWORD,
                 cnonce="0a4f113b"):
    h = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731
    ha1 = h(f"{user}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    ncs = f"{nc:08x}"
    resp = h(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'algorithm=SHA-256, qop=auth, nc={ncs}, cnonce="{cnonce}", '
            f'response="{resp}"')


# ---- process -------------------------------------------------------------------------

def rss_kib(pid):
    """VmRSS of pid in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))
