"""Fixtures for the end-to-end suite: a real estd on a free port, driven by
est, curl and the openssl CLI exactly as a user would.

Binaries come from $ESTKIT_BIN (a CMake build directory; default: <repo>/build).
Only the Python standard library and pytest are used.
"""

import os
import signal

import pytest

from e2e_util import EST, ESTD, Estd

# Servers in use, so a failing test's report carries their logs.
_LIVE = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for srv in _LIVE:
            rep.sections.append((f"estd log {srv.dir.name} (port {srv.port})",
                                 srv.log_tail(80)))


def _require_binaries():
    missing = [str(p) for p in (EST, ESTD) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail("binaries not built: " + ", ".join(missing) +
                    " (set ESTKIT_BIN to the CMake build directory)", pytrace=False)


def start_live(srv):
    """Starts srv (made and configured by the caller), listed in _LIVE so
    that a failing test's report carries its log. Returns srv."""
    _LIVE.append(srv)
    try:
        srv.start()
    except BaseException:
        _LIVE.remove(srv)
        raise
    return srv


def stop_live(srv):
    """Stops a server start_live() started and takes it off _LIVE."""
    if srv in _LIVE:
        _LIVE.remove(srv)
    srv.teardown()


def serving(srv):
    """For a fixture: `yield from serving(srv)` starts srv (unless made by a
    function that started it with start_live()), hands it to the tests and
    stops it after them."""
    if srv not in _LIVE:
        start_live(srv)
    try:
        yield srv
    finally:
        stop_live(srv)


def serving_group(root, setup, *names):
    """For a fixture of several servers that depend on each other (a CA and
    an RA in front of it): `yield from serving_group(root, setup, "ca", "ra")`
    makes one initialised Estd per name under root and calls setup(*servers),
    which configures them and starts them with start_live() in the order it
    needs; the tests get what setup returns. If setup fails, the servers it
    started are killed (SIGKILL: the setup error is the one reported); after
    the tests all are stopped, the last made first."""
    srvs = [Estd(root, name=n).init() for n in names]
    try:
        result = setup(*srvs)
    except BaseException:
        for srv in srvs:
            if srv in _LIVE:
                _LIVE.remove(srv)
            if srv.running():
                srv.stop(signal.SIGKILL)
        raise
    try:
        yield result
    finally:
        for srv in reversed(srvs):
            stop_live(srv)


def server_factory(root, make):
    """For a fixture: `yield from server_factory(tmp_path, make)` hands the
    tests factory(*args, **kw), which returns make(root / "sN", *args, **kw)
    (a server make started with start_live()); all are stopped after."""
    made = []

    def factory(*args, **kw):
        srv = make(root / f"s{len(made)}", *args, **kw)
        made.append(srv)
        return srv

    try:
        yield factory
    finally:
        for srv in made:
            stop_live(srv)


def _serve(root, **kw):
    _require_binaries()
    return start_live(Estd(root, **kw).init())


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One estd for the tests that do not change server state beyond
    enrolling: CA, users and config stay as estd init made them."""
    srv = _serve(tmp_path_factory.mktemp("shared"))
    yield srv
    stop_live(srv)


@pytest.fixture
def fresh_server(tmp_path):
    """A private estd for tests that reconfigure, signal or kill it."""
    srv = _serve(tmp_path)
    yield srv
    stop_live(srv)


@pytest.fixture
def make_server(tmp_path):
    """Factory for a private estd with estd init options (e.g. key_type)."""
    yield from server_factory(tmp_path, _serve)


@pytest.fixture
def work(tmp_path):
    """A scratch directory for client-side files."""
    d = tmp_path / "client"
    d.mkdir()
    return d
