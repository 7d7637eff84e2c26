"""est agent: automatic renewal against the real estd, with a 30-second
certificate lifetime (profile validity_seconds) and renew_at = 50%.

Checks that the agent renews several times, that the post_renew_command runs
each time, that the key changes with regenerate_key, that a SIGKILL at any
point never leaves a key and certificate that do not belong together, and
the exit codes of --once and status.
"""

import random
import signal
import time
from pathlib import Path

import pytest

from agent_util import agent_conf, links_match, pair_matches, start_agent, stop_agent
from e2e_util import EST, cert_serial, describe, key_pubkey, ok, run, set_ini, wait_for

LIFETIME = 20


@pytest.fixture
def short_server(fresh_server):
    set_ini(fresh_server.conf, "profile default", "validity_seconds", str(LIFETIME))
    fresh_server.stop()
    fresh_server.start()
    return fresh_server


def test_agent_once_enrolls_and_status(short_server, work):
    conf, out = agent_conf(short_server, work)
    cp = run([EST, "agent", "status", "-c", conf])
    assert cp.returncode == 3 and "missing" in cp.stdout, describe(cp)
    ok([EST, "agent", "--once", "-c", conf])
    assert (out / "cert.pem").is_symlink() and links_match(out)
    assert "CN=web.example" in ok(["openssl", "x509", "-in", out / "cert.pem", "-noout",
                                   "-subject", "-nameopt", "RFC2253"]).stdout
    ok(["openssl", "verify", "-CAfile", short_server.ca, "-untrusted", out / "chain.pem",
        out / "cert.pem"])
    assert oct((out / "key.pem").stat().st_mode & 0o777) == "0o600"
    cp = ok([EST, "agent", "status", "-c", conf])
    assert "web: valid" in cp.stdout and ", ok" in cp.stdout, describe(cp)
    # not due yet: --once does nothing; --force renews with a new key
    first = cert_serial(out / "cert.pem")
    firstkey = key_pubkey(out / "key.pem")
    ok([EST, "agent", "--once", "-c", conf])
    assert cert_serial(out / "cert.pem") == first
    ok([EST, "agent", "--once", "--force", "-c", conf])
    assert cert_serial(out / "cert.pem") != first and pair_matches(out)
    assert key_pubkey(out / "key.pem") != firstkey
    assert cert_serial(Path(str(out / "cert.pem") + ".prev")) == first
    assert len((work / "hook.log").read_text().splitlines()) == 2
    # the CA is gone: --once fails (1) and status reports failing (1)
    short_server.stop()
    cp = run([EST, "agent", "--once", "--force", "-c", conf])
    assert cp.returncode == 1, describe(cp)
    cp = run([EST, "agent", "status", "-c", conf])
    assert cp.returncode == 1 and "FAILING" in cp.stdout, describe(cp)
    # and after the certificate's end: expired (3)
    wait_for(lambda: run([EST, "agent", "status", "-c", conf]).returncode == 3,
             timeout=LIFETIME + 5, interval=1)
    cp = run([EST, "agent", "status", "-c", conf])
    assert cp.returncode == 3 and "EXPIRED" in cp.stdout, describe(cp)
    # an expired certificate is replaced through the enrollment credentials
    short_server.start()
    ok([EST, "agent", "--once", "-c", conf])
    assert pair_matches(out)
    ok([EST, "agent", "status", "-c", conf])


def test_agent_daemon_renews_runs_hook_and_survives_sigkill(short_server, work):
    conf, out = agent_conf(short_server, work)
    log = work / "agent.log"
    p = start_agent(conf, log)
    serials, keys = set(), set()
    kills = 0
    # the loop ends as soon as it has seen enough; the deadline only bounds a
    # failing run (kills land mid-renewal more often when renewals are slow)
    deadline = time.monotonic() + 150
    rnd = random.Random(7030)
    try:
        while time.monotonic() < deadline and (len(serials) < 4 or kills < 6):
            time.sleep(rnd.uniform(0.05, 1.5))
            if rnd.random() < 0.35:
                # SIGKILL at a random point, maybe mid-renewal: the pair must match
                p.send_signal(signal.SIGKILL)
                p.wait()
                kills += 1
                if (out / "cert.pem").exists():
                    assert links_match(out), f"mismatched pair after SIGKILL {kills}"
                p = start_agent(conf, log)
            if (out / "cert.pem").exists():
                assert pair_matches(out)
                serials.add(cert_serial(out / "cert.pem"))
                keys.add(key_pubkey(out / "key.pem"))
        assert stop_agent(p) == 0, log.read_text()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    text = log.read_text()
    assert "Sanitizer" not in text and "runtime error" not in text, text
    assert len(serials) >= 4, text
    assert len(keys) >= 4, "regenerate_key = yes must change the key\n" + text
    hooks = (work / "hook.log").read_text().splitlines()
    installed = text.count("new certificate installed")
    assert len(hooks) >= 3 and all(h == f"web {out}/cert.pem" for h in hooks), hooks
    assert len(hooks) <= installed, (hooks, text)
    assert links_match(out)
    # no stray generations: current and at most prev (plus at most one a kill left)
    gens = [d for d in (work / "state" / "web").iterdir() if d.name.startswith("g-")]
    assert 1 <= len(gens) <= 3, gens


def test_agent_config_errors(work):
    bad = {
        "no cert section": "[agent]\nretry_min = 5\n",
        "unknown key": "[cert a]\nserver = https://x\nbogus = 1\n",
        "renew_at range": "[cert a]\nrenew_at = 99%\n",
        "both schedules": "[cert a]\nrenew_at = 50%\nrenew_before = 7d\n",
        "relative hook": ("[cert a]\nserver = https://x\ntrust = /t\ncert = /c\nkey = /k\n"
                          "post_renew_command = systemctl reload nginx\n"),
        "missing key": "[cert a]\nserver = https://x\ntrust = /t\ncert = /c\n",
        "unknown section": "[certs a]\nserver = https://x\n",
    }
    for what, text in bad.items():
        f = work / "bad.conf"
        f.write_text(text)
        cp = run([EST, "agent", "--once", "-c", f])
        assert cp.returncode == 2, what + "\n" + describe(cp)
        assert "est: agent:" in cp.stderr, describe(cp)
