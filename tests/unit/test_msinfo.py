"""MsInfo: the metadata checks that run before any visibility is read."""

import numpy as np
import pytest

from almacal.msinfo import FieldInfo, MsInfo, SpwInfo


def _info(**kw):
    base = dict(
        path="x.ms",
        fields=tuple(FieldInfo(i, n) for i, n in enumerate(("SMM9", "SMM4", "SMM9"))),
        spws=(SpwInfo(0, np.array([3.4e11])),),
        ddid_spw=np.array([0]),
        ddid_pol=np.array([0]),
        corr_types=(np.array([9, 10, 11, 12]), np.array([10, 11]), np.array([5, 8])),
        columns=frozenset({"DATA", "FLAG"}),
        has_weight_spectrum=False,
        start_mjd_s=58405.0 * 86400 + 3600,  # 2018-10-14 01:00 UTC
    )
    return MsInfo(**(base | kw))


def test_fields_by_name_all_rows_or_by_id():
    info = _info()
    assert info.field_ids("SMM9").tolist() == [0, 2]
    assert info.field_ids("1").tolist() == [1]
    with pytest.raises(ValueError, match="field 'SMM3' not found in x.ms; fields are: SMM9, SMM4"):
        info.field_ids("SMM3")


def test_parallel_hands_of_full_and_cross_only_setups():
    info = _info()
    assert info.parallel_hands(0).tolist() == [0, 3]  # XX XY YX YY
    assert info.parallel_hands(2).tolist() == [0, 1]  # RR LL
    with pytest.raises(ValueError, match="parallel hands"):
        info.parallel_hands(1)  # XY YX only


def test_date_and_datacolumn():
    info = _info()
    assert info.date == "2018-10-14"
    assert info.datacolumn("auto") == "DATA"
    assert _info(columns=frozenset({"DATA", "CORRECTED_DATA"})).datacolumn("auto") == (
        "CORRECTED_DATA"
    )
    with pytest.raises(ValueError, match="datacolumn='corrected' but x.ms has no CORRECTED_DATA"):
        info.datacolumn("corrected")
