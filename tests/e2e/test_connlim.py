"""The per-address connection limit ([server] max_connections_per_address):
one address holding its N connections gets every further one closed at once
(before any TLS byte), with a log line; another address (127.0.0.2, loopback)
still enrolls promptly; and every way a connection ends gives its slot back -
client close before or after the handshake, a kept-alive request, a failed
handshake, Connection: close, the server's idle timeout, a refused connection
itself - so after many open/close cycles the address still gets exactly N."""

import os
import select
import socket
import ssl
import time

import pytest

import hostile_cases as H
from e2e_util import Estd, held_connections, set_ini, wait_for

N = 8           # max_connections_per_address of the test server
TIMEOUT = 10    # [server] timeout: the idle-timeout close path; well above what a
                # sanitized run on a loaded machine needs to set up the held ones
REFUSED_WITHIN = 2.0  # seconds: "at once", with room for a loaded or sanitized run


@pytest.fixture
def limited(tmp_path):
    srv = Estd(tmp_path).init()
    set_ini(srv.conf, "server", "max_connections_per_address", str(N))
    set_ini(srv.conf, "server", "io_threads", "2")
    set_ini(srv.conf, "server", "timeout", str(TIMEOUT))
    srv.start()
    work = tmp_path / "w"
    work.mkdir()
    key, spki = H.ec_key(work, "k")
    srv.csr = H.b64(H.build_csr(work, key, spki, H.name((H.OID_CN, "connlim"))))
    yield srv
    srv.teardown()


def tcp(srv, source=None):
    return socket.create_connection(("127.0.0.1", srv.port), timeout=10,
                                    source_address=(source, 0) if source else None)


def tls(srv, source=None):
    ctx = ssl.create_default_context(cafile=str(srv.ca))
    ctx.check_hostname = False
    return ctx.wrap_socket(tcp(srv, source))


def closed_by_server(socks, within, *, replies=False):
    """The sockets of socks the server closed (EOF or reset) within seconds.
    The server must send nothing first unless replies (a TLS alert)."""
    gone, live = [], list(socks)
    deadline = time.monotonic() + within
    while live and time.monotonic() < deadline:
        readable, _, _ = select.select(live, [], [], max(0.0, deadline - time.monotonic()))
        for s in readable:
            try:
                if isinstance(s, ssl.SSLSocket):  # a close_notify reads as b""
                    s.settimeout(0.2)
                    data = s.recv(4096)
                else:
                    data = s.recv(4096, socket.MSG_DONTWAIT)
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                data = b""
            except (BlockingIOError, socket.timeout):
                continue
            if data and replies:
                continue
            assert data == b"", f"the server sent {data!r} on an idle connection"
            gone.append(s)
            live.remove(s)
    return gone


def server_sockets(srv):
    """How many sockets the estd process has open."""
    fd_dir = f"/proc/{srv.proc.pid}/fd"
    n = 0
    for fd in os.listdir(fd_dir):
        try:
            n += os.readlink(f"{fd_dir}/{fd}").startswith("socket:")
        except FileNotFoundError:
            pass
    return n


def quiesce(srv):
    """Waits until estd has freed every connection the test closed: closes are
    seen by its loops asynchronously (slowly under a sanitizer), and a slot
    comes back when its connection is freed, just after the socket closes."""
    assert wait_for(lambda: held_connections(srv) == 0, timeout=15, interval=0.05), \
        f"estd still holds {held_connections(srv)} connections\n{srv.log_tail(20)}"
    time.sleep(0.05)


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def allowance(srv, source=None, within=REFUSED_WITHIN):
    """Opens N + 1 idle connections from source and returns how many the server
    kept (N when no slot leaked); closes them all."""
    socks = [tcp(srv, source) for _ in range(N + 1)]
    try:
        gone = closed_by_server(socks, within)
        return len(socks) - len(gone)
    finally:
        close_all(socks)


def assert_no_leak(srv, what):
    quiesce(srv)
    kept = allowance(srv)
    assert kept == N, f"after {what}: the address no longer gets {N} connections " \
                      f"(kept {kept})\n{srv.log_tail(20)}"
    quiesce(srv)


def test_extra_connections_are_closed_at_once_and_others_still_enroll(limited):
    srv = limited
    before = server_sockets(srv)
    t0 = time.monotonic()
    socks = [tcp(srv) for _ in range(N + 10)]
    try:
        gone = closed_by_server(socks, REFUSED_WITHIN)
        took = time.monotonic() - t0
        assert len(gone) == 10, f"{len(gone)} of {N + 10} closed within {took:.1f} s"
        # ... and freed by estd at once, long before the idle timeout
        assert wait_for(lambda: server_sockets(srv) == before + N, timeout=TIMEOUT / 2), \
            f"estd holds {server_sockets(srv) - before} sockets, wanted {N}"
        # the N kept ones stay open (they are idle, well inside the timeout)
        assert closed_by_server([s for s in socks if s not in gone], 0.5) == []
        # another address is not affected: it enrolls promptly
        t1 = time.monotonic()
        other = H.Client(srv.port, srv.ca, source="127.0.0.2")
        r = other.raw(H.enroll_bytes(srv.csr), keep=False)
        assert r.status == 200 and r.body.startswith(b"MII"), r
        assert time.monotonic() - t1 < 5
        # ... but the first address cannot even start a handshake
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            tls(srv).close()
    finally:
        close_all(socks)
    log = wait_for(lambda: "connection limit: refused peer=127.0.0.1" in srv.log_text(), 5)
    assert log, srv.log_tail(20)
    assert "max_connections_per_address reached" in srv.log_text()
    # rate-limited: one line for the burst (and one per 10 s after it), not one per refusal
    lines = srv.log_text().count("connection limit: refused")
    assert 1 <= lines <= 1 + int((time.monotonic() - t0) / 10), srv.log_tail(20)
    # after closing the idle ones the address connects and enrolls again
    assert_no_leak(srv, "the burst")
    c = H.Client(srv.port, srv.ca)
    r = c.raw(H.enroll_bytes(srv.csr), keep=False)
    assert r.status == 200, r
    assert srv.running()


