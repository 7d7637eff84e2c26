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
                      verify)

AUTH = f"{USER}:{PASSWORD}"
SLOW = REPO / "tests" / "e2e" / "data" / "slow_sign.py"
SIGN = REPO / "examples" / "command" / "openssl-sign.sh"
JOB_THREADS = 4
RETRY_AFTER = "11"
PROMPT = 1.0   # seconds a /cacerts answer may take while the label is saturated


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
    # one: waits are long enough for every request; tight: a slot within 3 s or 503
    for name, secs, timeout in (("one", "0.7", "30"), ("tight", "2", "3")):
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


def _cacerts_timed(srv, work):
    time.sleep(0.3)  # the enrollments are in: one program runs, others wait
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
                                   during=lambda: _cacerts_timed(csrv, work))
    for i, (r, _) in enumerate(res):
        assert r.status == 200, (r, csrv.log_tail())
        _check_issued(csrv, work, r, i)
    assert cac.status == 200 and took < PROMPT, (cac, took)
    # the last one waited for the two before it
    assert max(t for _, t in res) >= 3 * 0.7, res
    _assert_one_at_a_time(csrv, "one", 3)


def test_saturated_label_leaves_a_job_thread_for_cacerts(csrv, work):
    """More requests than job threads: those that would tie up the last free
    job thread are answered 503 + Retry-After at once; /cacerts stays quick."""
    n = JOB_THREADS + 3
    res, (cac, took) = _enroll_all(csrv, work, "one", n,
                                   during=lambda: _cacerts_timed(csrv, work))
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
        assert t < 0.7 * 2, f"a refused request waited {t:.2f}s"
    # one running and at most JOB_THREADS - 2 waiting: the rest refused at once
    assert 1 <= ok_n <= JOB_THREADS - 1, [r.status for r, _ in res]
    assert "command slots busy" in csrv.log_text()
    _assert_one_at_a_time(csrv, "one", ok_n)


def test_no_slot_within_command_timeout_is_503(csrv, work):
    # tight: 2 s programs, a slot must come within 3 s: the first runs, the
    # second gets the slot after ~2 s, the third waits 3 s and gives up
    res, _ = _enroll_all(csrv, work, "tight", 3)
    codes = sorted(r.status for r, _ in res)
    assert codes == [200, 200, 503], (codes, csrv.log_tail())
    for r, t in res:
        if r.status == 503:
            assert r.header("Retry-After") == [RETRY_AFTER], r
            assert b"busy" in r.body, r
            assert 2.5 <= t, f"the refused request gave up after {t:.2f}s, not ~3s"
    _assert_one_at_a_time(csrv, "tight", 2)
