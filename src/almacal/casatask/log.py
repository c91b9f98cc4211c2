"""casalog without importing casatasks at import time.

Under casampi, `import casatasks` inside a server command never returns (the
server loop runs inside casatasks' own import, CASA_NOTES), so the logger is
taken from the already-imported module whenever there is one.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any


class _CasaLogProxy:
    def __getattr__(self, name: str) -> Any:
        mod = sys.modules.get("casatasks") or importlib.import_module("casatasks")
        return getattr(mod.casalog, name)


casalog = _CasaLogProxy()
