"""relcal_fit inputs checked and resolved before any visibility is read."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from almacal.casatask.checks import check_outfile, check_vis, split_names
from almacal.msinfo import MsInfo
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
        info, ch = self.infos[0], self.channels[0]
        return tuple(float(info.chan_freq_hz[s][m].mean()) for s, m in ch.items())

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
    ) -> RelcalFitParams:
        fields = _check_fields(field)
        order = np.argsort([i.start_mjd_s for i in infos], kind="stable")
        infos = [infos[i] for i in order]
        channels = [channels[i] for i in order]
        _check_spws(infos, channels)
        field_index = tuple(_field_index(info, fields) for info in infos)
        columns = tuple(i.datacolumn(datacolumn) for i in infos)
        options = options or FitOptions()
        if options.minfamily > len(fields):
            raise ValueError(
                f"minfamily={options.minfamily} exceeds the {len(fields)} calibrators in field"
            )
        epochs, epoch_of_ms = _group_epochs(infos, groupby)
        if len(epochs) < 2:
            raise ValueError(
                f"vis gives {len(epochs)} epoch(s) (groupby={groupby!r}); "
                "relative calibration needs at least two"
            )
        return cls(
            infos=tuple(infos),
            fields=fields,
            field_index=field_index,
            channels=tuple(channels),
            columns=columns,
            uvrange=None if options.uvrange_common else parse_uvrange(uvrange),
            perspw=perspw,
            epochs=epochs,
            epoch_of_ms=epoch_of_ms,
            excluded=_parse_exclude(exclude, len(epochs), fields),
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
)


def _check_fields(field: list[str]) -> tuple[str, ...]:
    fields = split_names(field)
    if not fields:
        raise ValueError("field must name the stable calibrators, got an empty list")
    if len(set(fields)) != len(fields):
        raise ValueError(f"field lists a calibrator twice: {list(fields)}")
    return fields


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


def _field_index(info: MsInfo, fields: tuple[str, ...]) -> np.ndarray:
    idx = np.full(len(info.field_names), -1)
    for j, name in enumerate(fields):
        idx[info.field_ids(name)] = j
    return idx


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
        )


MODELS = ("point", "gaussian", "point+gaussian")


def _enum(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}")


def _group_epochs(infos: list[MsInfo], groupby: str) -> tuple[tuple[Epoch, ...], np.ndarray]:
    keys = [i.date if groupby == "day" else i.path for i in infos]
    uniq = list(dict.fromkeys(keys))  # date order, since infos are sorted
    epoch_of_ms = np.array([uniq.index(k) for k in keys])
    epochs = tuple(
        Epoch(
            number=e + 1,
            date=infos[int(np.flatnonzero(epoch_of_ms == e)[0])].date,
            vis=tuple(infos[m].path for m in np.flatnonzero(epoch_of_ms == e)),
        )
        for e in range(len(uniq))
    )
    return epochs, epoch_of_ms


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
