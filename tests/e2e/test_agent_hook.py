"""est agent: the post_renew_command against a real estd. A hook that hangs
is killed after hook_timeout together with everything it started, and the
renewal stands; a hook that fails is logged and changes nothing; the
command's words reach the program as written, with no shell in between."""

import time
from pathlib import Path

import pytest

from agent_util import agent_conf, links_match, pair_matches, start_agent, stop_agent
from e2e_util import EST, cert_serial, describe, ok, run, set_ini, wait_for

LIFETIME = 20


@pytest.fixture
def short_server(fresh_server):
    set_ini(fresh_server.conf, "profile default", "validity_seconds", str(LIFETIME))
    fresh_server.stop()
    fresh_server.start()
    return fresh_server


def _script(work, name, body):
    p = work / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)
    return p


def _alive(pid):
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _hanging_hook(work):
    """A hook that starts a child of its own and waits for it forever (as a
    stuck `systemctl reload` would); it records both process ids."""
    return _script(work, "hang.sh", f"""echo "$$" >> {work}/hook.pids
sleep 600 &
echo "$!" >> {work}/hook.pids
echo "$EST_AGENT_CERT" >> {work}/hook.ran
wait
""")


def _pids(work):
    f = work / "hook.pids"
    return [int(x) for x in f.read_text().split()] if f.exists() else []


def test_hung_hook_is_killed_with_its_children_and_the_renewal_stands(short_server, work):
    hook = _hanging_hook(work)
    conf, out = agent_conf(short_server, work, hook=False, agent_extra="hook_timeout = 2\n",
                           extra=f"post_renew_command = {hook}\n")
    # --once: the renewal is installed, the hook killed after 2 s; the command
    # returns then (nothing the hook started holds its output open)
    t0 = time.monotonic()
    cp = run([EST, "agent", "--once", "-c", conf], timeout=60)
    took = time.monotonic() - t0
    assert cp.returncode == 0, describe(cp)
    assert "killed after 2 s" in cp.stderr, describe(cp)
    assert 2 <= took < 20, (took, describe(cp))
    assert links_match(out)
    pids = _pids(work)
    assert len(pids) == 2, pids
    assert not [p for p in pids if _alive(p)], "the hook's processes outlived its timeout"
    first = cert_serial(out / "cert.pem")
    cp = ok([EST, "agent", "status", "-c", conf])
    assert ", ok" in cp.stdout, describe(cp)

    # the daemon: every renewal's hook hangs and is killed; renewals go on
    log = work / "agent.log"
    p = start_agent(conf, log)
    try:
        wait_for(lambda: log.read_text().count("killed after 2 s") >= 2, timeout=60,
                 interval=0.5)
        assert p.poll() is None, log.read_text()
    finally:
        assert stop_agent(p) == 0, log.read_text()
    text = log.read_text()
    assert "Sanitizer" not in text and "runtime error" not in text, text
    assert text.count("new certificate installed") >= 2, text
    assert cert_serial(out / "cert.pem") != first
    assert links_match(out), text
    pids = _pids(work)
    assert len(pids) >= 6, (pids, text)
    assert not [p for p in pids if _alive(p)], "the hook's processes outlived its timeout"
    assert all(line == f"{out}/cert.pem" for line in
               (work / "hook.ran").read_text().splitlines())


def test_failing_hook_is_logged_and_the_next_renewal_happens(short_server, work):
    conf, out = agent_conf(short_server, work, hook=False,
                           extra="post_renew_command = /bin/sh -c 'exit 3'\n")
    cp = ok([EST, "agent", "--once", "-c", conf])
    assert "post_renew_command /bin/sh: exit status 3" in cp.stderr, describe(cp)
    first = cert_serial(out / "cert.pem")
    assert links_match(out)
    cp = ok([EST, "agent", "status", "-c", conf])
    assert ", ok" in cp.stdout, describe(cp)
    cp = ok([EST, "agent", "--once", "--force", "-c", conf])
    assert "exit status 3" in cp.stderr, describe(cp)
    assert cert_serial(out / "cert.pem") != first and pair_matches(out)
    # a program that cannot run at all is a failure of the same kind
    conf2, out2 = agent_conf(short_server, work, hook=False, conf_name="agent2.conf",
                             state="state2", out="out2",
                             extra=f"post_renew_command = {work}/no-such-program\n")
    cp = ok([EST, "agent", "--once", "-c", conf2])
    assert "exit status 127" in cp.stderr, describe(cp)
    assert links_match(out2)


def test_hook_words_reach_the_program_without_a_shell(short_server, work):
    hook = _script(work, "args.sh", f"""for a in "$@"; do printf '%s\\n' "$a"; done \
> {work}/args.log
env | grep '^EST_AGENT_' | sort > {work}/env.log
""")
    words = ["$(touch pwned1)", "a b", ";", "touch", "pwned2", "`id`", "$HOME", "|", "x&y"]
    written = "'$(touch pwned1)' \"a b\" ';' touch pwned2 '`id`' '$HOME' '|' x\\&y"
    conf, out = agent_conf(short_server, work, hook=False,
                           extra=f"post_renew_command = {hook} {written}\n")
    ok([EST, "agent", "--once", "-c", conf], cwd=work)
    assert (work / "args.log").read_text().splitlines() == words
    assert not (work / "pwned1").exists() and not (work / "pwned2").exists()
    env = dict(line.split("=", 1) for line in (work / "env.log").read_text().splitlines())
    assert env == {"EST_AGENT_CERT": f"{out}/cert.pem", "EST_AGENT_KEY": f"{out}/key.pem",
                   "EST_AGENT_CHAIN": f"{out}/chain.pem",
                   "EST_AGENT_FULLCHAIN": f"{out}/fullchain.pem",
                   "EST_AGENT_NAME": "web"}, env
    assert links_match(out)


def test_too_long_hook_line_is_named_not_a_syntax_error(work):
    conf = work / "long.conf"
    conf.write_text("[cert a]\nserver = https://x\ntrust = /t\ncert = /c\nkey = /k\n"
                    "post_renew_command = /bin/echo " + "x" * 300 + "\n")
    cp = run([EST, "agent", "--once", "-c", conf])
    assert cp.returncode == 2, describe(cp)
    assert "line 6: too long (at most" in cp.stderr, describe(cp)
