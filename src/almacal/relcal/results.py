"""relcal_fit results: a frozen dataclass, its plain-dict record, ECSV and JSON files."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from almacal.constants import DAY_S
from almacal.outputs import write_json
from almacal.relcal.choice import (
    USER_EXCLUSION,
    CalibratorChoice,
    choose_calibrators,
    fill_dropped,
    fill_sigma,
)
from almacal.relcal.cuts import CommonUvRange, LineChannels
from almacal.relcal.dates import utc_iso
from almacal.relcal.factors import EpochFactors, mean_correction_factors, relative_factors
from almacal.relcal.fluxfit import PointFit, fit_point
from almacal.relcal.posfit import PositionFit
from almacal.relcal.selfcal_plan import SelfcalReport
from almacal.relcal.usable import (
    exclusion_entries,
    first_reason,
    no_reasons,
    refuse_epochs_without_calibrator,
    weak_reasons,
)
from almacal.relcal.uvmodel import ModelFit, RatioCheck


@dataclass(frozen=True)
class Epoch:
    """One epoch: its MSs, the UTC date of its first calibrator row and the first and
    last TIME (MJD s) of its calibrator rows (relcal.dates; NaN when not known)."""

    number: int  # 1-based, in date order
    date: str  # ISO date, YYYY-MM-DD
    vis: tuple[str, ...]
    start_mjd_s: float = math.nan
    end_mjd_s: float = math.nan


@dataclass(frozen=True)
class FitTable:
    """Point fits and MCFs, (n_epoch, n_cal) or (n_epoch, n_cal, n_spw)."""

    fit: PointFit
    mcf: np.ndarray
    mcf_sigma: np.ndarray

    @classmethod
    def from_sums(cls, sums: np.ndarray, dropped: np.ndarray | None = None) -> FitTable:
        """sums : (n_epoch, n_cal[, n_spw], N_SUMS). Eq. 2 uses the chi^2-rescaled sigma."""
        return cls.from_fit(fit_point(sums), dropped)

    @classmethod
    def from_fit(cls, fit: PointFit, dropped: np.ndarray | None = None) -> FitTable:
        """MCFs of fitted fluxes; the fluxes of dropped (n_epoch, n_cal) pairs enter
        Eq. 1 as the other calibrators predict them (choice.fill_dropped); their own
        MCF is reported against the measured flux."""
        if dropped is None or not dropped.any():
            mcf, mcf_sigma = mean_correction_factors(fit.flux, fit.sigma_chi2)
            return cls(fit=fit, mcf=mcf, mcf_sigma=mcf_sigma)
        filled = fill_dropped(fit.flux, dropped)
        sigma = fill_sigma(filled, fit.sigma_chi2, fit.flux, dropped)
        mcf, mcf_sigma = mean_correction_factors(filled, sigma)
        # a dropped pair's own MCF: the calibrator's mean over its measured flux
        mcf = mcf * filled / fit.flux
        return cls(fit=fit, mcf=mcf, mcf_sigma=mcf_sigma)

    def to_record(self, suffix: str = "") -> dict[str, list]:
        f = self.fit
        cols = {
            "flux": f.flux,
            "flux_sigma": f.sigma_chi2,
            "flux_sigma_weights": f.sigma_weights,
            "chi2_red": f.chi2_red,
            "n_vis": f.n_vis,
            "mcf": self.mcf,
            "mcf_sigma": self.mcf_sigma,
        }
        return {k + suffix: v.tolist() for k, v in cols.items()}


@dataclass(frozen=True)
class Options:
    """The outcomes of relcal_fit's real-world options, each None when it was off.

    model : the model fit whose total flux is the flux of the MCFs (model != 'point'
    or fitposition); position : fitposition's offsets (its fit is model).
    """

    selfcal: SelfcalReport | None = None
    common_uv: CommonUvRange | None = None
    lines: LineChannels | None = None
    model: ModelFit | None = None
    position: PositionFit | None = None
    check: RatioCheck | None = None

    def to_record(self) -> dict:
        rec: dict = {}
        for part in (self.selfcal, self.common_uv, self.lines):
            if part is not None:
                rec.update(part.to_record())
        if self.position is not None:
            rec.update(self.position.to_record())
        elif self.model is not None:
            rec.update(self.model.to_record())
        if self.check is not None:
            rec.update(self.check.to_record())
        return rec


@dataclass(frozen=True)
class RelcalResult:
    """Everything relcal_fit measured; arrays are (n_epoch, n_cal[, n_spw])."""

    epochs: tuple[Epoch, ...]
    fields: tuple[str, ...]
    spws: tuple[int, ...]
    spw_freq_hz: tuple[float, ...]
    total: FitTable
    used: np.ndarray  # (n_epoch, n_cal) bool: MCFs averaged into the rFCF
    factors: EpochFactors
    per_spw: FitTable | None = None
    params: dict = field(default_factory=dict)
    choice: CalibratorChoice | None = None
    options: Options = field(default_factory=Options)
    exclusions: tuple[dict, ...] = ()  # every pair out of the rFCF, with its reason
    fit_status: np.ndarray | None = None  # (n_epoch, n_cal) 'ok' or why the fit is not one
    epoch_spw_freq_hz: np.ndarray | None = None  # (n_epoch, n_spw)

    @classmethod
    def compute(
        cls,
        *,
        epochs: tuple[Epoch, ...],
        fields: tuple[str, ...],
        spws: tuple[int, ...],
        spw_freq_hz: tuple[float, ...],
        sums: np.ndarray,
        excluded: np.ndarray,
        perspw: bool,
        params: dict,
        rejectsigma: float = 0.0,
        minfamily: int = 0,
        options: Options | None = None,
        unusable: np.ndarray | None = None,
        minfluxsnr: float = 0.0,
        epoch_spw_freq_hz: np.ndarray | None = None,
    ) -> RelcalResult:
        """sums : (n_epoch, n_cal, n_spw, N_SUMS); excluded : (n_epoch, n_cal) bool.

        The MCFs use the total flux of options.model when there is one, else the
        point fit of the sums; rejectsigma, minfamily : see relcal.choice. Pairs
        without data (unusable: their reasons, relcal.usable.data_reasons), whose model
        fit failed or whose flux is <= 0 or below minfluxsnr sigma leave the rFCF and
        Eq. 1 (relcal.usable); ValueError when an epoch is left without a calibrator.
        """
        options = options or Options()
        mf = options.model
        fit = fit_point(sums.sum(axis=2)) if mf is None else mf.total_fit()
        status = fit_status_reasons(mf, fit.flux.shape)
        reasons = _reasons(fit, status, unusable, minfluxsnr)
        plain = FitTable.from_fit(fit)
        choice, used, dropped, exclusions = _choose(
            fit, excluded, reasons, fields, rejectsigma, minfamily
        )
        used = used & np.isfinite(plain.mcf)
        total = plain if dropped is None else FitTable.from_fit(fit, dropped)
        refuse_epochs_without_calibrator(used, fit.flux, fit.sigma_chi2, exclusions, epochs, fields)
        return cls(
            epochs=epochs,
            fields=fields,
            spws=spws,
            spw_freq_hz=spw_freq_hz,
            total=total,
            used=used,
            factors=relative_factors(total.mcf, total.mcf_sigma, used),
            per_spw=FitTable.from_sums(sums, dropped) if perspw else None,
            params=params,
            choice=choice,
            options=options,
            exclusions=exclusions,
            fit_status=_fit_status(fit, status),
            epoch_spw_freq_hz=epoch_spw_freq_hz,
        )

    @property
    def rfcf(self) -> np.ndarray:
        return self.factors.rfcf

    def vis_factors(self) -> dict[str, float]:
        """rFCF for every MS, keyed by absolute path (what relcal_apply reads)."""
        return {
            os.path.abspath(v): float(r)
            for ep, r in zip(self.epochs, self.factors.rfcf, strict=True)
            for v in ep.vis
        }

    def to_record(self) -> dict:
        """Plain dict (lists, floats, strings) for CASA, the pipeline and JSON."""
        rec: dict = {
            "task": "relcal_fit",
            "epoch": [e.number for e in self.epochs],
            "date": [e.date for e in self.epochs],
            "start_utc": [utc_iso(e.start_mjd_s) for e in self.epochs],
            "end_utc": [utc_iso(e.end_mjd_s) for e in self.epochs],
            "start_mjd": [_mjd(e.start_mjd_s) for e in self.epochs],
            "end_mjd": [_mjd(e.end_mjd_s) for e in self.epochs],
            "vis": [list(e.vis) for e in self.epochs],
            "field": list(self.fields),
            "spw": list(self.spws),
            "spw_freq_hz": list(self.spw_freq_hz),
            "used": self.used.tolist(),
            "rfcf": self.factors.rfcf.tolist(),
            "rfcf_std": self.factors.rfcf_std.tolist(),
            "rfcf_sigma": self.factors.rfcf_sigma.tolist(),
            "n_used": self.factors.n_used.tolist(),
            "vis_factors": self.vis_factors(),
            "params": self.params,
            "exclusions": [dict(e) for e in self.exclusions],
        }
        if self.fit_status is not None:
            rec["fit_status"] = self.fit_status.tolist()
        if self.epoch_spw_freq_hz is not None:
            rec["epoch_spw_freq_hz"] = self.epoch_spw_freq_hz.tolist()
        f = self.total.fit
        with np.errstate(invalid="ignore", divide="ignore"):
            rec["flux_snr"] = (f.flux / f.sigma_chi2).tolist()
        rec.update(self.total.to_record())
        if self.per_spw is not None:
            rec.update(self.per_spw.to_record("_spw"))
        if self.choice is not None:
            rec.update(self.choice.to_record())
        rec.update(self.options.to_record())
        return rec

    def summary(self) -> str:
        return ", ".join(
            "%d:%.4f+-%.4f" % (e.number, r, s)
            for e, r, s in zip(self.epochs, self.factors.rfcf, self.factors.rfcf_sigma, strict=True)
        )

    def to_table(self):
        """astropy Table, one row per epoch and calibrator."""
        from astropy.table import Table

        n_ep, n_cal = self.total.mcf.shape
        ep_idx = np.repeat(np.arange(n_ep), n_cal)
        cal_idx = np.tile(np.arange(n_cal), n_ep)
        f = self.total.fit
        t = Table()
        t["epoch"] = [self.epochs[i].number for i in ep_idx]
        t["date"] = [self.epochs[i].date for i in ep_idx]
        t["vis"] = [",".join(os.path.basename(v) for v in self.epochs[i].vis) for i in ep_idx]
        t["field"] = [self.fields[j] for j in cal_idx]
        t["flux"] = f.flux.ravel()
        t["flux"].unit = "Jy"
        t["flux_sigma"] = f.sigma_chi2.ravel()
        t["flux_sigma"].unit = "Jy"
        t["flux_sigma_weights"] = f.sigma_weights.ravel()
        t["flux_sigma_weights"].unit = "Jy"
        t["chi2_red"] = f.chi2_red.ravel()
        t["n_vis"] = f.n_vis.ravel()
        t["mcf"] = self.total.mcf.ravel()
        t["mcf_sigma"] = self.total.mcf_sigma.ravel()
        t["used_in_rfcf"] = self.used.ravel()
        t["rfcf"] = self.factors.rfcf[ep_idx]
        t["rfcf_std"] = self.factors.rfcf_std[ep_idx]
        t["rfcf_sigma"] = self.factors.rfcf_sigma[ep_idx]
        pos = self.options.position
        if pos is not None:  # fitposition: offsets east and north on the sky
            for col, value in (
                ("dra", pos.dra_arcsec),
                ("dra_sigma", pos.dra_sigma_arcsec),
                ("ddec", pos.ddec_arcsec),
                ("ddec_sigma", pos.ddec_sigma_arcsec),
            ):
                t[col] = np.asarray(value, dtype=float).ravel()
                t[col].unit = "arcsec"
        if self.per_spw is not None:
            n_spw = len(self.spws)
            p = self.per_spw
            t["flux_spw"] = p.fit.flux.reshape(-1, n_spw)
            t["flux_spw"].unit = "Jy"
            t["flux_sigma_spw"] = p.fit.sigma_chi2.reshape(-1, n_spw)
            t["flux_sigma_spw"].unit = "Jy"
            t["mcf_spw"] = p.mcf.reshape(-1, n_spw)
            t["mcf_sigma_spw"] = p.mcf_sigma.reshape(-1, n_spw)
        t.meta["spw"] = list(self.spws)
        t.meta["spw_freq_hz"] = list(self.spw_freq_hz)
        t.meta["description"] = "relcal_fit: point-source fluxes, MCF (Eq. 1-2), rFCF (Eq. 3)"
        return t


def _reasons(
    fit: PointFit, status: np.ndarray, unusable: np.ndarray | None, minfluxsnr: float
) -> np.ndarray:
    """Why each pair is unusable (relcal.usable): no data, a failed fit, a weak flux."""
    return first_reason(
        no_reasons(fit.flux.shape) if unusable is None else unusable,
        np.where(status == "", "", "fit: " + status.astype(str)),
        weak_reasons(fit.flux, fit.sigma_chi2, minfluxsnr),
    )


def _fit_status(fit: PointFit, status: np.ndarray) -> np.ndarray:
    """'ok', the fit's problem, or 'not fitted (no data)' per pair."""
    fitted = np.isfinite(fit.flux) | (status != "")
    return np.where(fitted, np.where(status == "", "ok", status), "not fitted (no data)")


