"""almacal: CASA tasks to check and repair ALMA flux scales and high-frequency phases.

Each ``xml/<task>.xml`` is a task, available as ``almacal.<task>`` (a
``almacal.casatask.task.CasaTask``). The tasks are built on first access (PEP 562),
so ``import almacal`` does not import casatools; the pure cores can be used and
tested without CASA.

Importing almacal before casatools also gives CASA a data configuration when the
user has none (almacal.casaconfig_setup): casadata's measures, no downloads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from almacal import casaconfig_setup as _casaconfig_setup

if TYPE_CHECKING:
    from almacal.casatask.task import CasaTask

# One name per xml/*.xml (tests/test_interface.py checks this list against the XML
# directory); static so that importing almacal reads no files.
__all__ = ["b2b_phasetransfer", "gridflux_check", "relcal_apply", "relcal_fit", "spwconsistency"]

_casaconfig_setup.install()


def __getattr__(name: str) -> CasaTask:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from almacal.casatask.spec import load_spec
    from almacal.casatask.task import CasaTask

    task = CasaTask(load_spec(name))
    globals()[name] = task  # cached: __getattr__ is not consulted again
    return task


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
