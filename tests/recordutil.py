"""Test helpers: a task's JSON product is its record; table columns are record entries."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np


def as_json(value: Any) -> Any:
    """The record as JSON holds it: NaN and infinities null, tuples lists, numpy scalars
    Python numbers, dict keys strings."""
    if isinstance(value, np.generic | np.ndarray):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value


def assert_json_is_record(path: str | os.PathLike, record: dict) -> None:
    """The JSON file holds exactly the record (JSON writes floats exactly: no tolerance)."""
    with open(path, encoding="utf-8") as fh:
        written = json.load(fh)
    assert set(written) == set(record), set(written) ^ set(record)
    for key in record:
        assert written[key] == as_json(record[key]), key


def assert_column(column: Any, values: Any, *, atol: float = 0.0) -> None:
    """A table column equals record values (None in the record: NaN or masked in the
    table), to atol when the record rounds them."""
    got = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
    want = np.array([np.nan if v is None else v for v in np.ravel(values)], dtype=float)
    np.testing.assert_allclose(got.ravel(), want, rtol=0, atol=atol, equal_nan=True)
