"""Helpers for the `est agent` end-to-end tests (test_agent*.py): the agent
configuration file, starting and stopping the daemon, and checks that a key
and certificate on disk belong together."""

import os
import signal
import subprocess
from pathlib import Path

from e2e_util import EST, PASSWORD, USER, _PROCS, base_env, cert_pubkey, key_pubkey


def agent_conf(srv, work, *, extra="", agent_extra="", name="web", hook=True, server=None,
               trust=None, conf_name="agent.conf", state="state", out="out"):
    """Writes an agent configuration for one [cert NAME] against srv (or the URL
    server), trusting srv's CA (or copying the file trust). extra goes into the
    [cert] section, agent_extra into [agent]. Returns (conf, out directory)."""
    state = work / state
    out = work / out
    pw = work / "pw"
    pw.write_text(PASSWORD + "\n")
    tfile = work / f"trust-{name}.pem"
    if not tfile.exists():
        tfile.write_bytes(Path(trust if trust is not None else srv.ca).read_bytes())
    hook_line = ""
    if hook:
        hook_line = (f"post_renew_command = /bin/sh -c 'echo \"$EST_AGENT_NAME "
                     f"$EST_AGENT_CERT\" >> {work}/hook.log'\n")
    conf = work / conf_name
    conf.write_text(f"""[agent]
state_dir = {state}
retry_min = 1
retry_max = 4
{agent_extra}
[cert {name}]
server = {server if server is not None else srv.url}
trust = {tfile}
user = {USER}
password_file = {pw}
subject = CN={name}.example
san = DNS:{name}.example
cert = {out}/cert.pem
key = {out}/key.pem
chain = {out}/chain.pem
fullchain = {out}/fullchain.pem
renew_at = 50%
{hook_line}{extra}""")
    return conf, out


def pair_matches(out):
    """Key and certificate of one generation. While the agent runs it may
    switch generations between two reads, so read both through the one
    directory the cert link resolves to (as a careful reader would)."""
    gen = Path(os.path.realpath(out / "cert.pem")).parent
    assert Path(os.path.realpath(out / "key.pem")).name == "key.pem"
    return cert_pubkey(gen / "cert.pem") == key_pubkey(gen / "key.pem")


def links_match(out):
    """After the agent stopped: the two output links name the same generation."""
    return (Path(os.path.realpath(out / "cert.pem")).parent ==
            Path(os.path.realpath(out / "key.pem")).parent and pair_matches(out))


def start_agent(conf, log):
    f = open(log, "ab")
    p = subprocess.Popen([str(EST), "agent", "-c", str(conf)], stdin=subprocess.DEVNULL,
                         stdout=f, stderr=subprocess.STDOUT, env=base_env(),
                         start_new_session=True)
    f.close()
    _PROCS.append(p)
    return p


def stop_agent(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=90)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError("est agent did not stop after " + signal.Signals(sig).name)
    return p.returncode


def read_state(conf_work, name="web", state="state"):
    """STATE_DIR/NAME/state as a dict of strings."""
    text = (conf_work / state / name / "state").read_text()
    return dict(line.split("=", 1) for line in text.splitlines())
