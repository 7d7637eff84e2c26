"""est agent against a label with manual approval (RFC 7030 4.2.3): the
answer 202 + Retry-After keeps the current certificate in place; the agent
sends the same request, with the same key, again after Retry-After (across
restarts and SIGKILL too) until an operator approves it, then installs the
certificate for that key; a rejection is logged, the current certificate
stays, and the next attempt is a new request."""

import json
import signal
import time

import pytest

from agent_util import (agent_conf, links_match, read_state, start_agent, stop_agent)
from e2e_util import (EST, ESTD, cert_pubkey, cert_serial, describe, key_pubkey, ok, run,
                      set_ini, wait_for)

LABEL = "manual"
# The agent records next_attempt = (whole seconds at the end of the attempt) +
# Retry-After and compares whole seconds, so "before Retry-After" lasts
# between RETRY_AFTER - 1 and RETRY_AFTER seconds: the check that nothing is
# sent before it (an est agent status and a second sanitized est in between)
# needs that to be several seconds on a loaded machine. agent_util's
# retry_max (4) caps it.
RETRY_AFTER = 4


@pytest.fixture
def msrv(fresh_server):
    srv = fresh_server
    set_ini(srv.conf, f"label {LABEL}", "profile", "default")
    set_ini(srv.conf, f"label {LABEL}", "approval", "manual")
    set_ini(srv.conf, f"label {LABEL}", "retry_after", str(RETRY_AFTER))
    assert srv.stop() == 0
    srv.start()
    return srv


def _requests(srv):
    cp = ok([ESTD, "requests", "list", "--json", "--status", "all", "-c", srv.conf])
    return sorted(json.loads(cp.stdout), key=lambda r: r["id"])


def _decide(srv, *args):
    ok([ESTD, "requests", *args, "-c", srv.conf])


def _once(conf, want, *extra):
    cp = run([EST, "agent", "--once", *extra, "-c", conf])
    assert cp.returncode == want, describe(cp)
    return cp


def _conf(srv, work):
    return agent_conf(srv, work, server=f"{srv.url}/{LABEL}",
                      agent_extra="check_interval = 1\n")


def _enrolled(srv, work):
    """The first enrollment through approval: pending until approved."""
    conf, out = _conf(srv, work)
    store = work / "state" / "web"
    cp = _once(conf, 75)
    assert "pending (HTTP 202)" in cp.stderr, describe(cp)
    key = store / "pending.key"
    assert key.stat().st_mode & 0o777 == 0o600
    pub = key_pubkey(key)
    st = read_state(work)
    assert st["pending"] == "1", st
    assert int(st["next_attempt"]) - int(st["last_attempt"]) == RETRY_AFTER, st
    cp = run([EST, "agent", "status", "-c", conf])
    assert cp.returncode == 3 and "missing" in cp.stdout, describe(cp)
    # before Retry-After: nothing is sent, and --once still says pending
    cp = _once(conf, 75)
    assert "sending the pending request again" not in cp.stderr, describe(cp)
    time.sleep(RETRY_AFTER + 0.2)
    cp = _once(conf, 75)
    assert "sending the pending request again" in cp.stderr, describe(cp)
    reqs = _requests(srv)
    assert len(reqs) == 1 and reqs[0]["status"] == "pending", reqs  # the same request
    assert key_pubkey(key) == pub
    _decide(srv, "approve", str(reqs[0]["id"]))
    time.sleep(RETRY_AFTER + 0.2)
    cp = _once(conf, 0)
    assert "new certificate installed" in cp.stderr, describe(cp)
    assert cert_pubkey(out / "cert.pem") == pub, "the certificate is not for the pending key"
    assert links_match(out)
    assert not key.exists() and not (store / "pending.csr").exists()
    cp = ok([EST, "agent", "status", "-c", conf])
    assert ", ok" in cp.stdout, describe(cp)
    return conf, out


def test_first_enrollment_waits_for_approval_with_one_request(msrv, work):
    _, out = _enrolled(msrv, work)
    assert len((work / "hook.log").read_text().splitlines()) == 1
    reqs = _requests(msrv)
    assert [r["status"] for r in reqs] == ["issued"], reqs


