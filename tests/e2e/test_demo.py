"""The README's first command, `make demo`, is scripts/demo.sh on the build:
a demo CA and estd on localhost, one enrollment with est, a clean stop. Run
here as users run it (in a throw-away directory and on a free port, so a
user's ./demo and port 8443 are left alone)."""

import os
import socket
import stat

from e2e_util import BIN, REPO, base_env, cert_pubkey, cert_text, describe, free_port, key_pubkey, \
    no_sanitizer_report, run, verify

SCRIPT = REPO / "scripts" / "demo.sh"
DEMO_TIMEOUT = 180


def _demo(tmp_path, build=BIN, port=None):
    env = base_env(ESTKIT_DEMO_DIR=str(tmp_path / "demo"),
                   ESTKIT_DEMO_PORT=str(port or free_port()))
    return run(["bash", SCRIPT, build], env=env, timeout=DEMO_TIMEOUT)


def _port_closed(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_demo_enrolls_and_stops_cleanly(tmp_path):
    port = free_port()
    cp = _demo(tmp_path, port=port)
    assert cp.returncode == 0 and "demo OK" in cp.stdout, describe(cp)
    assert "estd stopped cleanly" in cp.stdout, describe(cp)
    srv, cli = tmp_path / "demo" / "server", tmp_path / "demo" / "client"
    verify(srv / "ca.pem", cli / "cert.pem")
    assert cert_pubkey(cli / "cert.pem") == key_pubkey(cli / "key.pem")
    assert stat.S_IMODE(os.stat(cli / "key.pem").st_mode) == 0o600
    text = cert_text(cli / "cert.pem")
    assert "CN = demo-device" in text and "DNS:demo-device.example" in text, text
    log = (srv / "estd.log").read_text()
    no_sanitizer_report(log, "estd (demo)")
    assert f"listening on https://127.0.0.1:{port}" in log, log
    assert any("simpleenroll" in line and "status=200" in line for line in log.splitlines()), log
    # the script says estd runs only while it runs
    assert _port_closed(port)


def test_demo_takes_another_port_when_its_own_is_busy(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        busy = held.getsockname()[1]
        cp = _demo(tmp_path, port=busy)
    assert cp.returncode == 0 and "demo OK" in cp.stdout, describe(cp)
    assert f"port {busy} is taken" in cp.stdout, describe(cp)


def test_demo_without_a_build_says_what_to_do(tmp_path):
    empty = tmp_path / "nobuild"
    empty.mkdir()
    cp = _demo(tmp_path, build=empty)
    assert cp.returncode != 0, describe(cp)
    assert "est and estd not found" in cp.stderr and "make build" in cp.stderr, describe(cp)
    assert not (tmp_path / "demo").exists()
