"""Helpers for the end-to-end suite: running commands, reading certificates
with the openssl CLI, and the Estd class that owns one server directory and
process.

Binaries come from $ESTKIT_BIN (a CMake build directory; default: <repo>/build).
Only the Python standard library and pytest are used.
"""

import atexit
import errno
import json
import os
import random
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("ESTKIT_BIN") or REPO / "build").resolve()
EST = BIN / "est"
ESTD = BIN / "estd"

USER = "estuser"
PASSWORD = "estpwd"
READY_TIMEOUT = 60    # seconds for estd to print "listening on" (a bound for failures only)
STOP_TIMEOUT = 15     # seconds for estd to exit after SIGTERM
CMD_TIMEOUT = 90      # seconds for any one command

# Every estd we started, so nothing survives the session even if a test
# crashes between start and teardown.
_PROCS = []


def _kill_leftovers():
    for p in _PROCS:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


atexit.register(_kill_leftovers)


def base_env(**extra):
    """The environment for every child: no inherited EST password, no proxy
    for loopback, C locale so messages are predictable."""
    env = dict(os.environ)
    for k in ("EST_PASSWORD", "OPENSSL_CONF", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        env.pop(k, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    env["LC_ALL"] = "C"
    env.update(extra)
    return env


# A sanitizer build (cmake -DESTKIT_SANITIZE=ON) reports here; any report fails
# the test even when the exit code was the one a test expected.
_SANITIZER_REPORT = re.compile(r"(ERROR|SUMMARY): \w*Sanitizer|runtime error: ")


def no_sanitizer_report(text, what):
    m = _SANITIZER_REPORT.search(text or "")
    assert m is None, f"sanitizer report from {what}:\n{text[max(0, m.start() - 200):][:4000]}"


def run(args, *, cwd=None, input=None, env=None, timeout=CMD_TIMEOUT):
    """Runs a command; returns CompletedProcess with text stdout/stderr."""
    cp = subprocess.run([str(a) for a in args], cwd=cwd, input=input,
                        env=env or base_env(), capture_output=True, text=True,
                        errors="replace", timeout=timeout)
    no_sanitizer_report(cp.stderr, " ".join(map(str, cp.args)))
    return cp


def describe(cp):
    return (f"$ {' '.join(map(str, cp.args))}\nexit {cp.returncode}\n"
            f"--- stdout\n{cp.stdout}\n--- stderr\n{cp.stderr}")


def ok(args, **kw):
    """Runs a command that must exit 0; returns its CompletedProcess."""
    cp = run(args, **kw)
    assert cp.returncode == 0, describe(cp)
    return cp


def sh(script, *, cwd=None, env=None, timeout=CMD_TIMEOUT):
    """Runs a bash pipeline (with pipefail), as a user would type it."""
    return run(["bash", "-o", "pipefail", "-c", script], cwd=cwd, env=env,
               timeout=timeout)


def _bindable(family, host, port):
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, port))
        return True
    except OSError as e:
        # no IPv6 (loopback) at all is not a reason to refuse the port
        return family == socket.AF_INET6 and e.errno in (errno.EADDRNOTAVAIL,
                                                         errno.EAFNOSUPPORT)


