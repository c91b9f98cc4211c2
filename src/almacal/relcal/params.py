"""relcal_fit inputs checked and resolved before any visibility is read."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from almacal.msinfo import MsInfo
from almacal.relcal.results import Epoch, output_paths
from almacal.uvrange import UvRange, parse_uvrange


def check_vis(vis: list[str], param: str = "vis") -> tuple[str, ...]:
    """Absolute paths of existing MSs; FileNotFoundError/ValueError naming the parameter."""
    if not vis or any(not v.strip() for v in vis):
        raise ValueError(f"{param} must list one or more measurement sets, got {vis!r}")
    paths = tuple(os.path.abspath(os.path.expanduser(v)) for v in vis)
    for given, p in zip(vis, paths, strict=True):
        if not os.path.exists(p):
            raise FileNotFoundError(f"{param}: measurement set {given!r} does not exist")
        if not (os.path.isdir(p) and os.path.isfile(os.path.join(p, "table.dat"))):
            raise ValueError(f"{param}: {given!r} is not a measurement set (no table.dat)")
    dup = {p for p in paths if paths.count(p) > 1}
    if dup:
        raise ValueError(f"{param} lists the same measurement set twice: {sorted(dup)}")
    return paths


def split_names(values: list[str]) -> tuple[str, ...]:
    """['a,b', 'c'] -> ('a', 'b', 'c'): CASA users write lists and comma strings."""
    return tuple(s.strip() for v in values for s in v.split(",") if s.strip())


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

    @property
    def spws(self) -> tuple[int, ...]:
        return tuple(self.channels[0])

    def spw_freq_hz(self) -> tuple[float, ...]:
        info, ch = self.infos[0], self.channels[0]
        return tuple(float(info.chan_freq_hz[s][m].mean()) for s, m in ch.items())

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
    ) -> RelcalFitParams:
        fields = split_names(field)
        if not fields:
            raise ValueError("field must name the stable calibrators, got an empty list")
        if len(set(fields)) != len(fields):
            raise ValueError(f"field lists a calibrator twice: {list(fields)}")
        order = np.argsort([i.start_mjd_s for i in infos], kind="stable")
        infos = [infos[i] for i in order]
        channels = [channels[i] for i in order]
        spw_sets = {tuple(c) for c in channels}
        if len(spw_sets) > 1:
            raise ValueError(
                "spw selects different spectral windows in different MSs: "
                + "; ".join(f"{i.path}: {list(c)}" for i, c in zip(infos, channels, strict=True))
            )
        for info, chans in zip(infos, channels, strict=True):
            for dd in np.flatnonzero(np.isin(info.ddid_spw, list(chans))):
                info.parallel_hands(int(info.ddid_pol[dd]))  # ValueError now, not mid-read
        field_index = []
        for info in infos:
            idx = np.full(len(info.field_names), -1)
            for j, name in enumerate(fields):
                idx[info.field_ids(name)] = j
            field_index.append(idx)
        columns = tuple(i.datacolumn(datacolumn) for i in infos)
        epochs, epoch_of_ms = _group_epochs(infos, groupby)
        if len(epochs) < 2:
            raise ValueError(
                f"vis gives {len(epochs)} epoch(s) (groupby={groupby!r}); "
                "relative calibration needs at least two"
            )
        return cls(
            infos=tuple(infos),
            fields=fields,
            field_index=tuple(field_index),
            channels=tuple(channels),
            columns=columns,
            uvrange=parse_uvrange(uvrange),
            perspw=perspw,
            epochs=epochs,
            epoch_of_ms=epoch_of_ms,
            excluded=_parse_exclude(exclude, len(epochs), fields),
            outfile=_check_outfile(outfile, overwrite),
            overwrite=overwrite,
        )


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


def _check_outfile(outfile: str, overwrite: bool) -> str:
    if not outfile.strip():
        return ""
    stem = os.path.abspath(os.path.expanduser(outfile))
    parent = os.path.dirname(stem)
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"outfile {outfile!r}: directory {parent!r} does not exist")
    existing = [p for p in output_paths(stem).values() if os.path.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(
            f"outfile {outfile!r}: {', '.join(existing)} exist; set overwrite=True to replace"
        )
    return stem
