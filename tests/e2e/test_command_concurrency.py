"""backend = command under load: a label with command_concurrency = 1 and a
program that takes a while (tests/e2e/data/slow_sign.py, which records
when it runs and detects a second instance with an exclusive lock file, then
signs with examples/command/openssl-sign.sh). Concurrent enrollments never
run two programs at once; each one is issued or gets the documented answer
(503 with Retry-After: no slot within command_timeout, or at once when
waiting would leave no job thread free); and estd keeps answering /cacerts
promptly while the label is saturated (the job threads are not all tied up
waiting for the slot)."""

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import serving
from e2e_util import (PASSWORD, REPO, USER, Estd, curl, make_csr, ok, p7_to_pem, set_ini,
                      verify, wait_for)

AUTH = f"{USER}:{PASSWORD}"
SLOW = REPO / "tests" / "e2e" / "data" / "slow_sign.py"
SIGN = REPO / "examples" / "command" / "openssl-sign.sh"
JOB_THREADS = 4
RETRY_AFTER = "11"
ONE_SECS = 3   # how long a program of label "one" runs
# seconds a /cacerts answer may take while the label is saturated: a /cacerts
# stuck behind the waiting requests would wait for the running program (about
# ONE_SECS); the rest is room for curl and a sanitized estd on a loaded machine
PROMPT = 2.0
# label "tight": programs of TIGHT_SECS, a slot within TIGHT_TIMEOUT or 503. The
# second of three requests gets the slot after one run (TIGHT_SECS plus the
# program's own start, which a loaded machine stretches), the third would get
# it only after two: TIGHT_TIMEOUT lies between, with room on both sides.
TIGHT_SECS, TIGHT_TIMEOUT = 4, 6
# a refused request is answered at once, not after a wait for a slot (which
# ends only with command_timeout, 30 s on label "one")
REFUSED_WITHIN = 8.0


