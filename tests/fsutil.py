"""Test helpers for file-system conditions: read-only trees, a process holding a lock."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def read_only(path: str) -> Iterator[None]:
    """path (a file or a tree) unwritable for this process for the block.

    Root ignores permission bits, so as root the tree is made immutable (chattr +i on
    ext4 and similar file systems); otherwise its write bits are cleared. Skips the
    test where neither is possible.
    """
    if os.geteuid() == 0:
        flag = ["chattr", "-R"] if os.path.isdir(path) else ["chattr"]
        done = subprocess.run([*flag, "+i", path], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot make {path} read-only as root: {done.stderr.decode().strip()}")
        try:
            yield
        finally:
            subprocess.run([*flag, "-i", path], check=True)
        return
    targets = [
        p
        for root, _, files in os.walk(path)
        for p in (root, *(os.path.join(root, f) for f in files))
    ]
    modes = {p: os.stat(p).st_mode for p in targets or [path]}
    for p, mode in modes.items():
        os.chmod(p, mode & ~0o222)
    try:
        yield
    finally:
        for p, mode in modes.items():
            os.chmod(p, mode)


HOLDER = textwrap.dedent(
    """
    import fcntl, os, struct, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    kind = fcntl.LOCK_EX if sys.argv[2] == "write" else fcntl.LOCK_SH
    fcntl.lockf(fd, kind, 1, 0)  # byte 0, as casacore locks table.lock
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    """
)


@contextmanager
def fcntl_holder(lock_file: str, kind: str = "write") -> Iterator[int]:
    """Another process holding an fcntl lock on byte 0 of lock_file; yields its pid."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, lock_file, kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc.pid
    finally:
        proc.communicate(timeout=30)  # closes its stdin: it unlocks and ends
