"""Set-up shared by the unit and CASA tests; runs before any test imports casatools.

casaconfig reads CASASITECONFIG when casatools is first imported, so the
offline site config of this repo is the default here.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("CASASITECONFIG", str(REPO / "casa_init" / "config.py"))


def _casa_log_to_tmp() -> None:
    """casatools and casatasks open config.logfile at import and ignore
    nologfile (6.7.0.31, checked), which leaves casa-*.log in the working
    directory: point the log file at a temporary directory first."""
    if "casatools" in sys.modules:
        return
    try:
        from casaconfig import config
    except ImportError:  # the pure unit tests also run without CASA installed
        return
    logdir = Path(tempfile.gettempdir()) / "almacal-casa-logs"
    logdir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    config.logfile = str(logdir / f"casa-{stamp}-{os.getpid()}.log")


_casa_log_to_tmp()
