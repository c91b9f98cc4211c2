"""Band-to-band (B2B) phase referencing: the pure core of b2b_phasetransfer.

numpy only (seed 003, Maud et al.): the observation's structure (DGC scans,
blocks, spw map), phase scaling and ambiguity resolution, circular
statistics, coherence and the DGC loss fit, and the B2B / in-band planner.
CASA calls live in :mod:`almacal.io.b2b_calls`, reached through
:class:`almacal.b2b.calls.CasaCalls`; :mod:`almacal.b2b.run` is the task's sequence.
"""
