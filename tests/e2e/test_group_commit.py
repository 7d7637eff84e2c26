"""Group commit in the SQLite store: concurrent enrollments share commits,
and every certificate a client received is in the store, with its own
serial, after a clean stop and after SIGKILL (tests/e2e/test_crash.py kills
estd in the middle of enrollments)."""

import json
import signal

from e2e_util import EST, describe, est_enroll, run


def _bench_with_cert(srv, client, n, conc):
    cp = run([EST, "bench", "--server", srv.url, "--cacert", srv.ca, "--cert",
              client / "cert.pem", "--key", client / "key.pem", "--op", "simpleenroll",
              "--keepalive", "--concurrency", str(conc), "--requests", str(n), "--json"],
             timeout=300)
    assert cp.returncode == 0, describe(cp)
    return json.loads(cp.stdout)


def test_concurrent_enrollments_are_all_stored_once(fresh_server, work):
    srv = fresh_server
    est_enroll(srv, work / "client", subject="CN=gc-client")
    before = {r["serial"] for r in srv.certs()}
    s = _bench_with_cert(srv, work / "client", 200, 8)
    assert s["ok"] == 200 and s["errors"] == 0, s
    srv.stop(signal.SIGKILL)        # no clean shutdown: only what was committed counts
    srv.start()
    recs = [r for r in srv.certs() if r["serial"] not in before]
    assert len(recs) == 200, len(recs)
    assert len({r["serial"] for r in recs}) == 200
    assert all(r["requester"].startswith("cert:") for r in recs), recs[:3]
