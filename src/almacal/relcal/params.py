"""relcal_fit inputs checked and resolved before any visibility is read."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from almacal.casatask.checks import check_outfile, check_vis, split_names
from almacal.casatask.log import casalog
from almacal.msinfo import MsInfo
from almacal.relcal.choice import USER_EXCLUSION
from almacal.relcal.dates import observation_disagrees, rows_time_range, utc_date
from almacal.relcal.fields import FIELD_MATCHES, FieldMatch, match_fields
from almacal.relcal.plan import Target
from almacal.relcal.results import Epoch, output_paths
from almacal.relcal.selfcal_plan import DEFAULT_SOLINTS, parse_solints
from almacal.uvrange import UvRange, parse_uvrange


class ParamsReader(Protocol):
    """The MS reads relcal_fit's checks need (almacal.io.ms.CasaMs)."""

    def read_info(self, path: str) -> MsInfo: ...

    def select_channels(self, info: MsInfo, spw: str) -> dict[int, np.ndarray]: ...


@dataclass(frozen=True)
class RelcalFitParams:
    infos: tuple[MsInfo, ...]  # in date order
    fields: tuple[str, ...]
    field_index: tuple[np.ndarray, ...]  # per MS: (n_field,) calibrator index, -1 elsewhere
    missing: tuple[dict[int, str], ...]  # per MS: {calibrator: why it has no FIELD rows}
    channels: tuple[dict[int, np.ndarray], ...]  # per MS: {spw: channel mask}
    columns: tuple[str, ...]  # per MS: data column to fit
    uvrange: UvRange | None
    perspw: bool
    epochs: tuple[Epoch, ...]
    epoch_of_ms: np.ndarray  # (n_ms,) 0-based epoch index
    excluded: np.ndarray  # (n_epoch, n_cal) bool
    outfile: str
    overwrite: bool
    options: FitOptions = field(default_factory=lambda: FitOptions())
    call: dict = field(default_factory=dict)  # the task's arguments, for the record

    @property
    def spws(self) -> tuple[int, ...]:
        return tuple(self.channels[0])

    def spw_freq_hz(self) -> tuple[float, ...]:
        return tuple(float(f) for f in _selected_freq_hz(self.infos[0], self.channels[0]))

    def epoch_spw_freq_hz(self) -> np.ndarray:
        """(n_epoch, n_spw) mean selected frequency of each spw over the epoch's MSs."""
        freq = np.array(
            [_selected_freq_hz(i, c) for i, c in zip(self.infos, self.channels, strict=True)]
        )
        return np.array([freq[self.epoch_of_ms == e].mean(axis=0) for e in range(len(self.epochs))])

    def targets(self) -> tuple[Target, ...]:
        """The user's MSs as relcal_fit reads them."""
        return tuple(
            Target(info, self.field_index[m], self.channels[m], self.columns[m])
            for m, info in enumerate(self.infos)
        )

    @classmethod
    def from_task_args(cls, args: dict[str, Any], reader: ParamsReader) -> RelcalFitParams:
        """relcal_fit's arguments (the XML parameters) checked; the MSs' metadata read."""
        paths = check_vis(args["vis"])
        options = FitOptions.from_task_args(**{k: args[k] for k in _OPTION_ARGS})
        infos = [reader.read_info(p) for p in paths]
        p = cls.build(
            infos=infos,
            channels=[reader.select_channels(i, args["spw"]) for i in infos],
            **{k: args[k] for k in _BUILD_ARGS},
            options=options,
        )
        # relcal_fit writes nothing to the MSs: the record keeps the call
        return replace(p, call=dict(args) | {"vis": list(paths)})

    @classmethod
    def build(
        cls,
        *,
        infos: list[MsInfo],
        channels: list[dict[int, np.ndarray]],
        field: list[str],
        datacolumn: str,
        uvrange: str,
        perspw: bool,
        groupby: str,
        exclude: list[str],
        outfile: str,
        overwrite: bool,
        options: FitOptions | None = None,
        fieldmatch: str = "name",
        matchradius: float = 1.0,
    ) -> RelcalFitParams:
        fields = _check_fields(field)
        # date order of the MSs' own rows (an OBSERVATION table may name another day)
        order = np.argsort([_first_row_s(i) for i in infos], kind="stable")
        infos = [infos[i] for i in order]
        channels = [channels[i] for i in order]
        _check_spws(infos, channels)
        _check_band(infos, channels)
        match = _match_fields(infos, fields, fieldmatch, matchradius)
        columns = tuple(i.datacolumn(datacolumn) for i in infos)
        options = options or FitOptions()
        if options.minfamily > len(fields):
            raise ValueError(
                f"minfamily={options.minfamily} exceeds the {len(fields)} calibrators in field"
            )
        epochs, epoch_of_ms = _group_epochs(infos, match.field_index, channels, groupby)
        if len(epochs) < 2:
            raise ValueError(
                f"vis gives {len(epochs)} epoch(s) (groupby={groupby!r}); "
                "relative calibration needs at least two"
            )
        excluded = _parse_exclude(exclude, len(epochs), fields)
        _refuse_empty_epochs(epochs, epoch_of_ms, match.missing, excluded, fields)
        return cls(
            infos=tuple(infos),
            fields=fields,
            field_index=match.field_index,
            missing=match.missing,
            channels=tuple(channels),
            columns=columns,
            uvrange=None if options.uvrange_common else parse_uvrange(uvrange),
            perspw=perspw,
            epochs=epochs,
            epoch_of_ms=epoch_of_ms,
            excluded=excluded,
            outfile=check_outfile(outfile, overwrite, output_paths),
            overwrite=overwrite,
            options=options,
        )


