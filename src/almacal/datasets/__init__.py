"""Simulated data sets written as measurement sets, with their truth beside them.

The models are almacal.simulate's (numpy only); this package builds the MSs with
casatools through almacal.io.simulator and almacal.io.b2b_simulator.

- :func:`simulate_epochs`: multi-epoch ACA Band 7 MSs of Serpens Main (seed 000)
- :func:`simulate_b2b`: a band-to-band (Band 7 + Band 3) MS with DGC blocks (seed 003)
"""

from almacal.datasets.b2b import simulate_b2b
from almacal.datasets.epochs import build_epoch_set, simulate_epochs

__all__ = ["build_epoch_set", "simulate_b2b", "simulate_epochs"]
