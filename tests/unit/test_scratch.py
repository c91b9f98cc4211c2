"""almacal.scratch: work arrays kept from chunk to chunk."""

import numpy as np
import pytest

from almacal.scratch import Scratch


def test_scratch_reuses_its_arrays_and_keeps_constants_read_only():
    s = Scratch()
    a = s.get("x", (10, 4), np.float64)
    b = s.get("x", (5, 4), np.float64, "F")
    assert np.shares_memory(a, b) and b.flags.f_contiguous
    assert not np.shares_memory(a, s.get("x", (11, 4), np.float64))  # grown
    ones = s.constant("ones", 6, np.float64, np.ones)
    np.testing.assert_array_equal(ones, 1.0)
    assert np.shares_memory(ones, s.constant("ones", 3, np.float64, np.ones))
    with pytest.raises(ValueError, match="read-only"):
        ones[0] = 2.0
