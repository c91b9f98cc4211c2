"""Test helpers: read columns and fingerprint an MS on disk."""

import hashlib
import os

import numpy as np


def read_columns(path, *names, table=""):
    import casatools

    tb = casatools.table()
    tb.open(os.path.join(path, table) if table else path)
    try:
        return {n: tb.getcol(n) for n in names}
    finally:
        tb.close()


def fingerprint(path):
    """sha256 of every file of an MS except lock files (opening a table touches table.lock)."""
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for f in sorted(files):
            if f == "table.lock":
                continue
            p = os.path.join(root, f)
            h.update(os.path.relpath(p, path).encode())
            with open(p, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def ratio_where_nonzero(a, b):
    m = np.abs(b) > 0
    assert m.sum() > 1000  # guard: compare many points, not an empty selection
    return a[m] / b[m]