def _close_before_handshake(srv):
    close_all([tcp(srv) for _ in range(N)])


def _close_after_handshake(srv):
    close_all([tls(srv) for _ in range(N)])


def _keep_alive_requests(srv):
    clients = [H.Client(srv.port, srv.ca) for _ in range(N)]
    for c in clients:
        r = c.raw(f"GET {H.EST}/cacerts HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert r.status == 200, r
    for c in clients:
        c.close()


def _connection_close_requests(srv):
    for _ in range(N):
        c = H.Client(srv.port, srv.ca)
        r = c.raw(f"GET {H.EST}/cacerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  .encode(), keep=False)
        assert r.status == 200, r
        c.close()


def _failed_handshakes(srv):
    socks = [tcp(srv) for _ in range(N)]
    for s in socks:
        s.sendall(b"\x16\x03\x01\xff\xff" + b"\0" * 64)
    assert len(closed_by_server(socks, 10, replies=True)) == N  # alert, then close
    close_all(socks)


def _over_the_limit_and_back(srv):
    socks = [tcp(srv) for _ in range(N + 5)]
    assert len(closed_by_server(socks, REFUSED_WITHIN)) == 5
    close_all(socks)


CYCLES = [_close_before_handshake, _close_after_handshake, _keep_alive_requests,
          _connection_close_requests, _failed_handshakes, _over_the_limit_and_back]


def test_no_slot_leaks_over_many_open_close_cycles(limited):
    srv = limited
    for rnd in range(5):
        for cycle in CYCLES:
            quiesce(srv)  # the last cycle's slots are back before this one counts on them
            cycle(srv)
        assert_no_leak(srv, f"round {rnd + 1} of {[c.__name__ for c in CYCLES]}")
    # the server's idle timeout ends them: their slots come back too
    socks = [tls(srv) for _ in range(N)]
    try:
        assert allowance(srv, within=REFUSED_WITHIN) == 0  # all N held: all others refused
        gone = closed_by_server(socks, TIMEOUT + 10)
        assert len(gone) == N, f"only {len(gone)} timed out"
    finally:
        close_all(socks)
    assert_no_leak(srv, "the idle timeout")
    # another address was never affected
    other = H.Client(srv.port, srv.ca, source="127.0.0.2")
    assert other.raw(H.enroll_bytes(srv.csr), keep=False).status == 200


def test_shutdown_with_connections_held_exits_cleanly(limited):
    """SIGTERM while the address holds all its slots and refused ones are in
    flight: estd exits 0 (teardown), with no sanitizer report in ASan runs."""
    srv = limited
    held = [tls(srv) for _ in range(N // 2)] + [tcp(srv) for _ in range(N // 2 + 3)]
    try:
        assert len(closed_by_server(held, REFUSED_WITHIN)) == 3
        srv.teardown()
    finally:
        close_all(held)


def test_zero_turns_the_limit_off(tmp_path):
    srv = Estd(tmp_path).init()
    set_ini(srv.conf, "server", "max_connections_per_address", "0")
    srv.start()
    try:
        socks = [tcp(srv) for _ in range(80)]  # over the default of 64
        try:
            assert closed_by_server(socks, 1.5) == []
        finally:
            close_all(socks)
    finally:
        srv.teardown()


def test_without_the_key_the_limit_is_64(tmp_path):
    srv = Estd(tmp_path).init()
    # the suite's servers set the key (e2e_util.py): drop it, the default applies
    text = srv.conf.read_text()
    srv.conf.write_text("".join(l for l in text.splitlines(keepends=True)
                                if not l.startswith("max_connections_per_address")))
    srv.start()
    try:
        socks = [tcp(srv) for _ in range(70)]
        try:
            assert len(closed_by_server(socks, REFUSED_WITHIN)) == 6
        finally:
            close_all(socks)
    finally:
        srv.teardown()


def _ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_peers_are_limited_too(tmp_path):
    """A server on [::1]: connections from ::1 (its /64) are counted the same."""
    srv = Estd(tmp_path).init()
    set_ini(srv.conf, "server", "listen", f"[::1]:{srv.port}")
    set_ini(srv.conf, "server", "max_connections_per_address", "4")
    srv.start()
    try:
        socks = [socket.create_connection(("::1", srv.port), timeout=10) for _ in range(7)]
        try:
            assert len(closed_by_server(socks, REFUSED_WITHIN)) == 3
        finally:
            close_all(socks)
        assert "connection limit: refused peer=::1 " in srv.log_text(), srv.log_tail(10)
    finally:
        srv.teardown()