def _choose(
    fit: PointFit,
    excluded: np.ndarray,
    reasons: np.ndarray,
    fields: tuple[str, ...],
    rejectsigma: float,
    minfamily: int,
) -> tuple[CalibratorChoice | None, np.ndarray, np.ndarray | None, tuple[dict, ...]]:
    """(choice or None, used, dropped or None, exclusions): relcal.choice when rejectsigma
    or minfamily asks for it, else only the user's and the unusable pairs are out."""
    if not (rejectsigma > 0 or minfamily > 0):
        return (None, *_without_choice(fit, excluded, reasons, fields))
    choice = choose_calibrators(
        fit.flux,
        fit.sigma_chi2,
        excluded=excluded,
        fields=fields,
        rejectsigma=rejectsigma,
        minfamily=minfamily,
        unusable=reasons,
    )
    return choice, choice.used, choice.dropped, choice.exclusions


def _without_choice(
    fit: PointFit, excluded: np.ndarray, reasons: np.ndarray, fields: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray | None, tuple[dict, ...]]:
    """(used, dropped or None, exclusions) without rejectsigma and minfamily: the
    unusable pairs are dropped, the user's excluded ones only leave Eq. 3."""
    bad = reasons != ""
    exclusions = tuple(user_exclusions(excluded & ~bad, fit, fields))
    return (
        ~excluded & ~bad,
        (bad if bad.any() else None),
        exclusions + tuple(exclusion_entries(reasons, fields)),
    )


