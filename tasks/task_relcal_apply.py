"""relcal_apply implementation. Parameters are defined in xml/relcal_apply.xml."""

from __future__ import annotations

from almacal.casatask.skeleton import run_task
from almacal.casatask.terminal import say
from almacal.io import caltables
from almacal.io.mpi import task_mapper
from almacal.io.msinfo import read_ms_info
from almacal.relcal.apply import RelcalApplyTask


class CasaApplyCalls:
    """relcal_apply's CASA steps: MsInfo, HISTORY, split, gencal, applycal (almacal.io)."""

    read_info = staticmethod(read_ms_info)
    history_messages = staticmethod(caltables.history_messages)
    split_column = staticmethod(caltables.split_column)
    make_amp_table = staticmethod(caltables.make_amp_table)
    apply_table = staticmethod(caltables.apply_table)
    write_history = staticmethod(caltables.write_history)

    # the plan (a dry run's whole output) and each MS's step, on the terminal too
    post = staticmethod(say)


def relcal_apply(
    vis,
    factor,
    factorfile,
    factorrange,
    mode,
    outputvis,
    datacolumn,
    caltable,
    force,
    dryrun,
    overwrite,
    outfile,
    parallel,
):
    """Rescale amplitudes per epoch (seed 000 App. E). Parameters: xml/relcal_apply.xml."""
    return run_task(RelcalApplyTask(CasaApplyCalls(), task_mapper(parallel)), locals())