def free_port():
    """A port nothing uses now, for a server a test starts a little later.

    Not one from bind(port 0): that is in the kernel's ephemeral range, where
    every outgoing connection on the machine (our clients, another suite run
    at the same time) takes its local port, and one may take this port in the
    time between here and estd's bind (estd then fails to start with
    "Address already in use"). Below that range only an explicit bind takes a
    port, so a random free one there stays free."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low > 4096:
        pool = range(max(1024, low - 16384), low)
        for _ in range(200):
            port = random.choice(pool)
            if _bindable(socket.AF_INET, "127.0.0.1", port) and \
                    _bindable(socket.AF_INET6, "::1", port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def norm_serial(s):
    """Serial numbers compared as lowercase hex without colons or leading zeros."""
    s = s.strip().lower()
    if s.startswith("serial="):
        s = s[len("serial="):]
    if s.startswith("0x"):
        s = s[2:]
    return s.replace(":", "").lstrip("0") or "0"


def cert_serial(pem):
    return norm_serial(ok(["openssl", "x509", "-in", pem, "-noout", "-serial"]).stdout)


def cert_subject(pem):
    return ok(["openssl", "x509", "-in", pem, "-noout", "-subject",
               "-nameopt", "RFC2253"]).stdout.strip()


def cert_pubkey(pem):
    return ok(["openssl", "x509", "-in", pem, "-noout", "-pubkey"]).stdout


def key_pubkey(keyfile):
    return ok(["openssl", "pkey", "-in", keyfile, "-pubout"]).stdout


def cert_text(pem):
    return ok(["openssl", "x509", "-in", pem, "-noout", "-text"]).stdout


def fingerprint(pem):
    """'AB:CD:...' as printed by openssl x509 -fingerprint -sha256."""
    out = ok(["openssl", "x509", "-fingerprint", "-sha256", "-noout", "-in", pem]).stdout
    return out.strip().split("=", 1)[1]


def verify(cafile, pem):
    cp = run(["openssl", "verify", "-CAfile", cafile, pem])
    assert cp.returncode == 0 and ": OK" in cp.stdout, describe(cp)


def set_ini(path, section, key, value):
    """Sets key = value in [section] of an INI file, adding the key (or the
    section) when missing. Keeps every other line as it is."""
    lines = Path(path).read_text().splitlines()
    header = re.compile(r"^\s*\[\s*(.*?)\s*\]\s*(?:[;#].*)?$")
    keyre = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
    cur, start, done = None, None, False
    for i, line in enumerate(lines):
        m = header.match(line)
        if m:
            cur = " ".join(m.group(1).split())
            if cur == section:
                start = i
            continue
        if cur == section and keyre.match(line):
            lines[i] = f"{key} = {value}"
            done = True
            break
    if not done:
        if start is None:
            lines += ["", f"[{section}]", f"{key} = {value}"]
        else:
            lines.insert(start + 1, f"{key} = {value}")
    Path(path).write_text("\n".join(lines) + "\n")


class Estd:
    """One estd server directory and (at most) one running estd process."""

    def __init__(self, root, *, key_type=None, name="srv"):
        self.root = Path(root)
        self.dir = self.root / name
        self.conf = self.dir / "estd.conf"
        self.ca = self.dir / "ca.pem"
        self.log = self.root / f"{name}-estd.log"
        self.port = None
        self.proc = None
        self.key_type = key_type
        self.root.mkdir(parents=True, exist_ok=True)

    # -- setup ------------------------------------------------------------
    def init(self):
        args = [ESTD, "init", "--dir", self.dir]
        if self.key_type:
            args += ["--key-type", self.key_type]
        ok(args, timeout=120)
        self.port = free_port()
        set_ini(self.conf, "server", "listen", f"127.0.0.1:{self.port}")
        # the suite sends wrong credentials from 127.0.0.1 on purpose, to servers
        # shared by many tests: brute-force protection (tested on its own in
        # test_bruteforce.py) would lock them out
        set_ini(self.conf, "auth", "auth_fail_limit", "0")
        # likewise every connection comes from 127.0.0.1 (slowloris, floods, bench):
        # the per-address limit stays on, well above what those tests open
        # (tested on its own in test_connlim.py)
        set_ini(self.conf, "server", "max_connections_per_address", "1024")
        self.user_add(USER, PASSWORD)
        return self

    def user_add(self, name, password):
        ok([ESTD, "user", "add", name, "-c", self.conf], input=password + "\n")

    def user_del(self, name):
        ok([ESTD, "user", "del", name, "-c", self.conf])

    # -- process ----------------------------------------------------------
    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "estd already running"
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen([str(ESTD), "run", "-c", str(self.conf)],
                                         stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, env=base_env(),
                                         start_new_session=True)
        _PROCS.append(self.proc)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if "listening on https://" in self.log_text(offset):
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"estd exited with {self.proc.returncode} before "
                                     f"listening\n{self.log_tail()}")
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise AssertionError(f"estd did not print 'listening on' within "
                             f"{READY_TIMEOUT}s\n{self.log_tail()}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig):
        assert self.running(), "estd is not running\n" + self.log_tail()
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends sig and waits; returns the exit code (negative = killed by a
        signal). Kills and raises if estd does not exit in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"estd did not exit within {timeout}s after "
                                     f"{signal.Signals(sig).name}\n{self.log_tail()}")
        return self.proc.returncode

    def teardown(self):
        """SIGTERM and insist on a clean exit 0, as an operator's systemd would,
        with no sanitizer report in the log (ASan builds: leaks at exit)."""
        if self.proc is None:
            return
        already = self.proc.poll() is not None
        rc = self.stop()
        no_sanitizer_report(self.log_text(), "estd")
        assert rc == 0, (f"estd {'had already exited' if already else 'exited'} with "
                         f"{rc} (wanted 0 after SIGTERM)\n{self.log_tail()}")

    # -- logs -------------------------------------------------------------
    def log_text(self, offset=0):
        try:
            with open(self.log, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=60):
        lines = self.log_text().splitlines()
        return f"--- estd log ({self.log}), last {n} lines\n" + "\n".join(lines[-n:])

    # -- helpers for tests ------------------------------------------------
    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def est_url(self, op, label=None):
        lab = f"{label}/" if label else ""
        return f"{self.url}/.well-known/est/{lab}{op}"

    def certs(self):
        """estd certs list --json, parsed."""
        cp = ok([ESTD, "certs", "list", "-c", self.conf, "--json"])
        data = json.loads(cp.stdout)
        assert isinstance(data, list), cp.stdout
        return data

    def cert_record(self, serial):
        want = norm_serial(serial)
        for rec in self.certs():
            if norm_serial(str(rec.get("serial", ""))) == want:
                return rec
        return None




def held_connections(srv):
    """How many TCP connections to its port the estd process srv still has open
    (not counting the listener): a connection stops counting when estd has
    closed its socket, which it does asynchronously after the peer's close or
    its own idle timeout."""
    fd_dir = f"/proc/{srv.proc.pid}/fd"
    inodes = set()
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(f"{fd_dir}/{fd}")
        except FileNotFoundError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            col = row.split()
            if int(col[1].rsplit(":", 1)[1], 16) == srv.port and col[3] != "0A" \
                    and col[9] in inodes:
                n += 1
    return n


class HttpResult:
    """What curl saw: the final status, all header blocks, the body."""

    def __init__(self, status, headers, body, cp):
        self.status, self.headers, self.body, self.cp = status, headers, body, cp

    def header(self, name):
        """Values of a header in any response block (case-insensitive name)."""
        pre = name.lower() + ":"
        return [l.split(":", 1)[1].strip() for l in self.headers.splitlines()
                if l.lower().startswith(pre)]

    def __repr__(self):
        return (f"HTTP {self.status}\n{self.headers}\nbody: {self.body[:300]!r}\n"
                f"{describe(self.cp)}")


def curl(url, tmpdir, *, cafile, user=None, data_file=None, ctype=None,
         method=None, extra=()):
    """One curl request. Basic auth is sent preemptively (-u); data_file is
    posted as is (--data-binary @file)."""
    tmpdir = Path(tmpdir)
    hdr, body = tmpdir / "curl.headers", tmpdir / "curl.body"
    for f in (hdr, body):
        if f.exists():
            f.unlink()
    args = ["curl", "-sS", "--cacert", cafile, "-D", hdr, "-o", body,
            "-w", "%{http_code}", "--max-time", "60"]
    if user:
        args += ["-u", user]
    if data_file is not None:
        args += ["--data-binary", f"@{data_file}"]
    if ctype:
        args += ["-H", f"Content-Type: {ctype}"]
    if method:
        args += ["-X", method]
    args += list(extra) + [url]
    cp = run(args)
    status = int(cp.stdout.strip()[-3:] or 0) if cp.stdout.strip() else 0
    headers = hdr.read_text(errors="replace") if hdr.exists() else ""
    data = body.read_bytes() if body.exists() else b""
    return HttpResult(status, headers, data, cp)


def make_csr(workdir, name, *, subj=None, key="ec", der=False, keyfile=None,
             addext=None):
    """openssl req: a new key (or keyfile) and a CSR. Returns (csr, key) paths."""
    workdir = Path(workdir)
    csr = workdir / (f"{name}.der" if der else f"{name}.csr")
    args = ["openssl", "req", "-new", "-subj", subj or f"/CN={name}", "-out", csr]
    if keyfile:
        args += ["-key", keyfile]
        kf = Path(keyfile)
    else:
        kf = workdir / f"{name}.key"
        if key == "ec":
            args += ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        else:
            args += ["-newkey", key]
        args += ["-nodes", "-keyout", kf]
    if der:
        args += ["-outform", "DER"]
    if addext:
        args += ["-addext", addext]
    ok(args)
    return csr, kf


def p7_to_pem(b64file, pemfile, cwd=None):
    """The tutorial decode: openssl base64 -d | openssl pkcs7 -print_certs."""
    cp = sh(f"openssl base64 -d -in '{b64file}' | "
            f"openssl pkcs7 -inform DER -print_certs -out '{pemfile}'", cwd=cwd)
    assert cp.returncode == 0, describe(cp)
    assert "BEGIN CERTIFICATE" in Path(pemfile).read_text(), describe(cp)
    return pemfile


def wait_for(pred, timeout=30.0, interval=0.1):
    """Polls pred() until it returns a true value or timeout; returns the last value.
    The default timeout is generous on purpose: it only bounds how long a failing
    wait takes (a passing one returns as soon as pred() holds), and a sanitized
    estd on a loaded machine is slow to reload, log or free things. Pass a
    timeout where the time itself is the property tested."""
    deadline = time.monotonic() + timeout
    val = pred()
    while not val and time.monotonic() < deadline:
        time.sleep(interval)
        val = pred()
    return val


def est_enroll(srv, outdir, *, subject, san=(), key_type=None, user=USER,
               password=PASSWORD, how="env", label=None, extra=(), check=True):
    """est enroll with Basic auth; the password from EST_PASSWORD ('env'), a
    --password-file ('file') or --password ('arg')."""
    outdir = Path(outdir)
    url = srv.url + (f"/{label}" if label else "")
    args = [EST, "enroll", "--server", url, "--cacert", srv.ca, "--user", user,
            "--subject", subject, "--out", outdir]
    for s in san:
        args += ["--san", s]
    if key_type:
        args += ["--key-type", key_type]
    env = base_env()
    if how == "env":
        env["EST_PASSWORD"] = password
    elif how == "file":
        pwf = outdir.parent / f"{outdir.name}.pw"
        pwf.write_text(password + "\n")
        pwf.chmod(0o600)
        args += ["--password-file", pwf]
    elif how == "arg":
        args += ["--password", password]
    args += list(extra)
    cp = run(args, env=env)
    if check:
        assert cp.returncode == 0, describe(cp)
        for f in ("cert.pem", "chain.pem", "key.pem"):
            assert (outdir / f).is_file(), f"{f} missing\n{describe(cp)}"
    return cp