_OPTION_ARGS = (
    "uvrange",
    "selfcal",
    "solint",
    "refant",
    "gaintype",
    "minsnr",
    "combine",
    "rejectsigma",
    "minfamily",
    "fitspw",
    "model",
    "modelcheck",
    "fitposition",
    "minfluxsnr",
)
_BUILD_ARGS = (
    "field",
    "datacolumn",
    "uvrange",
    "perspw",
    "groupby",
    "exclude",
    "outfile",
    "overwrite",
    "fieldmatch",
    "matchradius",
)


def _check_fields(field: list[str]) -> tuple[str, ...]:
    fields = split_names(field)
    if not fields:
        raise ValueError("field must name the stable calibrators, got an empty list")
    if len(set(fields)) != len(fields):
        raise ValueError(f"field lists a calibrator twice: {list(fields)}")
    return fields


def _match_fields(
    infos: list[MsInfo], fields: tuple[str, ...], fieldmatch: str, matchradius: float
) -> FieldMatch:
    """relcal.fields.match_fields on checked fieldmatch and matchradius; its notes logged."""
    _enum("fieldmatch", fieldmatch, FIELD_MATCHES)
    if not (matchradius > 0 and np.isfinite(matchradius)):
        raise ValueError(f"matchradius must be a positive number of arcsec, got {matchradius!r}")
    match = match_fields(infos, fields, fieldmatch, matchradius)
    for note in match.notes:
        casalog.post(note, "WARN")
    return match


def _check_spws(infos: list[MsInfo], channels: list[dict[int, np.ndarray]]) -> None:
    """The same spws in every MS, each with a polarization setup relcal_fit can read."""
    if len({tuple(c) for c in channels}) > 1:
        raise ValueError(
            "spw selects different spectral windows in different MSs: "
            + "; ".join(f"{i.path}: {list(c)}" for i, c in zip(infos, channels, strict=True))
        )
    for info, chans in zip(infos, channels, strict=True):
        for dd in np.flatnonzero(np.isin(info.ddid_spw, list(chans))):
            info.parallel_hands(int(info.ddid_pol[dd]))  # ValueError now, not mid-read


MAX_FREQ_FRACTION = 1e-3
"""Largest relative difference of an spw's centre frequency between MSs. Doppler
tracking moves a tuning by < 2e-4 between epochs; a calibrator's spectral index alpha
turns a frequency difference df/f into a flux difference alpha df/f (0.25 % for dust
at alpha 2.5 and 1e-3), which the rFCF would take for a flux-scale error."""


def _selected_freq_hz(info: MsInfo, channels: dict[int, np.ndarray]) -> np.ndarray:
    """(n_spw,) mean frequency of the selected channels of each spw."""
    return np.array([info.chan_freq_hz[s][m.any(axis=0) if m.ndim == 2 else m].mean()
                     for s, m in channels.items()])  # fmt: skip


