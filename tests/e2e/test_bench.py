"""`est bench` against a real estd: every operation briefly (--requests 20),
with and without keep-alive, the JSON summary it prints, and errors counted
by kind. These prove the tool works; the figures are in BENCHMARKS.md."""

import json

import pytest

from e2e_util import EST, PASSWORD, USER, base_env, describe, est_enroll, run

OPS = ["cacerts", "simpleenroll", "simplereenroll", "serverkeygen"]


def bench(srv, *args, password=PASSWORD, user=USER):
    env = base_env(EST_PASSWORD=password)
    cmd = [EST, "bench", "--server", srv.url, "--cacert", srv.ca, "--json", *args]
    if user:
        cmd += ["--user", user]
    return run(cmd, env=env, timeout=120)


def summary(cp):
    assert cp.returncode == 0, describe(cp)
    lines = [l for l in cp.stdout.splitlines() if l.strip()]
    assert len(lines) == 1, describe(cp)
    return json.loads(lines[0])


def check_clean(s, op, n):
    assert s["op"] == op, s
    assert s["requests"] == n and s["ok"] == n and s["errors"] == 0, s
    assert s["errors_by_kind"] == {}, s
    lat = s["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], s
    assert s["rps"] > 0 and s["duration_s"] > 0, s
    assert s["client_cpu"]["seconds"] >= 0, s


@pytest.mark.parametrize("op", OPS)
def test_bench_each_op_20_requests_new_connections(fresh_server, op):
    before = len(fresh_server.certs())
    s = summary(bench(fresh_server, "--op", op, "--requests", "20", "--concurrency", "4"))
    check_clean(s, op, 20)
    assert s["keepalive"] is False and s["concurrency"] == 4, s
    issued = len(fresh_server.certs()) - before
    if op == "cacerts":
        assert issued == 0 and s["distinct_keys"] == 0, s
    elif op == "simplereenroll":
        # 4 workers each first enroll (untimed) the certificate they renew
        assert s["distinct_keys"] == 4 and issued == 24, (s, issued)
    else:
        assert s["distinct_keys"] == 20 and issued == 20, (s, issued)


def test_bench_keepalive_tls12_and_duration(fresh_server):
    s = summary(bench(fresh_server, "--op", "cacerts", "--duration", "1", "--concurrency",
                      "2", "--keepalive", "--tls1.2"))
    assert s["keepalive"] is True and s["tls"] == "1.2", s
    assert s["ok"] > 0 and s["errors"] == 0, s
    assert 0.9 < s["duration_s"] < 10, s
    s = summary(bench(fresh_server, "--op", "simpleenroll", "--requests", "10", "--keys",
                      "3", "--keepalive", "--tls1.3", "--concurrency", "2"))
    check_clean(s, "simpleenroll", 10)
    assert s["distinct_keys"] == 3 and s["tls"] == "1.3", s


def test_bench_reenroll_with_given_client_cert(fresh_server, work):
    est_enroll(fresh_server, work, subject="CN=bench-renewer")
    s = summary(bench(fresh_server, "--op", "simplereenroll", "--requests", "6",
                      "--cert", work / "cert.pem", "--key", work / "key.pem", user=None))
    check_clean(s, "simplereenroll", 6)
    assert s["distinct_keys"] == 1, s
    subjects = [c["subject"] for c in fresh_server.certs()]
    assert sum("bench-renewer" in x for x in subjects) == 7, subjects


def test_bench_counts_errors_by_kind(fresh_server):
    cp = bench(fresh_server, "--op", "simpleenroll", "--requests", "5", "--concurrency", "2",
               password="wrong")
    assert cp.returncode == 1, describe(cp)            # nothing succeeded
    s = json.loads(cp.stdout)
    assert s["ok"] == 0 and s["errors"] == 5, s
    assert s["errors_by_kind"]["http_401"]["count"] == 5, s
    assert "401" in s["errors_by_kind"]["http_401"]["first"], s
    # nothing listens there: network errors, not a crash
    port = fresh_server.port
    fresh_server.port = 1
    try:
        cp = bench(fresh_server, "--op", "cacerts", "--requests", "3", user=None)
    finally:
        fresh_server.port = port
    assert cp.returncode == 1, describe(cp)
    s = json.loads(cp.stdout)
    assert s["errors_by_kind"]["network"]["count"] == 3, s


def test_bench_text_report_and_usage_errors(server):
    cp = run([EST, "bench", "--server", server.url, "--cacert", server.ca, "--op", "cacerts",
              "--requests", "3"])
    assert cp.returncode == 0, describe(cp)
    for word in ("requests/s", "p50", "p99", "max", "3 ok, 0 failed"):
        assert word in cp.stdout, describe(cp)
    for bad in (["--op", "cacerts"], ["--op", "nope", "--requests", "1"],
                ["--op", "cacerts", "--requests", "1", "--duration", "1"],
                ["--op", "cacerts", "--requests", "1", "--concurrency", "0"]):
        cp = run([EST, "bench", "--server", server.url, "--cacert", server.ca, *bad])
        assert cp.returncode == 2 and "est: bench:" in cp.stderr, describe(cp)


def test_fill_store_script_makes_rows_estd_reads(fresh_server, work):
    """scripts/bench-fill-store.py (the large-store benchmark) writes rows estd
    lists and shows, with unique serials, and estd keeps issuing after it."""
    from e2e_util import ESTD, REPO, ok
    srv = fresh_server
    assert srv.stop() == 0
    cp = ok(["/usr/bin/python3", REPO / "scripts" / "bench-fill-store.py", "--db",
             srv.dir / "estd.db", "--count", "3000"])
    assert "inserted 3000 rows" in cp.stdout, describe(cp)
    srv.start()
    certs = srv.certs()
    serials = [c["serial"] for c in certs]
    assert len(certs) >= 3001 and len(set(serials)) == len(serials)
    filled = [c for c in certs if c["subject"].startswith("CN=device-")]
    assert len(filled) == 3000, len(filled)
    cp = ok([ESTD, "certs", "show", filled[1234]["serial"], "-c", srv.conf, "--pem"])
    assert "BEGIN CERTIFICATE" in cp.stdout, describe(cp)
    s = summary(bench(srv, "--op", "simpleenroll", "--requests", "5"))
    check_clean(s, "simpleenroll", 5)
    assert len(srv.certs()) == len(certs) + 5
