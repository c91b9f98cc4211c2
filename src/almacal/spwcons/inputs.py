"""The per-spw fits spwconsistency works on, taken from a relcal_fit record (or its JSON)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

# Keys relcal_fit writes only with perspw=True (almacal.relcal.results.FitTable.to_record).
PER_SPW_KEYS = ("flux_spw", "flux_sigma_spw", "mcf_spw", "mcf_sigma_spw")
REQUIRED_KEYS = ("epoch", "date", "field", "spw", "spw_freq_hz", "mcf", "mcf_sigma")


@dataclass(frozen=True)
class PerSpwFits:
    """Fluxes and MCFs per epoch, calibrator and spw from one relcal_fit run.

    flux_spw, flux_sigma_spw, mcf_spw, mcf_sigma_spw : (n_epoch, n_cal, n_spw);
    mcf : (n_epoch, n_cal), the all-spw MCF (Eq. 1); spw_freq_hz : (n_spw,).
    """

    epochs: tuple[int, ...]
    dates: tuple[str, ...]
    fields: tuple[str, ...]
    spws: tuple[int, ...]
    spw_freq_hz: np.ndarray
    flux_spw: np.ndarray
    flux_sigma_spw: np.ndarray
    mcf_spw: np.ndarray
    mcf_sigma_spw: np.ndarray
    mcf: np.ndarray
    source: str = ""
    rfcf_excluded: tuple[dict, ...] = ()  # pairs relcal_fit left out of the rFCF, with reasons

    @property
    def shape(self) -> tuple[int, int, int]:
        n_e, n_c, n_s = self.mcf_spw.shape
        return n_e, n_c, n_s

    @classmethod
    def from_record(cls, rec: dict, source: str = "relcal_fit record") -> PerSpwFits:
        """Check a relcal_fit record and take what spwconsistency needs.

        Raises ValueError naming ``source`` when the record is not a relcal_fit
        result, has no per-spw fits (perspw=False), is inconsistent, or has
        fewer than 2 epochs, calibrators or spws.
        """
        _check_keys(rec, source)
        arrays = {k: _float_array(rec[k], k, source) for k in (*PER_SPW_KEYS, "mcf")}
        freq = _float_array(rec["spw_freq_hz"], "spw_freq_hz", source)
        spws = tuple(int(s) for s in rec["spw"])
        fields = tuple(str(f) for f in rec["field"])
        epochs = tuple(int(e) for e in rec["epoch"])
        shape = (len(epochs), len(fields), len(spws))
        _check_shapes(rec, arrays, freq, shape, source)
        _refuse_missing(arrays, epochs, fields, spws, source)
        if len(np.unique(freq)) < 2:
            raise ValueError(
                f"{source}: spws {list(spws)} all have frequency {freq[0]:.6g} Hz; a slope "
                "across the band needs at least two different spw frequencies"
            )
        return cls(
            epochs=epochs,
            dates=tuple(str(d) for d in rec["date"]),
            fields=fields,
            spws=spws,
            spw_freq_hz=freq,
            flux_spw=arrays["flux_spw"],
            flux_sigma_spw=arrays["flux_sigma_spw"],
            mcf_spw=arrays["mcf_spw"],
            mcf_sigma_spw=arrays["mcf_sigma_spw"],
            mcf=arrays["mcf"],
            source=source,
            rfcf_excluded=_rfcf_exclusions(rec, epochs, fields, source),
        )

    @classmethod
    def from_json(cls, path: str) -> PerSpwFits:
        """Read relcal_fit's outfile.json (FileNotFoundError / ValueError naming resultfile)."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"resultfile {path!r} does not exist")
        try:
            with open(path, encoding="utf-8") as fh:
                rec = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"resultfile {path!r} is not a JSON file: {err}") from None
        return cls.from_record(rec, source=f"resultfile {path!r}")


def _check_keys(rec: dict, source: str) -> None:
    if not isinstance(rec, dict) or rec.get("task", "relcal_fit") != "relcal_fit":
        task = rec.get("task") if isinstance(rec, dict) else type(rec).__name__
        raise ValueError(f"{source} is not a relcal_fit result (task={task!r})")
    missing = [k for k in REQUIRED_KEYS if k not in rec]
    if missing:
        raise ValueError(f"{source} is not a relcal_fit result: it lacks {missing}")
    if any(k not in rec for k in PER_SPW_KEYS):
        raise ValueError(
            f"{source} has no per-spw fits: run relcal_fit with perspw=True "
            f"(missing {[k for k in PER_SPW_KEYS if k not in rec]})"
        )