def test_pending_renewal_keeps_its_key_across_restarts_until_approved(msrv, work):
    conf, out = _enrolled(msrv, work)
    store = work / "state" / "web"
    serial = cert_serial(out / "cert.pem")
    cp = _once(conf, 75, "--force")
    assert cert_serial(out / "cert.pem") == serial and links_match(out)
    pub = key_pubkey(store / "pending.key")
    assert pub != cert_pubkey(out / "cert.pem")
    cp = run([EST, "agent", "status", "-c", conf])
    assert cp.returncode == 1 and "pending approval" in cp.stdout, describe(cp)

    log = work / "agent.log"
    resent = lambda n: log.read_text().count("sending the pending request again") >= n
    p = start_agent(conf, log)
    try:
        wait_for(lambda: resent(1), timeout=RETRY_AFTER + 15, interval=0.2)
        assert stop_agent(p) == 0                              # a clean restart
        p = start_agent(conf, log)
        wait_for(lambda: resent(2), timeout=RETRY_AFTER + 15, interval=0.2)
        p.send_signal(signal.SIGKILL)                          # and a crash
        p.wait()
        assert key_pubkey(store / "pending.key") == pub
        assert (store / "pending.key").stat().st_mode & 0o777 == 0o600
        p = start_agent(conf, log)
        wait_for(lambda: resent(3), timeout=RETRY_AFTER + 15, interval=0.2)
        reqs = _requests(msrv)
        assert [r["status"] for r in reqs] == ["issued", "pending"], reqs
        assert cert_serial(out / "cert.pem") == serial and links_match(out)
        _decide(msrv, "approve", str(reqs[1]["id"]))
        wait_for(lambda: "new certificate installed" in log.read_text(),
                 timeout=RETRY_AFTER + 15, interval=0.2)
        wait_for(lambda: not (store / "pending.key").exists(), timeout=5)
    finally:
        assert stop_agent(p) == 0, log.read_text()
    text = log.read_text()
    assert "Sanitizer" not in text and "runtime error" not in text, text
    assert cert_serial(out / "cert.pem") != serial and links_match(out)
    assert cert_pubkey(out / "cert.pem") == pub, "the certificate is not for the pending key"
    assert [r["status"] for r in _requests(msrv)] == ["issued", "issued"]
    assert len((work / "hook.log").read_text().splitlines()) == 2
    ok([EST, "agent", "status", "-c", conf])


def test_rejected_renewal_keeps_the_certificate_and_sends_a_new_request(msrv, work):
    conf, out = _enrolled(msrv, work)
    store = work / "state" / "web"
    serial = cert_serial(out / "cert.pem")
    _once(conf, 75, "--force")
    rejected = key_pubkey(store / "pending.key")
    rid = _requests(msrv)[1]["id"]
    _decide(msrv, "reject", str(rid), "--reason", "not this device")
    time.sleep(RETRY_AFTER + 0.2)
    cp = _once(conf, 1)
    assert "not this device" in cp.stderr, describe(cp)
    assert cert_serial(out / "cert.pem") == serial and links_match(out)
    assert not (store / "pending.key").exists() and not (store / "pending.csr").exists()
    cp = run([EST, "agent", "status", "-c", conf])
    assert cp.returncode == 1 and "FAILING" in cp.stdout, describe(cp)
    # after the backoff: a new request with a new key, pending in its turn
    st = read_state(work)
    wait_for(lambda: time.time() >= int(st["next_attempt"]), timeout=10)
    cp = _once(conf, 75)
    assert key_pubkey(store / "pending.key") != rejected
    assert [r["status"] for r in _requests(msrv)] == ["issued", "rejected", "pending"]
    assert cert_serial(out / "cert.pem") == serial and links_match(out)


def test_a_request_is_sent_only_once_its_key_is_saved(msrv, work):
    """The request and its key are on disk before the request leaves: a key
    that cannot be saved sends nothing (no request the agent could never
    collect), and after a lost answer the same request goes again."""
    conf, out = _enrolled(msrv, work)
    store = work / "state" / "web"
    serial = cert_serial(out / "cert.pem")
    (store / "pending.key").mkdir()                # the key cannot be written
    cp = _once(conf, 1, "--force")
    assert "cannot save the pending request" in cp.stderr, describe(cp)
    assert [r["status"] for r in _requests(msrv)] == ["issued"], "sent without its key saved"
    (store / "pending.key").rmdir()
    # the server is down while the request goes: it is kept for the next attempt
    assert msrv.stop() == 0
    cp = _once(conf, 1, "--force")
    saved = key_pubkey(store / "pending.key")
    msrv.start()
    cp = _once(conf, 75, "--force")
    assert "sending the pending request again" in cp.stderr, describe(cp)
    assert key_pubkey(store / "pending.key") == saved
    reqs = _requests(msrv)
    assert [r["status"] for r in reqs] == ["issued", "pending"], reqs
    _decide(msrv, "approve", str(reqs[1]["id"]))
    cp = _once(conf, 0, "--force")
    assert cert_pubkey(out / "cert.pem") == saved and cert_serial(out / "cert.pem") != serial
    assert links_match(out) and not (store / "pending.key").exists()
    # a saved request whose key is already installed (a crash after the switch, before
    # the files went) is not sent again: regenerate_key wants a new key
    cur = key_pubkey(out / "key.pem")
    ok(["cp", out / "key.pem", store / "pending.key"])
    ok(["openssl", "req", "-new", "-key", out / "key.pem", "-subj", "/CN=web.example",
        "-out", store / "pending.csr"])
    cp = _once(conf, 75, "--force")
    assert "sending the pending request again" not in cp.stderr, describe(cp)
    assert key_pubkey(store / "pending.key") != cur
