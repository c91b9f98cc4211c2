"""spwconsistency result: a frozen dataclass, its plain-dict record, ECSV, JSON and PNG files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from almacal.outputs import write_json
from almacal.spwcons.decompose import Decomposition, decompose
from almacal.spwcons.inputs import PerSpwFits
from almacal.spwcons.montecarlo import AlphaNull, p_any_of, simulate_alpha
from almacal.spwcons.normalize import normalized_mcfs
from almacal.spwcons.pipeline_qa import SpectralConsistency, spectral_consistency
from almacal.spwcons.powerlaw import PowerLaw, fit_power_law
from almacal.spwcons.spindex import sigma_alpha, table5_sigma_alpha


@dataclass(frozen=True)
class SpwConsistencyResult:
    """Everything spwconsistency measured; arrays are (n_epoch, n_cal, n_spw) unless noted."""

    fits: PerSpwFits
    norm: np.ndarray
    norm_sigma: np.ndarray
    decomposition: Decomposition
    powerlaws: tuple[PowerLaw, ...]
    null: AlphaNull  # all epochs' sigma_spw and sigma_fit (Fig. 5)
    epoch_nulls: tuple[AlphaNull, ...]  # per epoch, from the other epochs' sigmas
    p_one: np.ndarray  # (n_epoch,) P(|alpha| >= |alpha_i|) for one epoch, MC
    p_one_sided: np.ndarray  # (n_epoch,) P(alpha >= alpha_i), same sign, MC
    p_all: np.ndarray  # (n_epoch,) the same for any of the n_epoch epochs
    consistency: SpectralConsistency
    siglevel: float
    params: dict = field(default_factory=dict)

    @classmethod
    def compute(
        cls, fits: PerSpwFits, *, nboot: int, nmc: int, seed: int, siglevel: float, params: dict
    ) -> SpwConsistencyResult:
        """Sect. 3.4 from one relcal_fit run. seed feeds one generator: bootstrap, then MC.

        Each epoch's alpha and spectral consistency are judged against sigma_spw and
        sigma_fit of the other epochs (Decomposition.leave_one_out), so that one bad
        epoch cannot hide itself by inflating sigma_spw; the all-epoch null is Fig. 5.
        """
        rng = np.random.default_rng(seed)
        norm, norm_sigma = normalized_mcfs(fits.mcf_spw, fits.mcf_sigma_spw, fits.mcf)
        dec = decompose(norm, norm_sigma)
        n_e, n_c, _ = norm.shape
        powerlaws = tuple(
            fit_power_law(fits.spw_freq_hz, norm[i], norm_sigma[i], nboot=nboot, rng=rng)
            for i in range(n_e)
        )
        spw_others, fit_others = dec.leave_one_out()
        null, *epoch_nulls = (
            simulate_alpha(
                freq_hz=fits.spw_freq_hz,
                sigma_spw=float(s_spw),
                sigma_fit=float(s_fit),
                n_cal=n_c,
                n_mc=nmc,
                rng=rng,
                noise_pattern=pattern,
            )
            for s_spw, s_fit, pattern in [
                (dec.sigma_spw, dec.fit.sigma, _noise_pattern(norm_sigma)),
                *zip(
                    spw_others, fit_others, _noise_pattern(norm_sigma, per_epoch=True), strict=True
                ),
            ]
        )
        alpha = np.array([p.alpha for p in powerlaws])
        p_one = np.array([n.p_one(a)[0] for n, a in zip(epoch_nulls, alpha, strict=True)])
        p_one_sided = np.array(
            [n.p_one(a, two_sided=False)[0] for n, a in zip(epoch_nulls, alpha, strict=True)]
        )
        return cls(
            fits=fits,
            norm=norm,
            norm_sigma=norm_sigma,
            decomposition=dec,
            powerlaws=powerlaws,
            null=null,
            epoch_nulls=tuple(epoch_nulls),
            p_one=p_one,
            p_one_sided=p_one_sided,
            p_all=p_any_of(p_one, n_e),
            consistency=spectral_consistency(
                fits.flux_spw, fits.flux_sigma_spw, sigma_spw=spw_others, sigma_fit=fit_others
            ),
            siglevel=siglevel,
            params=params,
        )

    @property
    def slope_flagged(self) -> np.ndarray:
        """(n_epoch,) alpha too large for fit noise and sigma_spw, even allowing for N epochs."""
        return self.p_all < self.siglevel

    def spectral_index_sigma(self) -> dict:
        """Sect. 4.1 for these data: sigma_alpha between the outer spws at sigma_F = sigma_spw."""
        f = self.fits.spw_freq_hz
        nu1, nu2 = float(f.min()), float(f.max())
        dec = self.decomposition
        return {
            "nu1_hz": nu1,
            "nu2_hz": nu2,
            "sigma_f": dec.sigma_spw,
            "sigma_alpha": float(sigma_alpha(dec.sigma_spw, nu1, nu2)),
            "sigma_f_upper95": dec.sigma_spw_upper,
            "sigma_alpha_upper95": float(sigma_alpha(dec.sigma_spw_upper, nu1, nu2)),
            "table5_sigma_alpha": {str(b): v for b, v in table5_sigma_alpha(dec.sigma_spw).items()},
        }

    def qa(self) -> dict[str, float]:
        """Scores in [0, 1]: 1 good, 0.75 warning, 0.5 poor (pipeline convention)."""
        c = self.consistency
        return {
            "pipeline_spectral_consistency": float(c.pipeline_score.min()),
            "spectral_consistency": float(c.fine_score.min()),
            "spectral_slope": 0.5 if self.slope_flagged.any() else 1.0,
        }

    def to_record(self) -> dict:
        """Plain dict (lists, floats, strings, bools) for CASA, the pipeline and JSON."""
        f, c = self.fits, self.consistency
        pl = {k: [p.to_record()[k] for p in self.powerlaws] for k in self.powerlaws[0].to_record()}
        return {
            "task": "spwconsistency",
            "source": f.source,
            "epoch": list(f.epochs),
            "date": list(f.dates),
            "field": list(f.fields),
            "spw": list(f.spws),
            "spw_freq_hz": f.spw_freq_hz.tolist(),
            "rfcf_excluded": [dict(e) for e in f.rfcf_excluded],
            "norm_mcf": self.norm.tolist(),
            "norm_mcf_sigma": self.norm_sigma.tolist(),
            "residual": self.decomposition.residual.tolist(),
            "spw_mean": self.decomposition.spw_mean.tolist(),
            "decomposition": self.decomposition.to_record(),
            "powerlaw": pl,
            "montecarlo": self.null.to_record()
            | {
                "sigma_alpha_epoch": [n.sigma_alpha for n in self.epoch_nulls],
                "sigma_spw_others": [n.sigma_spw for n in self.epoch_nulls],
                "sigma_fit_others": [n.sigma_fit for n in self.epoch_nulls],
                "p_one": self.p_one.tolist(),
                "p_one_sided": self.p_one_sided.tolist(),
                "p_all_epochs": self.p_all.tolist(),
                "siglevel": self.siglevel,
                "slope_flagged": self.slope_flagged.tolist(),
            },
            "pipeline_qa": {
                "k_spw": c.k_spw.tolist(),
                "ref_spw": [[f.spws[k] for k in row] for row in c.ref_spw],
                "max_deviation": c.pipeline_deviation.tolist(),
                "score": c.pipeline_score.tolist(),
            },
            "fine_qa": {
                "k_spw": c.fine_k.tolist(),
                "ref_spw": [f.spws[k] for k in c.fine_ref_spw],
                "sigma_k": np.asarray(c.sigma_k).tolist(),
                "z": c.fine_z.tolist(),
                "score": c.fine_score.tolist(),
                "verdict": c.verdicts(),
            },
            "spectral_index_sigma": self.spectral_index_sigma(),
            "qa": self.qa(),
            "params": self.params,
        }

    def summary_lines(self) -> list[str]:
        """What the task logs: the decomposition, one line per epoch, the QA."""
        d = self.decomposition
        spw = (
            "sigma_spw = %.3f +- %.3f %%" % (100 * d.sigma_spw, 100 * d.sigma_spw_error)
            if d.spw_error_detected
            else "sigma_spw consistent with 0 (< %.3f %%, 95 %%)" % (100 * d.sigma_spw_upper)
        )
        lines = [
            "normalized MCFs: sigma_total = %.3f +- %.3f %%, "
            "sigma_fit = %.3f +- %.3f %% (Eq. 4), %s (Eq. 5); "
            "histogram widths %.3f / %.3f / %.3f %%"
            % (
                100 * d.total.sigma,
                100 * d.total.error,
                100 * d.fit.sigma,
                100 * d.fit.error,
                spw,
                100 * d.width_total.sigma,
                100 * d.width_fit.sigma,
                100 * d.width_spw.sigma,
            )
        ]
        lines += [self._epoch_line(i) for i in range(len(self.powerlaws))]
        s = self.spectral_index_sigma()
        lines.append(
            "Monte Carlo (%d draws): sigma_alpha = %.3f; in-band spectral index error between "
            "%.2f and %.2f GHz at sigma_F = sigma_spw: %.3f"
            % (
                self.null.alpha.size,
                self.null.sigma_alpha,
                s["nu1_hz"] / 1e9,
                s["nu2_hz"] / 1e9,
                s["sigma_alpha"],
            )
        )
        lines.append("QA: %s" % ", ".join("%s=%.2f" % kv for kv in self.qa().items()))
        return lines

    def _epoch_line(self, i: int) -> str:
        p, c = self.powerlaws[i], self.consistency
        return (
            "epoch %d %s: alpha = %+.3f +- %.3f (bootstrap %+.3f +%.3f -%.3f), MC sigma_alpha "
            "%.3f, P(|alpha|>=obs) = %.4f one epoch, %.4f any of %d%s; "
            "pipeline QA %.2f, fine QA %.2f (%s)"
            % (
                self.fits.epochs[i],
                self.fits.dates[i],
                p.alpha,
                p.alpha_error,
                p.alpha_boot,
                p.alpha_boot_plus,
                p.alpha_boot_minus,
                self.epoch_nulls[i].sigma_alpha,
                self.p_one[i],
                self.p_all[i],
                len(self.powerlaws),
                "  FLAGGED: frequency-dependent flux error" if self.slope_flagged[i] else "",
                c.pipeline_score[i].min(),
                c.fine_score[i],
                c.verdicts()[i],
            )
        )

    def point_table(self):
        """astropy Table, one row per epoch, calibrator and spw."""
        from astropy.table import Table

        f = self.fits
        n_e, n_c, n_s = self.norm.shape
        e, j, k = (a.ravel() for a in np.indices((n_e, n_c, n_s)))
        t = Table()
        t["epoch"] = np.array(f.epochs)[e]
        t["date"] = np.array(f.dates)[e]
        t["field"] = np.array(f.fields)[j]
        t["spw"] = np.array(f.spws)[k]
        t["freq"] = f.spw_freq_hz[k] / 1e9
        t["freq"].unit = "GHz"
        t["flux_spw"] = f.flux_spw.ravel()
        t["flux_spw"].unit = "Jy"
        t["flux_sigma_spw"] = f.flux_sigma_spw.ravel()
        t["flux_sigma_spw"].unit = "Jy"
        t["mcf_spw"] = f.mcf_spw.ravel()
        t["mcf"] = f.mcf[e, j]
        t["norm_mcf"] = self.norm.ravel()
        t["norm_mcf_sigma"] = self.norm_sigma.ravel()
        t["residual"] = self.decomposition.residual.ravel()
        t["spw_mean"] = self.decomposition.spw_mean[e, k]
        t["k_spw"] = self.consistency.k_spw.ravel()
        t.meta["description"] = (
            "spwconsistency: normalized MCFs (seed 000 Sect. 3.4), Eq. 4 residuals, "
            "Eq. 5 calibrator means, pipeline K_spw (seed 004)"
        )
        t.meta["decomposition"] = self.decomposition.to_record()
        return t

    def epoch_table(self):
        """astropy Table, one row per epoch: power law, Monte Carlo probabilities, QA."""
        from astropy.table import Table

        t = Table()
        t["epoch"] = list(self.fits.epochs)
        t["date"] = list(self.fits.dates)
        for key in (
            "alpha",
            "alpha_error",
            "p_value_fit",
            "alpha_boot",
            "alpha_boot_minus",
            "alpha_boot_plus",
            "chi2_red",
            "consistent_with_zero",
        ):
            t[key] = [p.to_record()[key] for p in self.powerlaws]
        t["sigma_alpha_mc"] = [n.sigma_alpha for n in self.epoch_nulls]
        t["p_mc_one"] = self.p_one
        t["p_mc_all"] = self.p_all
        t["slope_flagged"] = self.slope_flagged
        t["pipeline_qa"] = self.consistency.pipeline_score.min(axis=1)
        t["fine_qa"] = self.consistency.fine_score
        t["fine_z"] = self.consistency.fine_z
        t.meta["sigma_alpha_mc"] = self.null.sigma_alpha
        t.meta["n_mc"] = int(self.null.alpha.size)
        return t


def _noise_pattern(norm_sigma: np.ndarray, *, per_epoch: bool = False) -> np.ndarray:
    """Fit noise of each point relative to the rms that sigma_fit measures (montecarlo).

    norm_sigma : (n_epoch, n_cal, n_spw). Returns (n_cal, n_spw), the rms over epochs
    relative to the rms of all; or per_epoch (n_epoch, n_cal, n_spw), each epoch's
    errors relative to the rms of the other epochs (as Decomposition.leave_one_out).
    """
    s2 = norm_sigma**2
    if not per_epoch:
        return np.sqrt(s2.mean(axis=0) / s2.mean())
    n_e = s2.shape[0]
    per = s2.sum(axis=(1, 2))
    others = (per.sum() - per) / ((n_e - 1) * s2[0].size)
    return norm_sigma / np.sqrt(others)[:, None, None]


def output_paths(outfile: str) -> dict[str, str]:
    """The files spwconsistency writes for an output stem."""
    return {
        "ecsv": f"{outfile}.ecsv",
        "epochs_ecsv": f"{outfile}_epochs.ecsv",
        "json": f"{outfile}.json",
        "mcf_png": f"{outfile}_mcf.png",
        "hist_png": f"{outfile}_hist.png",
        "mc_png": f"{outfile}_mc.png",
    }


def write_outputs(result: SpwConsistencyResult, paths: Mapping[str, str]) -> None:
    """Write the tables, JSON and figures to paths (output_paths' keys; the task stages them)."""
    from almacal.spwcons import plot

    result.point_table().write(paths["ecsv"], format="ascii.ecsv", overwrite=True)
    result.epoch_table().write(paths["epochs_ecsv"], format="ascii.ecsv", overwrite=True)
    write_json(paths["json"], result.to_record())
    plot.plot_normalized(result, paths["mcf_png"])
    plot.plot_histograms(result, paths["hist_png"])
    plot.plot_montecarlo(result, paths["mc_png"])