def _mjd(mjd_s: float) -> float | None:
    return mjd_s / DAY_S if math.isfinite(mjd_s) else None


def fit_status_reasons(model: ModelFit | None, shape: tuple[int, ...]) -> np.ndarray:
    """(n_epoch, n_cal) the model fit's problems ('' = none); the point fit is linear."""
    if model is None or model.status.shape != shape:
        return no_reasons(shape)
    return np.asarray(model.status, dtype=object)


def user_exclusions(excluded: np.ndarray, fit: PointFit, fields: tuple[str, ...]) -> list[dict]:
    """The user's exclude entries with a flux (those without one have their own reason)."""
    have = np.isfinite(fit.flux) & np.isfinite(fit.sigma_chi2)
    return [
        {"epoch": int(i) + 1, "field": fields[j], "reason": USER_EXCLUSION}
        for i, j in zip(*np.nonzero(excluded & have), strict=True)
    ]


def output_paths(outfile: str) -> dict[str, str]:
    """The files relcal_fit writes for an output stem."""
    return {ext: f"{outfile}.{ext}" for ext in ("ecsv", "json", "png")}


def write_outputs(result: RelcalResult, paths: Mapping[str, str]) -> None:
    """Write ECSV, JSON and PNG to paths (output_paths' keys; the task stages them)."""
    from almacal.relcal.plot import plot_factors

    result.to_table().write(paths["ecsv"], format="ascii.ecsv", overwrite=True)
    write_json(paths["json"], result.to_record())
    plot_factors(result, paths["png"])
