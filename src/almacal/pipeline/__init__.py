"""almacal's stages in ALMA pipeline recipes.

Four stages run the cores of almacal's CASA tasks on the measurement sets of a
pipeline context, report on a weblog page with QA scores, and (relcal, gridflux)
hand their corrections to the pipeline the pipeline's way:

``almacal_gridflux_check``  (after hifa_importdata)
    gridflux_check of the amplitude calibrators in flux.csv against the catalog
    as it is now; writes the updated flux.csv in the working directory and, with
    ``updatemodels=True``, updates the context's flux models (hif_setmodels and
    hifa_gfluxscale then use them).
``almacal_relcal``  (after the calibration of the calibrators, e.g. after hif_applycal)
    relcal_fit over the EBs for the given stable calibrators, then one gencal
    amplitude table per MS (relcal_apply's factor -> gain rule), registered in the
    context's calibration library: the next hif_applycal applies it.
``almacal_spwconsistency``
    spwconsistency of the calibrators: the finer spectral consistency score beside
    the pipeline's K_spw score (and hifa_gfluxscale's own, when it ran).
``almacal_b2b_diagnostics``  (after hifa_diffgaincal)
    b2b_phasetransfer's diagnostics (doapply=False) of every band-to-band MS:
    residual DGC phase RMS, band offset stability, expected target coherence;
    beside them the residual RMS of hifa_diffgaincal's own diagnostic table.

``register()`` imports the pipeline (which ``import almacal`` never does), adds
the stages to ``pipeline.cli`` (so a recipe's ``<Command>`` finds them), their QA
handlers and weblog renderers, and returns the stage names. Call it before the
first stage of a recipe runs: casa_init/pipeline_startup.py does so at CASA
start-up.

A bad input (unknown field, no calibrator data, catalog unreachable, ...) ends a
stage with its error on the weblog page and a QA score of 0; the recipe goes on.
The per-MS work of a stage that loops over MSs goes through the Task's ``mapper``
(serial by default): a cluster run can give it the pipeline's MPI helpers.
"""

from __future__ import annotations

import os

STAGES = (
    "almacal_gridflux_check",
    "almacal_relcal",
    "almacal_spwconsistency",
    "almacal_b2b_diagnostics",
)


def register() -> tuple[str, ...]:
    """Make the stages known to the pipeline (CLI, QA, weblog); returns their names.

    Raises ImportError naming what is missing when the pipeline cannot be imported.
    Calling it again is harmless. Unless set already, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION
    becomes 'python' first: the pipeline imports casaplotms, whose generated protobuf code
    the C implementation of protobuf >= 4 refuses (it must be set before protobuf is
    imported; monolithic CASA's own protobuf needs nothing).
    """
    os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
    try:
        from almacal.pipeline.registration import register_stages
    except ImportError as exc:
        raise ImportError(
            f"almacal.pipeline needs the ALMA pipeline: {exc}. Use CASA with the pipeline, or "
            "put a pipeline source tree on PYTHONPATH and install almacal's [pipeline] extra "
            "(README, 'In a pipeline recipe')"
        ) from exc
    return register_stages()
