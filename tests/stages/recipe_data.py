"""The grid-calibrator files a recipe on simulated EBs needs (tests/stages, tests/mpi):
flux.csv as hifa_importdata writes it, stale, and the catalog that holds the truth."""

from __future__ import annotations

import csv
import os

from tests.casa import test_gridflux_check as gridflux_data


def stale_flux_csv(path: str, paths) -> None:
    """flux.csv as hifa_importdata writes it, every EB's grid calibrator rows stale."""
    rows: list[list[str]] = []
    for vis in paths:
        one = path + ".one"
        gridflux_data._pipeline_flux_csv(one, vis)
        with open(one) as fh:
            got = list(csv.reader(fh))
        rows += got if not rows else got[1:]
        os.remove(one)
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def catalog_file(path: str, paths) -> None:
    """The catalog now: the truth near each EB's date (and the stale older values)."""
    lines: list[str] = []
    for vis in paths:
        gridflux_data._catalog_file(path, gridflux_data._eb(vis).obs_date)
        with open(path) as fh:
            got = fh.read().splitlines()
        lines += got if not lines else got[1:]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
