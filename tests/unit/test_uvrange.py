import numpy as np
import pytest

from almacal.uvrange import C_M_S, parse_uvrange


@pytest.mark.parametrize(
    ("text", "lo", "hi", "wl"),
    [
        ("0~300m", 0, 300, False),
        ("<2km", 0, 2000, False),
        (">20klambda", 20e3, np.inf, True),
        ("10~50KLAMBDA", 10e3, 50e3, True),
        ("1.5~2Mlambda", 1.5e6, 2e6, True),
    ],
)
def test_parse(text, lo, hi, wl):
    r = parse_uvrange(text)
    assert (r.lo, r.hi, r.in_wavelengths) == (lo, hi, wl)


@pytest.mark.parametrize("text", ["abc", "5~1m", ">10parsec", "1~2~3", "<"])
def test_bad_uvrange_names_parameter(text):
    with pytest.raises(ValueError, match="uvrange"):
        parse_uvrange(text)


def test_empty_is_no_limit_and_mask_in_wavelengths():
    assert parse_uvrange("  ") is None
    r = parse_uvrange(">20klambda")
    freq = np.array([C_M_S / 1e-3, C_M_S / 2e-3])  # 1 mm and 2 mm
    m = r.mask(np.array([10.0, 30.0]), freq)  # 10 m = 10 klambda at 1 mm
    assert m.tolist() == [[False, False], [True, False]]
