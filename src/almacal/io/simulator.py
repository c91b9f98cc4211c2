"""casatools side of the simulated data sets (almacal.datasets): build an empty MS
with the simulator tool, then rewrite its columns in row chunks with the table tool.

The model maths is in almacal.simulate. Every tool is created per call and closed
in a finally. The tool context managers, epoch_string and check_step are shared
with almacal.io.b2b_simulator (a second MS layout built the same way).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from almacal.casatask.log import casalog
from almacal.io.msinfo import read_ms_info
from almacal.io.tables import CHUNK_BYTES, casatools, opened_table

if TYPE_CHECKING:
    from almacal.simulate import AntennaConfig, FieldModel, ScanPlan

ORIGIN = "simulate_epochs"

SIDEREAL_DAY_S = 86164.0905

READ_COLUMNS = ("UVW", "FIELD_ID", "DATA_DESC_ID", "TIME", "ANTENNA1", "ANTENNA2", "SCAN_NUMBER")

# Tiles of ~1 MiB: whole rows of (corr, chan), read fast in row chunks.
TILE_BYTES = 2**20

# casatools' simulator adds these; a split pipeline product carries DATA only.
SCRATCH_COLUMNS = ("MODEL_DATA", "CORRECTED_DATA")


@dataclass(frozen=True)
class MsLayout:
    """What the chunked rewrite needs from an MS built by observe().

    times : (n_time,) sorted unique TIME values; ddid_spw : (n_ddid,).
    """

    field_names: tuple[str, ...]
    spw_names: tuple[str, ...]
    ddid_spw: np.ndarray
    times: np.ndarray
    n_antenna: int
    n_row: int
    n_corr: int
    n_chan: int


@contextmanager
def simulator_tool() -> Iterator[Any]:
    sm = casatools().simulator()
    try:
        yield sm
    finally:
        sm.done()


@contextmanager
def measures_tools() -> Iterator[tuple[Any, Any]]:
    me = casatools().measures()
    qa = casatools().quanta()
    try:
        yield me, qa
    finally:
        me.done()
        qa.done()


def post(message: str, *args: Any, priority: str = "INFO") -> None:
    """casalog.post with %-style arguments."""
    casalog.post(message % args if args else message, priority, ORIGIN)


def remove_ms(path: str) -> None:
    """Delete an MS directory (overwrite=True)."""
    shutil.rmtree(path)


def epoch_string(date: str, hms: str = "12:00:00") -> str:
    """'2018-10-14' -> '2018/10/14/12:00:00' (measures' date format)."""
    return f"{date.replace('-', '/')}/{hms}"


def transit_utc_seconds(date: str, ra_deg: float, dec_deg: float) -> float:
    """Seconds after 00:00 UTC of the ALMA transit nearest to noon UTC on date.

    With usehourangle=True the simulator places hour angles around the transit
    of the first field nearest to its reference time (checked: a 00:00 UTC
    reference on 2018-10-14 gives 2018-10-13 21:31), so the reference is noon
    and the transit lies on the date itself.
    """
    with measures_tools() as (me, qa):
        me.doframe(me.observatory("ALMA"))
        me.doframe(me.epoch("UTC", epoch_string(date)))
        direction = me.direction("J2000", qa.quantity(ra_deg, "deg"), qa.quantity(dec_deg, "deg"))
        hadec = me.measure(direction, "HADEC")
        ha_rad = float(qa.convert(hadec["m0"], "rad")["value"])
    ha_rad = math.remainder(ha_rad, 2.0 * math.pi)
    return 43200.0 - ha_rad / (2.0 * math.pi) * SIDEREAL_DAY_S


def observe(
    path: str,
    *,
    antennas: AntennaConfig,
    fields: Sequence[FieldModel],
    spw_names: Sequence[str],
    chan_freq_hz: np.ndarray,
    channel_width_hz: float,
    correlations: str,
    date: str,
    integration_s: float,
    scans: Sequence[ScanPlan],
    obs_mode: str,
    project: str,
    field_obs_mode: Mapping[str, str] | None = None,
) -> None:
    """Create the MS at path: ACA pads, spws, XX/YY feeds, fields and scans.

    field_obs_mode : STATE OBS_MODE of the named fields' scans (others: obs_mode).

    chan_freq_hz : (n_spw, n_chan). One observe call per (scan, spw), in scan
    order; the simulator gives each call its own SCAN_NUMBER. No
    autocorrelations (setauto weight 0). DATA, MODEL_DATA and CORRECTED_DATA
    come back zero with unit weights.
    """
    coordsystem = "local" if antennas.coordsys.startswith("LOC") else "global"
    with measures_tools() as (me, qa), simulator_tool() as sm:
        check_step(sm.open(path), "open", path)
        set_alma_config(sm, me, antennas, antennas.names, coordsystem, path)
        set_spw_windows(sm, qa, spw_names, chan_freq_hz, channel_width_hz, correlations, path)
        set_fields_and_times(sm, me, qa, fields, integration_s, date, path)
        for scan in scans:
            for name in spw_names:
                check_step(
                    sm.observe(
                        sourcename=scan.field,
                        spwname=name,
                        starttime=qa.quantity(scan.start_ha_s, "s"),
                        stoptime=qa.quantity(scan.stop_ha_s, "s"),
                        state_obs_mode=(field_obs_mode or {}).get(scan.field, obs_mode),
                        observer="almacal.simulate",
                        project=project,
                    ),
                    "observe",
                    path,
                )


def set_alma_config(
    sm: Any, me: Any, antennas: Any, names: Sequence[str], coordsystem: str, path: str
) -> None:
    """ALMA pads (antennas: x, y, z, diameter_m, pad) named names, ALT-AZ mounts."""
    check_step(
        sm.setconfig(
            telescopename="ALMA",
            x=list(antennas.x),
            y=list(antennas.y),
            z=list(antennas.z),
            dishdiameter=list(antennas.diameter_m),
            mount=["ALT-AZ"],
            antname=list(names),
            padname=list(antennas.pad),
            coordsystem=coordsystem,
            referencelocation=me.observatory("ALMA"),
        ),
        "setconfig",
        path,
    )


def set_spw_windows(
    sm: Any,
    qa: Any,
    names: Sequence[str],
    chan_freq_hz: Any,
    channel_width_hz: float,
    stokes: str,
    path: str,
) -> None:
    """One TOPO spectral window per name, its channels starting at chan_freq_hz[i][0]."""
    for name, freq in zip(names, chan_freq_hz, strict=True):
        check_step(
            sm.setspwindow(
                spwname=name,
                freq=qa.quantity(float(freq[0]), "Hz"),
                deltafreq=qa.quantity(channel_width_hz, "Hz"),
                freqresolution=qa.quantity(channel_width_hz, "Hz"),
                refcode="TOPO",
                nchannels=int(freq.size),
                stokes=stokes,
            ),
            "setspwindow",
            path,
        )


def set_fields_and_times(
    sm: Any,
    me: Any,
    qa: Any,
    fields: Sequence[Any],
    integration_s: float,
    date: str,
    path: str,
) -> None:
    """Linear feeds, the fields (anything with name, ra_deg, dec_deg), no autocorrelations,
    and integration times referenced to hour angles on date."""
    check_step(sm.setfeed(mode="perfect X Y", pol=[""]), "setfeed", path)
    for f in fields:
        # The simulator stores FIELD directions in J2000 and converts an ICRS
        # input (checked: +15 mas in RA). Table 1's ICRS numbers go in as J2000
        # so the MS holds them exactly; the frame bias is nothing at 4 arcsec.
        direction = me.direction(
            "J2000", qa.quantity(f.ra_deg, "deg"), qa.quantity(f.dec_deg, "deg")
        )
        check_step(sm.setfield(sourcename=f.name, sourcedirection=direction), "setfield", path)
    check_step(sm.setauto(autocorrwt=0.0), "setauto", path)
    check_step(
        sm.settimes(
            integrationtime=qa.quantity(integration_s, "s"),
            usehourangle=True,
            referencetime=me.epoch("UTC", epoch_string(date)),
        ),
        "settimes",
        path,
    )


def check_step(ok: Any, step: str, path: str) -> None:
    """The simulator tool returns False on failure: raise, naming the step and the MS."""
    if ok is False:
        raise RuntimeError(f"casatools simulator {step} failed while building {path!r}")


def read_layout(path: str) -> MsLayout:
    """Field and spw names, DDID -> spw, unique times and shapes, from the MS model."""
    info = read_ms_info(path)
    with opened_table(path) as tb:
        n_row = int(tb.nrows())
    times = np.unique(np.concatenate(list(info.scan_times.values()) or [np.zeros(0)]))
    return MsLayout(
        field_names=info.field_names,
        spw_names=tuple(s.name for s in info.spws),
        ddid_spw=np.asarray(info.ddid_spw, dtype=int),
        times=times,
        n_antenna=len(info.antenna_names),
        n_row=n_row,
        n_corr=max(c.size for c in info.corr_types),
        n_chan=max(s.n_chan for s in info.spws),
    )


def _add_tiled_column(
    tb: Any, name: str, value_type: str, comment: str, *, cell: tuple[int, int], tile_rows: int
) -> None:
    """Add a (corr, chan) array column with its own TiledShapeStMan."""
    group = f"Tiled{name}"
    desc = {
        name: {
            "comment": comment,
            "dataManagerGroup": group,
            "dataManagerType": "TiledShapeStMan",
            "keywords": {},
            "maxlen": 0,
            "ndim": 2,
            "option": 0,
            "valueType": value_type,
        }
    }
    dminfo = {
        "NAME": group,
        "TYPE": "TiledShapeStMan",
        "SPEC": {"DEFAULTTILESHAPE": np.array([cell[0], cell[1], tile_rows])},
        "COLUMNS": np.array([name]),
    }
    tb.addcols(desc, dminfo)


def _tile_rows(n_row: int, cell: tuple[int, int], itemsize: int) -> int:
    return int(max(1, min(n_row, TILE_BYTES // (cell[0] * cell[1] * itemsize))))


def finish_columns(
    path: str,
    rewrite: Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]],
    *,
    weight_spectrum: bool,
    chunk_bytes: int = CHUNK_BYTES,
) -> int:
    """Drop the scratch columns, optionally add WEIGHT_SPECTRUM, then for each
    chunk of rows read READ_COLUMNS, call rewrite and put what it returns.

    Returns the number of flags the simulator had set (shadowing, elevation)
    before rewrite replaced them.
    """
    layout = read_layout(path)
    chunk_rows = max(1, chunk_bytes // (16 * layout.n_corr * layout.n_chan))
    n_flagged = 0
    with opened_table(path, writable=True) as tb:
        # DATA is recreated too: the simulator tiles it (4, 100, 100), which pads
        # 128 channels to 200 and makes the file 1.56x larger than the data.
        old = [c for c in ("DATA", *SCRATCH_COLUMNS, "WEIGHT_SPECTRUM") if c in tb.colnames()]
        tb.removecols(old)
        cell = (layout.n_corr, layout.n_chan)
        _add_tiled_column(
            tb,
            "DATA",
            "complex",
            "The data column",
            cell=cell,
            tile_rows=_tile_rows(layout.n_row, cell, 8),
        )
        if weight_spectrum:
            _add_tiled_column(
                tb,
                "WEIGHT_SPECTRUM",
                "float",
                "Weight for each data point",
                cell=cell,
                tile_rows=_tile_rows(layout.n_row, cell, 4),
            )
        for start in range(0, layout.n_row, chunk_rows):
            n = min(chunk_rows, layout.n_row - start)
            cols = {c: tb.getcol(c, start, n) for c in READ_COLUMNS}
            n_flagged += int(np.count_nonzero(tb.getcol("FLAG", start, n)))
            for name, value in rewrite(cols).items():
                tb.putcol(name, value, start, n)
    if n_flagged:
        post(
            "%s: the simulator flagged %d samples; now unflagged", path, n_flagged, priority="WARN"
        )
    return n_flagged


def rename_fields(path: str, renames: Mapping[str, str]) -> None:
    """FIELD and SOURCE NAME: every row named old becomes new (simulate.archive)."""
    if not renames:
        return
    for sub in ("FIELD", "SOURCE"):
        with opened_table(f"{path}/{sub}", writable=True) as tb:
            if tb.nrows() == 0:
                continue
            names = [str(n) for n in tb.getcol("NAME")]
            tb.putcol("NAME", np.array([renames.get(n, n) for n in names]))


def observation_time_range(path: str) -> np.ndarray:
    """OBSERVATION TIME_RANGE (2, n_obs), MJD seconds."""
    with opened_table(f"{path}/OBSERVATION") as tb:
        return np.asarray(tb.getcol("TIME_RANGE"), dtype=float)


def set_observation_time_range(path: str, time_range: np.ndarray) -> None:
    """Write TIME_RANGE into every OBSERVATION row (as split leaves the parent's)."""
    with opened_table(f"{path}/OBSERVATION", writable=True) as tb:
        n = tb.nrows()
        tb.putcol("TIME_RANGE", np.repeat(np.asarray(time_range)[:, :1], n, axis=1))


def split_field_into_pointings(
    path: str,
    field: str,
    offsets_rad: np.ndarray,
    pointing_of: Callable[[np.ndarray], np.ndarray],
) -> None:
    """Add a FIELD row per extra pointing (a copy of field's row, every column, with
    PHASE_DIR, DELAY_DIR and REFERENCE_DIR moved by offsets_rad (n, 2) (RA, Dec) rad;
    pointing 0 keeps the row) and move field's main rows: pointing_of(TIME) gives each
    row its pointing."""
    with opened_table(f"{path}/FIELD", writable=True) as tb:
        fid = [str(n) for n in tb.getcol("NAME")].index(field)
        first_new = tb.nrows()
        tb.addrows(len(offsets_rad) - 1)
        for k, (dra, ddec) in enumerate(offsets_rad[1:]):
            for col in tb.colnames():
                value = tb.getcell(col, fid)
                if col in ("PHASE_DIR", "DELAY_DIR", "REFERENCE_DIR"):
                    value = np.array(value, dtype=float)
                    value[0, 0] += dra
                    value[1, 0] += ddec
                tb.putcell(col, first_new + k, value)
    new_ids = np.r_[fid, first_new + np.arange(len(offsets_rad) - 1)]
    # the rows of one field of a test-size MS: read whole
    with opened_table(path, f"FIELD_ID == {fid}", writable=True) as sub:
        times = sub.getcol("TIME")
        sub.putcol("FIELD_ID", new_ids[pointing_of(times)].astype(np.int32))