def _first_row_s(info: MsInfo) -> float:
    return info.data_time_range[0] if info.data_time_range[1] > 0 else info.start_mjd_s


def _setup(info: MsInfo, channels: dict[int, np.ndarray]) -> str:
    return ", ".join("%.3f" % (f / 1e9) for f in _selected_freq_hz(info, channels)) + " GHz"


def _check_band(infos: list[MsInfo], channels: list[dict[int, np.ndarray]]) -> None:
    """Every MS's selected spws in the same ALMA bands, at the same frequencies within
    MAX_FREQ_FRACTION: ValueError naming the MSs and their frequencies."""
    bands = [tuple(i.spws[s].band for s in c) for i, c in zip(infos, channels, strict=True)]
    if len(set(bands)) > 1:
        groups: dict[tuple[int, ...], list[int]] = {}
        for m, b in enumerate(bands):
            groups.setdefault(b, []).append(m)
        raise ValueError(
            "vis mixes ALMA bands: "
            + "; ".join(
                "Band %s: %s (%s)"
                % (
                    "/".join(map(str, sorted(set(b)))),
                    ", ".join(infos[m].path for m in ms),
                    _setup(infos[ms[0]], channels[ms[0]]),
                )
                for b, ms in groups.items()
            )  # fmt: skip
            + "; relative calibration compares the same set-up in every epoch: fit each band "
            "on its own"
        )
    freq = [_selected_freq_hz(i, c) for i, c in zip(infos, channels, strict=True)]
    diff = [float(np.max(np.abs(f / freq[0] - 1.0))) for f in freq]
    if max(diff) > MAX_FREQ_FRACTION:
        far = [m for m, d in enumerate(diff) if d > MAX_FREQ_FRACTION]
        raise ValueError(
            f"vis: spw centre frequencies differ by up to {100 * max(diff):.2f} % between the "
            f"MSs (more than {100 * MAX_FREQ_FRACTION:g} %; a calibrator's spectral index makes "
            "its flux differ by alpha times that): "
            + "; ".join(f"{infos[m].path}: {_setup(infos[m], channels[m])}" for m in [0, *far])
            + ". Select the same tuning in every epoch"
        )


def _refuse_empty_epochs(
    epochs: tuple[Epoch, ...],
    epoch_of_ms: np.ndarray,
    missing: tuple[dict[int, str], ...],
    excluded: np.ndarray,
    fields: tuple[str, ...],
) -> None:
    """ValueError for an epoch whose MSs have none of the calibrators, or all excluded."""
    for e, ep in enumerate(epochs):
        ms = np.flatnonzero(epoch_of_ms == e)
        absent = [j for j in range(len(fields)) if all(j in missing[m] for m in ms)]
        if excluded[e].all():
            raise ValueError(
                f"exclude leaves epoch {ep.number} ({', '.join(ep.vis)}) without a calibrator "
                f"(it excludes {', '.join(fields)} there): every epoch needs one for its rFCF"
            )
        if len(absent) == len(fields) or (excluded[e] | np.isin(range(len(fields)), absent)).all():
            raise ValueError(
                f"epoch {ep.number} ({', '.join(ep.vis)}) has no calibrator to fit: "
                + "; ".join(
                    f"{fields[j]}: " + (missing[ms[0]][j] if j in absent else USER_EXCLUSION)
                    for j in range(len(fields))
                )
            )


