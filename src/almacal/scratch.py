"""Chunk-sized work arrays kept from one chunk to the next.

A fresh chunk-sized array pays its page faults on first touch: on this project's
VMs ~1.5 us per 4 KiB page, 6 ms for a 16 MB array, as much as the arithmetic that
fills it (numpy's large allocations are mmap'ed and returned to the system when
freed, so the next chunk faults them in again). A pass that asks a Scratch for
its temporaries by name touches each page once per pass instead of once per chunk.

The arrays of get are uninitialised, like np.empty, and valid until the same name
is asked for again: a caller keeps nothing it got from a Scratch past the chunk.
Those of constant (ones, a range) are made once and only read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import DTypeLike

Layout = Literal["C", "F"]


def memory_order(a: np.ndarray) -> Layout:
    """The order to flatten a in without a copy ("C" unless a is Fortran-only)."""
    return "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"


class Scratch:
    """Named arrays, each as large as the largest request made for its name."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(
        self, name: str, shape: tuple[int, ...], dtype: DTypeLike, order: Layout = "C"
    ) -> np.ndarray:
        """An uninitialised array of this shape, dtype and memory order."""
        n = math.prod(shape)
        return self._held(name, n, dtype, np.empty)[:n].reshape(shape, order=order)

    def constant(
        self, name: str, n: int, dtype: DTypeLike, make: Callable[..., np.ndarray]
    ) -> np.ndarray:
        """The first n values of make(size, dtype=dtype) (np.ones, np.arange), made again
        only when a larger n is asked for; read-only for the caller."""
        return self._held(name, n, dtype, make, read_only=True)[:n]

    def _held(
        self,
        name: str,
        n: int,
        dtype: DTypeLike,
        make: Callable[..., np.ndarray],
        read_only: bool = False,
    ) -> np.ndarray:
        flat = self._arrays.get(name)
        if flat is None or flat.size < n or flat.dtype != np.dtype(dtype):
            flat = make(n, dtype=dtype)
            flat.flags.writeable = not read_only
            self._arrays[name] = flat
        return flat
