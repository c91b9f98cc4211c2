"""b2b_phasetransfer implementation. Parameters are defined in xml/b2b_phasetransfer.xml."""

from __future__ import annotations

from almacal.b2b.task import B2BTask
from almacal.casatask.skeleton import run_task
from almacal.io import b2b_calls


def b2b_phasetransfer(
    vis,
    mode,
    refant,
    dgcfield,
    phasecal,
    target,
    lowspw,
    spwmap,
    solint,
    combine,
    minsnr,
    blockgap,
    doapply,
    caltable,
    outfile,
    makeplots,
    force,
    overwrite,
    band,
    maxbaseline,
    sepinband,
    sepb2b,
    coherence,
    phaserms,
):
    """Band-to-band phase referencing with DGC (seed 003). Parameters: xml/b2b_phasetransfer.xml."""
    return run_task(B2BTask(b2b_calls), locals())
