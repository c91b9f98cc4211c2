"""In-band spectral index uncertainty (seed 000 Sect. 4.1, Table 5)."""

import numpy as np
import pytest

from almacal.spwcons.spindex import TABLE5_SPW_GHZ, sigma_alpha, table5_sigma_alpha


def test_table5_numbers_of_section_4_1():
    got = table5_sigma_alpha(0.008)
    # Sect. 4.1: 0.08 for Band 3 and 0.28 for Band 7 at sigma_F = 0.8 % (two digits quoted)
    assert round(got[3], 2) == 0.08 and round(got[7], 2) == 0.28
    assert got[7] > 3 * got[3]  # the same 14-16 GHz lever arm is short at high frequency


def test_formula_units_order_and_vectors():
    assert sigma_alpha(0.008, 336.5, 350.5) == pytest.approx(
        np.sqrt(2) * 0.008 / np.log(350.5 / 336.5)
    )
    assert sigma_alpha(0.008, 350.5e9, 336.5e9) == pytest.approx(sigma_alpha(0.008, 336.5, 350.5))
    # Band 3 spw 1 to Band 7 spw 4 at 10 %: 0.10 (the seed prints 0.01, a slip by 10x)
    assert sigma_alpha(0.1, TABLE5_SPW_GHZ[3][0], TABLE5_SPW_GHZ[7][-1]) == pytest.approx(
        0.104, abs=1e-3
    )
    np.testing.assert_allclose(
        sigma_alpha(np.array([0.004, 0.008]), 336.5, 350.5), [0.139, 0.278], atol=1e-3
    )


def test_equal_or_bad_frequencies_are_refused():
    with pytest.raises(ValueError, match="different frequencies"):
        sigma_alpha(0.008, 336.5, 336.5)
    with pytest.raises(ValueError, match="positive"):
        sigma_alpha(0.008, -1.0, 336.5)


@pytest.mark.parametrize(
    ("nu1", "nu2"), [(0.0, 350.5), (336.5, 0.0), (-336.5, 350.5), (336.5, 336.5)]
)
def test_zero_negative_or_equal_frequencies_are_refused(nu1, nu2):
    with pytest.raises(ValueError, match="need positive, different frequencies"):
        sigma_alpha(0.008, nu1, nu2)
