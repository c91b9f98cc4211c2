"""A fixture that makes the process locale ASCII (LC_CTYPE=C), as on a machine with
LANG=C where Python is not in UTF-8 mode: the text files the tasks read and write
(flux.csv, relcal_fit's JSON, catalog files) are UTF-8 whatever the locale says."""

from __future__ import annotations

import locale

import pytest


@pytest.fixture
def ascii_locale():
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        # guard: open() without an encoding now really uses ASCII
        assert locale.getpreferredencoding(False) in ("ANSI_X3.4-1968", "ascii", "US-ASCII")
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, before)