def _ext_ca(root):
    d = root / "x"
    d.mkdir()
    ok(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", d / "ca.key", "-out", d / "ca.pem", "-subj", "/CN=Slow CA",
        "-days", "30", "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return d


@pytest.fixture(scope="module")
def csrv(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmdconc")
    extca = _ext_ca(root)
    srv = Estd(root, name="srv").init()
    (srv.dir / "slow_sign.py").symlink_to(SLOW)
    (root / "sign.sh").symlink_to(SIGN)
    set_ini(srv.conf, "server", "job_threads", str(JOB_THREADS))
    # one: waits are long enough for every request; tight: a slot within
    # TIGHT_TIMEOUT or 503
    for name, secs, timeout in (("one", ONE_SECS, 30), ("tight", TIGHT_SECS, TIGHT_TIMEOUT)):
        lab = f"label {name}"
        set_ini(srv.conf, lab, "backend", "command")
        # estd.conf lines are short: the program relative to estd.conf, short links
        set_ini(srv.conf, lab, "command",
                f"slow_sign.py {root}/{name} {secs} {root}/sign.sh {extca} 30")
        set_ini(srv.conf, lab, "command_concurrency", "1")
        set_ini(srv.conf, lab, "command_timeout", timeout)
        set_ini(srv.conf, lab, "retry_after", RETRY_AFTER)
    srv.extca = extca
    srv.root = root
    yield from serving(srv)


def _csr_b64(work, name):
    csr, _ = make_csr(work, name, subj=f"/CN={name}", der=True)
    b64 = work / f"{name}.b64"
    b64.write_text(base64.encodebytes(csr.read_bytes()).decode())
    return b64


def _enroll_all(srv, work, label, n, during=None):
    """n concurrent /simpleenroll on label; during() runs while they do.
    Returns [(response, seconds)] and during()'s result."""
    files = [_csr_b64(work, f"{label}{i}") for i in range(n)]

    def one(b64):
        own = work / b64.stem  # curl() keeps headers and body in files of its directory
        own.mkdir()
        t0 = time.monotonic()
        r = curl(srv.est_url("simpleenroll", label), own, cafile=srv.ca, user=AUTH,
                 data_file=b64, ctype="application/pkcs10")
        return r, time.monotonic() - t0

    with ThreadPoolExecutor(max_workers=n) as pool:
        futs = [pool.submit(one, f) for f in files]
        extra = during() if during is not None else None
        return [f.result() for f in futs], extra


def _runs(srv, label):
    """(start, end, overlap) of every program run of label, from its log."""
    starts, ends = {}, {}
    for line in (srv.root / f"{label}.log").read_text().splitlines():
        kind, pid, t, *rest = line.split()
        if kind == "start":
            starts[pid] = (float(t), rest[0] == "1")
        else:
            ends[pid] = float(t)
    return [(s, ends.get(pid), ov) for pid, (s, ov) in starts.items()]


def _assert_one_at_a_time(srv, label, issued):
    runs = sorted(_runs(srv, label))
    assert len(runs) >= issued, runs
    assert not any(ov for _, _, ov in runs), f"two programs ran at once: {runs}"
    for (s1, e1, _), (s2, _, _) in zip(runs, runs[1:]):
        assert e1 is not None and s2 >= e1, f"run started at {s2} before {e1}: {runs}"


def _started(srv, label):
    log = srv.root / f"{label}.log"
    return log.read_text().count("start ") if log.exists() else 0


def _cacerts_when_busy(srv, work, label, *, saturated=False):
    """For _enroll_all(during=...): times one /cacerts once a program of label
    runs that the enrollments started (and, when saturated, once estd has
    refused one of them for want of a slot: every job thread that may wait
    is waiting)."""
    before, off = _started(srv, label), srv.log.stat().st_size

    def timed():
        assert wait_for(lambda: _started(srv, label) > before), "no program started"
        if saturated:
            assert wait_for(lambda: "command slots busy" in srv.log_text(off)), \
                srv.log_tail()
        return _cacerts_timed(srv, work)
    return timed


def _cacerts_timed(srv, work):
    t0 = time.monotonic()
    own = work / "cacerts"
    own.mkdir()
    r = curl(srv.est_url("cacerts"), own, cafile=srv.ca)
    return r, time.monotonic() - t0


def _check_issued(srv, work, r, i):
    (work / f"issued{i}.p7").write_bytes(r.body)
    verify(srv.extca / "ca.pem", p7_to_pem(work / f"issued{i}.p7", work / f"issued{i}.pem"))


def test_concurrent_enrollments_run_one_program_at_a_time(csrv, work):
    # 3 requests: one runs, two wait (a job thread stays free)
    res, (cac, took) = _enroll_all(csrv, work, "one", 3,
                                   during=_cacerts_when_busy(csrv, work, "one"))
    for i, (r, _) in enumerate(res):
        assert r.status == 200, (r, csrv.log_tail())
        _check_issued(csrv, work, r, i)
    assert cac.status == 200 and took < PROMPT, (cac, took)
    # the last one waited for the two before it (3 runs of ONE_SECS, less how
    # much later than the first its curl got going; run at once, ~ONE_SECS)
    assert max(t for _, t in res) >= 2 * ONE_SECS, res
    _assert_one_at_a_time(csrv, "one", 3)


def test_saturated_label_leaves_a_job_thread_for_cacerts(csrv, work):
    """More requests than job threads: those that would tie up the last free
    job thread are answered 503 + Retry-After at once; /cacerts stays quick."""
    n = JOB_THREADS + 3
    res, (cac, took) = _enroll_all(csrv, work, "one", n,
                                   during=_cacerts_when_busy(csrv, work, "one",
                                                             saturated=True))
    assert cac.status == 200, cac
    assert took < PROMPT, f"/cacerts took {took:.2f}s while the label was saturated"
    ok_n = 0
    for i, (r, t) in enumerate(res):
        if r.status == 200:
            ok_n += 1
            _check_issued(csrv, work, r, 100 + i)
            continue
        assert r.status == 503, r
        assert r.header("Retry-After") == [RETRY_AFTER], r
        assert b"busy" in r.body, r
        assert t < REFUSED_WITHIN, f"a refused request waited {t:.2f}s"
    # one running and at most JOB_THREADS - 2 waiting: the rest refused at once
    assert 1 <= ok_n <= JOB_THREADS - 1, [r.status for r, _ in res]
    assert "command slots busy" in csrv.log_text()
    _assert_one_at_a_time(csrv, "one", ok_n)


def test_no_slot_within_command_timeout_is_503(csrv, work):
    # tight: the first runs, the second gets the slot after one run, the third
    # waits TIGHT_TIMEOUT and gives up
    res, _ = _enroll_all(csrv, work, "tight", 3)
    codes = sorted(r.status for r, _ in res)
    assert codes == [200, 200, 503], (codes, csrv.log_tail())
    for r, t in res:
        if r.status == 503:
            assert r.header("Retry-After") == [RETRY_AFTER], r
            assert b"busy" in r.body, r
            assert TIGHT_TIMEOUT - 0.5 <= t, \
                f"the refused request gave up after {t:.2f}s, not ~{TIGHT_TIMEOUT}s"
    _assert_one_at_a_time(csrv, "tight", 2)
