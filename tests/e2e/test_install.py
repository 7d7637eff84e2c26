"""The library as embedders get it: `cmake --install` into a temporary
prefix, examples/enroll.c compiled against the INSTALLED headers and library
with pkg-config, then run against a real estd. Also checks that the man
pages of section 3 are installed."""

import os
import re
import shutil
from pathlib import Path

import pytest

from e2e_util import BIN, PASSWORD, REPO, USER, base_env, describe, key_pubkey, cert_pubkey, ok, run


def _sanitized():
    cache = BIN / "CMakeCache.txt"
    return cache.exists() and re.search(r"^ESTKIT_SANITIZE:BOOL=ON$", cache.read_text(), re.M)


def test_example_builds_against_installed_library(server, tmp_path):
    for tool in ("cc", "pkg-config", "cmake"):
        if shutil.which(tool) is None:
            if os.environ.get("ESTKIT_E2E_ALLOW_SKIP") == "1":
                pytest.skip(f"{tool} not installed")
            pytest.fail(f"{tool} is needed for this test (scripts/install-deps.sh)")
    prefix = tmp_path / "prefix"
    ok(["cmake", "--install", BIN, "--prefix", prefix], timeout=120)
    libdir = next(p.parent for p in prefix.rglob("estkit.pc"))
    assert (prefix / "include" / "estkit" / "client.h").exists()
    for page in ("estkit_client.3", "estkit_pki.3", "estkit_error.3"):
        assert list(prefix.rglob(page)), f"man page {page} not installed"
    env = base_env(PKG_CONFIG_PATH=str(libdir))
    flags = ok(["pkg-config", "--cflags", "--libs", "estkit"], env=env).stdout.split()
    assert any(f.startswith("-I" + str(prefix)) for f in flags), flags
    exe = tmp_path / "enroll"
    extra = ["-fsanitize=address,undefined"] if _sanitized() else []
    cp = run(["cc", "-std=c11", "-Wall", "-Werror", *extra, "-o", exe,
              REPO / "examples" / "enroll.c", *flags], env=env, timeout=120)
    assert cp.returncode == 0, describe(cp)
    libpath = str(libdir.parent) if libdir.name == "pkgconfig" else str(libdir)
    runenv = base_env(EST_PASSWORD=PASSWORD, LD_LIBRARY_PATH=libpath)
    cp = ok([exe, server.url, server.ca, USER, "CN=example-embedder", tmp_path / "dev"],
            env=runenv)
    # the program really used the installed library, not one from the build tree
    ldd = run(["ldd", exe], env=runenv).stdout
    assert str(prefix) in ldd, ldd
    assert cert_pubkey(tmp_path / "dev.crt") == key_pubkey(tmp_path / "dev.key")
    # a wrong password: status 1 and the server's reason
    runenv["EST_PASSWORD"] = "wrong"
    cp = run([exe, server.url, server.ca, USER, "CN=x", tmp_path / "bad"], env=runenv)
    assert cp.returncode == 1 and "401" in cp.stderr, describe(cp)
