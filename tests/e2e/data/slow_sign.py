#!/usr/bin/env python3
"""A signing program for backend = command tests: sleeps, then hands the
request on stdin to a real signer, and records when it ran.

    slow_sign.py STATE SECONDS SIGNER [ARGS...]

STATE.log gets one line "start PID T OVERLAP" when the program starts and
"end PID T" after the signer finished (T: CLOCK_MONOTONIC seconds, shared by
all processes). STATE.lock is created exclusively for the run: when it
already exists another instance is running at the same time, and OVERLAP
is 1. SIGNER runs
with ARGS as they are (no shell); its stdout, stderr and exit status become
this program's. Nothing of the request is interpreted here."""

import os
import subprocess
import sys
import time


def record(log, text):
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)


def main():
    if len(sys.argv) < 4:
        sys.stderr.write("usage: slow_sign.py STATE SECONDS SIGNER [ARGS...]\n")
        return 3
    state, seconds, signer = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    log, lock = state + ".log", state + ".lock"
    csr = sys.stdin.buffer.read()
    try:
        os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        mine = True
    except FileExistsError:
        mine = False
    record(log, f"start {os.getpid()} {time.monotonic():.6f} {0 if mine else 1}")
    try:
        time.sleep(seconds)
        done = subprocess.run(signer, input=csr, capture_output=True, check=False)
        record(log, f"end {os.getpid()} {time.monotonic():.6f}")
    finally:
        if mine:
            os.unlink(lock)
    sys.stdout.buffer.write(done.stdout)
    sys.stderr.buffer.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
