"""The CA key out of the network process ([ca] signer = process, the default):
the network process never opens the key, keeps serving after the key file is
gone, survives its signer workers being killed, answers 503 (never hangs)
when a worker stops answering; [ca] signer = inline still works."""

import os
import re
import signal
import time
from pathlib import Path

from e2e_util import (ESTD, est_enroll, ok, run, set_ini, verify, wait_for, describe,
                      Estd)


def children(pid):
    """Direct children of pid (from /proc/PID/task/*/children)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except FileNotFoundError:
            pass
    return out


def comm(pid):
    return Path(f"/proc/{pid}/comm").read_text().strip()


def ini_value(conf, section, key):
    sect = None
    for line in Path(conf).read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            sect = line.strip("[]").strip()
        elif sect == section and "=" in line:
            k, v = (x.strip() for x in line.split("=", 1))
            if k == key:
                return v
    return None


def key_path(srv):
    p = Path(ini_value(srv.conf, "ca", "key"))
    return p if p.is_absolute() else srv.dir / p


def signer_pids(srv):
    m = re.search(r"CA signing in the signer process \(pid (\d+)\)", srv.log_text())
    assert m, "no signer-process line in the log\n" + srv.log_tail()
    sup = int(m.group(1))
    assert sup in children(srv.proc.pid), "the supervisor is not a child of estd"
    assert comm(sup) == "estd-signer"
    return sup, children(sup)


def enroll_ok(srv, work, name):
    out = work / name
    est_enroll(srv, out, subject=f"/CN={name}")
    verify(srv.ca, out / "cert.pem")
    return out


def test_network_process_never_holds_the_key(fresh_server, work):
    srv = fresh_server
    sup, workers = signer_pids(srv)
    assert len(workers) >= 1 and all(comm(w) == "estd-signer-w" for w in workers)
    key = key_path(srv)
    # the network process has no descriptor on the key file (estd is non-dumpable:
    # only root may list its descriptors)
    fds = list(Path(f"/proc/{srv.proc.pid}/fd").iterdir()) if os.geteuid() == 0 else []
    for fd in fds:
        try:
            assert os.readlink(fd) != str(key), "estd keeps the CA key file open"
        except FileNotFoundError:
            pass
    enroll_ok(srv, work, "before-delete")
    # the key file is gone: only the signer process can still sign
    key.rename(key.with_suffix(".moved"))
    try:
        enroll_ok(srv, work, "after-delete")
        # kill -9 every worker: the supervisor replaces them without the key file
        for w in workers:
            os.kill(w, signal.SIGKILL)
        t0 = time.monotonic()
        enroll_ok(srv, work, "after-kill")
        assert time.monotonic() - t0 < 5
        assert wait_for(lambda: "killed by signal 9; starting another" in srv.log_text())
        new = children(sup)
        assert new and not set(new) & set(workers)
    finally:
        key.with_suffix(".moved").rename(key)


def test_stuck_worker_gives_503_not_a_hang(make_server, work, tmp_path):
    srv = Estd(tmp_path / "stuck").init()
    set_ini(srv.conf, "ca", "signer_timeout", "1")
    set_ini(srv.conf, "ca", "signer_workers", "1")
    srv.start()
    try:
        sup, workers = signer_pids(srv)
        assert len(workers) == 1
        os.kill(workers[0], signal.SIGSTOP)
        t0 = time.monotonic()
        cp = est_enroll(srv, work / "stuck", subject="/CN=stuck", check=False)
        assert cp.returncode != 0, describe(cp)
        assert "503" in cp.stderr, describe(cp)
        assert time.monotonic() - t0 < 10
        assert wait_for(lambda: "no answer in time" in srv.log_text())
        # the stuck worker was killed and replaced: signing works again
        enroll_ok(srv, work, "after-stuck")
    finally:
        srv.teardown()


def test_signer_inline(tmp_path, work):
    srv = Estd(tmp_path / "inline").init()
    set_ini(srv.conf, "ca", "signer", "inline")
    srv.start()
    try:
        assert "CA signing in the signer process" not in srv.log_text()
        assert children(srv.proc.pid) == []
        enroll_ok(srv, work, "inline")
    finally:
        srv.teardown()


def test_signer_config_errors(tmp_path):
    srv = Estd(tmp_path / "bad").init()
    set_ini(srv.conf, "ca", "signer", "sideways")
    cp = run([ESTD, "run", "-c", srv.conf])
    assert cp.returncode == 1 and "is not process or inline" in cp.stderr, describe(cp)
    set_ini(srv.conf, "ca", "signer", "process")
    set_ini(srv.conf, "ca", "key", str(srv.dir / "missing.key"))
    cp = run([ESTD, "run", "-c", srv.conf])
    assert cp.returncode == 1 and "cannot read CA key" in cp.stderr, describe(cp)


def test_killed_supervisor_is_replaced(fresh_server, work):
    """kill -9 of estd's own child (the supervisor; its workers follow it):
    estd execs a new one, which reads the key file again."""
    srv = fresh_server
    sup, workers = signer_pids(srv)
    os.kill(sup, signal.SIGKILL)
    # (the supervisor stays a zombie until estd notices and reaps it)
    assert wait_for(lambda: not any(Path(f"/proc/{w}").exists() for w in workers))
    t0 = time.monotonic()
    enroll_ok(srv, work, "after-supervisor-kill")
    assert time.monotonic() - t0 < 10
    assert "the signer supervisor died; started another" in srv.log_text()
    new = [c for c in children(srv.proc.pid) if comm(c) == "estd-signer"]
    assert len(new) == 1 and new[0] != sup
    assert children(new[0]), "the new supervisor has no workers"


def test_stopped_supervisor_does_not_hang_shutdown(fresh_server):
    """A supervisor that does not exit when estd closes its control socket
    (here: SIGSTOP) is killed after a few seconds; estd still exits 0 instead
    of waiting for it for ever."""
    srv = fresh_server
    sup, workers = signer_pids(srv)
    os.kill(sup, signal.SIGSTOP)
    t0 = time.monotonic()
    assert srv.stop(timeout=30) == 0, srv.log_tail()
    assert time.monotonic() - t0 < 20
    assert re.search(rf"the signer supervisor \(pid {sup}\) did not exit within \d+ ms; "
                     r"killed it", srv.log_text()), srv.log_tail()
    assert wait_for(lambda: not any(Path(f"/proc/{w}").exists() for w in workers))
