"""A pipeline recipe with almacal stages in cluster mode:
``mpirun -n 3 python tests/mpi/pipeline_cluster_job.py spec.json``.

What ``mpicasa -n 3 casa --pipeline`` does, done in a pip environment: casatasks is
imported completely on every rank before casampi starts its servers (monolithic CASA's
``casalith`` module, whose presence makes casatasks defer that start, is stood in for by
an empty module in spec["path"]), then the servers serve and the client imports the
pipeline, whose mpihelpers starts casampi's client and imports the pipeline on the
servers. Without the deferral the servers would serve from inside ``import casatasks``
and hang importing the pipeline (CASA_NOTES); a server that imports the pipeline
before serving crashes in casalog (seen here: SIGSEGV in logsink.post).

The client runs the recipe twice, in cluster mode and with ``mpihelpers.USE_MPI`` off
(serial), each in its own working directory, and writes each stage's records, errors
and the log lines about MPI servers to spec["out"] (JSON).
"""

import json
import os
import shutil
import sys

with open(sys.argv[1], encoding="utf-8") as _fh:
    SPEC = json.load(_fh)
sys.path[:0] = SPEC["path"]

# the order is the point (module docstring); almacal: CASA's data configuration first
import almacal  # noqa: E402, F401, I001
import casatasks  # noqa: E402 - complete on every rank: casalith is findable, casampi waits
import casampi.private.start_mpi  # noqa: E402, F401 - ranks > 0 serve here and exit

from almacal.outputs import json_safe  # noqa: E402


def _mpi_lines() -> list[str]:
    with open(casatasks.casalog.logfile(), encoding="utf-8", errors="replace") as fh:
        return [ln.rstrip() for ln in fh if "MPI server" in ln]


def reduce(mode: str) -> dict:
    from pipeline import recipereducer
    from pipeline.infrastructure import mpihelpers

    mpihelpers.USE_MPI = mode == "cluster"
    work = os.path.join(SPEC["work"], mode)
    os.makedirs(work)
    shutil.copy(SPEC["flux_csv"], os.path.join(work, "flux.csv"))
    seen = len(_mpi_lines())
    cwd = os.getcwd()
    os.chdir(work)
    try:
        context = recipereducer.reduce(vis=SPEC["vis"], procedure=SPEC["recipe"])
        results = [p.read() for p in context.results]
    finally:
        os.chdir(cwd)
    stages = {
        str(r.stage_number): {
            "stage": r.stage,
            "errors": list(r.errors),
            "records": [json_safe(s.record) for s in r.sections],
        }
        for r in results
        if hasattr(r, "sections")
    }
    return {
        "mpi_ready": mpihelpers.is_mpi_ready(),
        "stages": stages,
        "log": _mpi_lines()[seen:],
        "work": work,
    }


def main() -> None:
    from pipeline.infrastructure import mpihelpers

    import almacal.pipeline

    almacal.pipeline.register()
    out = {"servers": list(mpihelpers.mpi_server_list or [])}
    for mode in ("cluster", "serial"):
        out[mode] = reduce(mode)
        with open(SPEC["out"], "w", encoding="utf-8") as fh:
            json.dump(out, fh)
    mpihelpers.mpiclient.stop_services()


if __name__ == "__main__":
    main()