@dataclass(frozen=True)
class FitOptions:
    """The real-world options of relcal_fit (issue 6); the defaults change nothing."""

    selfcal: bool = False
    solints: tuple[str, ...] = DEFAULT_SOLINTS
    refant: str = ""
    gaintype: str = "G"
    minsnr: float = 3.0
    combine: str = ""
    rejectsigma: float = 0.0
    minfamily: int = 0
    fitspw_auto: bool = False
    uvrange_common: bool = False
    model: str = "point"
    modelcheck: bool = False
    fitposition: bool = False
    minfluxsnr: float = 10.0

    @classmethod
    def from_task_args(
        cls,
        *,
        uvrange: str,
        selfcal: bool,
        solint: list[str],
        refant: str,
        gaintype: str,
        minsnr: float,
        combine: str,
        rejectsigma: float,
        minfamily: int,
        fitspw: str,
        model: str,
        modelcheck: bool,
        fitposition: bool = False,
        minfluxsnr: float = 10.0,
    ) -> FitOptions:
        """Checked task arguments; ValueError naming the parameter and the value."""
        _enum("gaintype", gaintype, ("G", "T"))
        _enum("combine", combine, ("", "spw"))
        _enum("fitspw", fitspw, ("", "auto"))
        _enum("model", model, MODELS)
        if not (minsnr >= 0 and np.isfinite(minsnr)):
            raise ValueError(f"minsnr must be a finite number >= 0, got {minsnr!r}")
        if not (rejectsigma >= 0 and np.isfinite(rejectsigma)):
            raise ValueError(f"rejectsigma must be >= 0 (0 = off), got {rejectsigma!r}")
        if 0 < rejectsigma < 2:
            raise ValueError(
                f"rejectsigma={rejectsigma!r} would reject good calibrators: use 0 (off) or >= 2"
            )
        if minfamily < 0 or minfamily == 1:
            raise ValueError(f"minfamily must be 0 (off) or >= 2, got {minfamily!r}")
        if not (minfluxsnr >= 0 and np.isfinite(minfluxsnr)):
            raise ValueError(f"minfluxsnr must be a finite number >= 0, got {minfluxsnr!r}")
        return cls(
            selfcal=bool(selfcal),
            solints=parse_solints(solint) if selfcal else DEFAULT_SOLINTS,
            refant=refant.strip(),
            gaintype=gaintype,
            minsnr=float(minsnr),
            combine=combine,
            rejectsigma=float(rejectsigma),
            minfamily=int(minfamily),
            fitspw_auto=fitspw == "auto",
            uvrange_common=uvrange.strip().lower() == "common",
            model=model,
            modelcheck=bool(modelcheck),
            fitposition=bool(fitposition),
            minfluxsnr=float(minfluxsnr),
        )


MODELS = ("point", "gaussian", "point+gaussian")


def _enum(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}")


def _group_epochs(
    infos: list[MsInfo],
    field_index: tuple[np.ndarray, ...],
    channels: list[dict[int, np.ndarray]],
    groupby: str,
) -> tuple[tuple[Epoch, ...], np.ndarray]:
    """Epochs in date order from the calibrators' rows (relcal.dates), grouped per MS or
    per UTC day; a WARN for each MS whose OBSERVATION table names another day."""
    spans = [
        rows_time_range(i, f, list(c)) for i, f, c in zip(infos, field_index, channels, strict=True)
    ]
    for info, (first, _) in zip(infos, spans, strict=True):
        warning = observation_disagrees(info, first)
        if warning:
            casalog.post(warning, "WARN")
    keys = [
        utc_date(a) if groupby == "day" else i.path for i, (a, _) in zip(infos, spans, strict=True)
    ]
    uniq = list(dict.fromkeys(keys))  # date order, since infos are sorted
    epoch_of_ms = np.array([uniq.index(k) for k in keys])
    epochs = []
    for e in range(len(uniq)):
        ms = np.flatnonzero(epoch_of_ms == e)
        start = min(spans[m][0] for m in ms)
        epochs.append(
            Epoch(
                number=e + 1,
                date=utc_date(start),
                vis=tuple(infos[m].path for m in ms),
                start_mjd_s=start,
                end_mjd_s=max(spans[m][1] for m in ms),
            )
        )
    return tuple(epochs), epoch_of_ms


def _parse_exclude(exclude: list[str], n_epoch: int, fields: tuple[str, ...]) -> np.ndarray:
    out = np.zeros((n_epoch, len(fields)), bool)
    for item in split_names(exclude):
        epoch, sep, name = item.partition(":")
        if not sep or not epoch.strip().isdigit() or not 1 <= int(epoch) <= n_epoch:
            raise ValueError(
                f"exclude entry {item!r} must be 'epoch:field' with epoch in 1..{n_epoch}"
            )
        if name.strip() not in fields:
            raise ValueError(f"exclude entry {item!r}: field {name.strip()!r} is not in field")
        out[int(epoch) - 1, fields.index(name.strip())] = True
    return out