def _check_shapes(rec: dict, arrays: dict, freq: np.ndarray, shape: tuple, source: str) -> None:
    """Arrays (epoch, field, spw) as the lists say, one frequency per spw, two of each."""
    for k in PER_SPW_KEYS:
        if arrays[k].shape != shape:
            raise ValueError(
                f"{source}: {k} has shape {arrays[k].shape}, expected (epoch, field, spw) "
                f"= {shape} from its epoch, field and spw lists"
            )
    if arrays["mcf"].shape != shape[:2]:
        raise ValueError(f"{source}: mcf has shape {arrays['mcf'].shape}, expected {shape[:2]}")
    if freq.shape != (shape[2],) or not np.all(np.isfinite(freq) & (freq > 0)):
        raise ValueError(
            f"{source}: spw_freq_hz={freq.tolist()} must give one positive frequency "
            f"per spw {[int(s) for s in rec['spw']]}"
        )
    for name, n, what in (
        ("spw", shape[2], "spectral windows"),
        ("field", shape[1], "calibrators"),
        ("epoch", shape[0], "epochs"),
    ):
        if n < 2:
            raise ValueError(
                f"{source} has {n} {what} ({name}={rec[name]!r}); spwconsistency needs at least two"
            )


def _float_array(value, key: str, source: str) -> np.ndarray:
    """JSON null (NaN written by relcal_fit) becomes NaN; ragged lists are an error."""
    try:
        return np.array(_nulls_to_nan(value), dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: {key} is not a numeric (epoch, field[, spw]) array") from None


def _nulls_to_nan(value):
    if value is None:
        return np.nan
    if isinstance(value, list | tuple):
        return [_nulls_to_nan(v) for v in value]
    return value


def _refuse_missing(arrays: dict, epochs, fields, spws, source: str) -> None:
    """The decomposition needs every (epoch, calibrator, spw): name the first gap."""
    bad = ~np.isfinite(arrays["mcf_spw"]) | ~np.isfinite(arrays["mcf_sigma_spw"])
    bad |= ~(arrays["mcf_spw"] > 0) | ~(arrays["mcf_sigma_spw"] > 0)  # the fits weight by it
    bad |= ~np.isfinite(arrays["mcf"])[..., None]
    if bad.any():
        e, j, k = np.argwhere(bad)[0]
        raise ValueError(
            f"{source}: no usable per-spw MCF (finite, > 0, with an error > 0) for epoch "
            f"{epochs[e]}, field {fields[j]!r}, spw "
            f"{spws[k]} ({int(bad.sum())} missing in all); spwconsistency needs every "
            "calibrator in every epoch and spw: drop that field or epoch and rerun relcal_fit"
        )


def _rfcf_exclusions(rec: dict, epochs, fields, source: str) -> tuple[dict, ...]:
    """relcal_fit's exclusions (rejectsigma, minfamily, exclude) or else its `used` mask.

    They stay in the spw analysis: a normalized MCF, MCF_ijk / MCF_ij, does not depend
    on the calibrator's broadband flux in that epoch, so a flare or an outlier
    MCF cancels; the task logs them.
    """
    if rec.get("exclusions"):
        try:
            return tuple(
                {"epoch": int(e["epoch"]), "field": str(e["field"]), "reason": str(e["reason"])}
                for e in rec["exclusions"]
            )
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"{source}: exclusions must be a list of {{epoch, field, reason}}"
            ) from None
    if "used" not in rec:
        return ()
    try:
        used = np.array(rec["used"], dtype=bool)
    except (TypeError, ValueError):
        used = np.zeros(0, dtype=bool)
    if used.shape != (len(epochs), len(fields)):
        raise ValueError(
            f"{source}: used must be (epoch, field) = {(len(epochs), len(fields))} booleans"
        )
    return tuple(
        {"epoch": epochs[i], "field": fields[j], "reason": "not used in the rFCF"}
        for i, j in np.argwhere(~used)
    )
