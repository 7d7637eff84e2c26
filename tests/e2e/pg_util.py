"""A throw-away PostgreSQL server for the tests: initdb into a temporary
directory, postgres on a free 127.0.0.1 port (and a unix socket in the same
directory), stopped and removed at the end. Run as root (as CI does), the
server runs as the unprivileged user `nobody` (PostgreSQL refuses root).

The binaries are found under /usr/lib/postgresql/*/bin (Debian's
postgresql package; scripts/install-deps.sh installs it), or in
$ESTKIT_PG_BINDIR.

Also a command for the CTest fixture of the C unit tests:
    python3 pg_util.py start STATEFILE   # starts one; STATEFILE: conninfo, pid, dir lines
    python3 pg_util.py stop STATEFILE
(the C tests read the conninfo from the first line of $ESTKIT_TEST_PG_FILE).
"""

import atexit
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from e2e_util import free_port  # outside the ephemeral range: see there

START_TIMEOUT = 30
_SERVERS = []


def bindir():
    """The directory of initdb/postgres/psql, or None when PostgreSQL is not installed."""
    env = os.environ.get("ESTKIT_PG_BINDIR")
    if env:
        return Path(env) if (Path(env) / "initdb").exists() else None

    def version(p):
        v = Path(p).parent.parent.name
        return int(v) if v.isdigit() else 0
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    return Path(found[-1]).parent if found else None


def require():
    """pytest: fail (or, with ESTKIT_E2E_ALLOW_SKIP=1, skip) when PostgreSQL is missing."""
    import pytest
    if bindir() is not None and shutil.which("setpriv") is not None:
        return
    msg = ("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
           "(run scripts/install-deps.sh, or set ESTKIT_PG_BINDIR)")
    if os.environ.get("ESTKIT_E2E_ALLOW_SKIP") == "1":
        pytest.skip(msg)
    pytest.fail(msg, pytrace=False)


def _kill_leftovers():
    for srv in list(_SERVERS):
        srv.destroy()


atexit.register(_kill_leftovers)


class PgServer:
    """One PostgreSQL cluster in its own temporary directory."""

    USER = "estd"

    def __init__(self):
        self.bin = bindir()
        assert self.bin is not None, "PostgreSQL not installed"
        self.dir = Path(tempfile.mkdtemp(prefix="estkit-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.proc = None
        self.prefix = []
        if os.geteuid() == 0:
            # PostgreSQL will not run as root: run it as nobody, owning its directory
            os.chown(self.dir, 65534, 65534)
            self.prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           "--"]
        _SERVERS.append(self)

    def _env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return env

    def _as_owner(self, args, **kw):
        cp = subprocess.run(self.prefix + [str(a) for a in args], cwd=self.dir,
                            env=self._env(), capture_output=True, text=True, timeout=120,
                            **kw)
        assert cp.returncode == 0, f"{args}: exit {cp.returncode}\n{cp.stdout}\n{cp.stderr}"
        return cp

    def init(self):
        self._as_owner([self.bin / "initdb", "-D", self.data, "-U", self.USER, "-A", "trust",
                        "-E", "UTF8", "--no-sync", "--no-instructions"])
        return self

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        with open(self.log, "ab") as logf:
            # fsync off: a test server, stopped cleanly; estd still asks for durable commits
            self.proc = subprocess.Popen(
                self.prefix + [str(self.bin / "postgres"), "-D", str(self.data),
                               "-p", str(self.port), "-k", str(self.dir),
                               "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                               "-c", "max_connections=200", "-c", "shared_buffers=16MB"],
                cwd=self.dir, env=self._env(), stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"postgres exited with {self.proc.returncode}\n"
                                     f"{self.log_tail()}")
            cp = subprocess.run([str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1",
                                 "-p", str(self.port), "-U", self.USER],
                                env=self._env(), capture_output=True)
            if cp.returncode == 0:
                return self
            time.sleep(0.1)
        raise AssertionError(f"postgres not ready in {START_TIMEOUT}s\n{self.log_tail()}")

    def stop(self, sig=signal.SIGINT):
        """SIGINT: fast shutdown (clients are disconnected)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    def destroy(self):
        self.stop()
        if self in _SERVERS:
            _SERVERS.remove(self)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=40):
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no postgres log)"
        return "--- postgres log\n" + "\n".join(lines[-n:])

    # -- databases --------------------------------------------------------
    def psql(self, sql, db="postgres"):
        """Runs sql with psql as the cluster's superuser; returns stdout (unaligned, no headers)."""
        cp = subprocess.run([str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v",
                             "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
                             "-U", self.USER, "-d", db, "-c", sql],
                            env=self._env(), capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, f"psql {sql!r}: {cp.stderr}"
        return cp.stdout

    def createdb(self, name):
        self.psql(f'CREATE DATABASE "{name}"')
        return self.conninfo(name)

    def conninfo(self, db):
        return f"postgresql://{self.USER}@127.0.0.1:{self.port}/{db}"

    def socket_conninfo(self, db):
        return f"postgresql:///{db}?host={self.dir}&port={self.port}&user={self.USER}"


def _main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    state = Path(argv[2])
    if argv[1] == "stop":
        if state.exists():
            lines = (state.read_text().splitlines() + ["", "0", ""])[:3]
            pid, where = int(lines[1] or 0), lines[2]
            try:
                if pid > 0:
                    os.kill(pid, signal.SIGINT)
                    for _ in range(300):
                        os.kill(pid, 0)
                        time.sleep(0.1)
            except ProcessLookupError:
                pass
            if where.startswith(tempfile.gettempdir()):
                shutil.rmtree(where, ignore_errors=True)
            state.unlink()
        return 0
    if bindir() is None:
        print("pg_util: PostgreSQL not installed; store tests run on SQLite only",
              file=sys.stderr)
        state.write_text("\n0\n\n")
        return 0
    srv = PgServer().init().start()
    srv.psql('CREATE DATABASE "estd_unit"')
    state.write_text(f"{srv.conninfo('estd_unit')}\n{srv.proc.pid}\n{srv.dir}\n")
    _SERVERS.remove(srv)  # outlives this command; "stop" ends it
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
