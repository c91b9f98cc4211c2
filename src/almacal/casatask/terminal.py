"""What the user sees on the terminal while a task runs; everything also goes to the CASA log.

- ``say``: a line for the log and the terminal (progress, a dry run's plan), labelled
  with the task that posts it;
- ``progress``: one such line per MS read, with its size and time;
- ``QuietTasks``: casatasks whose chatter (gaincal's per-solution warnings, the
  simulator's INFO lines) goes to the log file only; each call is summarised on the
  terminal in one line, and the almacal task's origin is restored after it.

casalog echoes WARN and SEVERE to the process's stderr from C++, so a CASA call is
quietened by pointing file descriptor 2 at /dev/null while it runs; the log file
keeps every line, and is read back for the summary. Nothing is quietened when the
user asked for the whole log on the terminal (``--log2term``) or has no log file.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from almacal.casatask.log import casa_logger, casalog, current_run

# casatasks' module attributes that are not tasks
_NOT_TASKS = ("casalog", "version", "version_string", "xml_interface_defs")

_SNR_FLAGGED = re.compile(r"(\d+) of (\d+) solutions flagged due to SNR < ([0-9.eE+-]+)")


def log2term() -> bool:
    """True when casalog already echoes every line to the terminal (casashell --log2term)."""
    config = sys.modules.get("casaconfig.config")
    return bool(getattr(config, "log2term", False))


def origin() -> str:
    """The almacal task running now (or 'almacal')."""
    run = current_run()
    return run.task if run is not None else "almacal"


def say(message: str, priority: str = "INFO", source: str | None = None) -> None:
    """Post message to the CASA log and show it on the terminal, labelled with source
    (default: the task running).

    casalog itself echoes WARN and SEVERE; INFO is written here (unless --log2term,
    when casalog echoes it too).
    """
    label = source or origin()
    casalog.post(message, priority, label)
    if priority == "INFO" and not log2term():
        sys.stderr.write(f"{label}: {message}\n")
        sys.stderr.flush()


class ByteCount:
    """Counts the bytes of the visibility chunks that pass through it."""

    def __init__(self) -> None:
        self.nbytes = 0

    def __call__(self, chunks: Iterable[Any]) -> Iterator[Any]:
        for chunk in chunks:
            arrays = (getattr(chunk, name, None) for name in ("data", "flag", "weight"))
            self.nbytes += sum(getattr(a, "nbytes", 0) for a in arrays)
            yield chunk


@contextmanager
def progress(index: int, total: int, path: str, what: str = "") -> Iterator[ByteCount]:
    """'[3/7] ep03.ms: 1.2 GB read in 2.1 s' once the block has read MS index of total."""
    count = ByteCount()
    t0 = time.perf_counter()
    yield count
    say(
        "[%d/%d] %s: %.2f GB read in %.1f s%s"
        % (
            index,
            total,
            os.path.basename(path.rstrip("/")),
            count.nbytes / 1e9,
            time.perf_counter() - t0,
            f" ({what})" if what else "",
        )
    )


def _log_path() -> str | None:
    """The CASA log file when it is a regular file that can be read back."""
    try:
        path = str(casa_logger().logfile())
    except Exception:  # noqa: BLE001 - no casalog yet: nothing to read back
        return None
    return path if os.path.isfile(path) else None


def summarize(task: str, label: str, lines: list[str]) -> str | None:
    """One line for the WARN/SEVERE lines a CASA call logged (tab-separated log lines)."""
    messages = []
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 4 and parts[1] in ("WARN", "SEVERE"):
            messages.append(parts[3])
    if not messages:
        return None
    flagged = total = 0
    snr = ""
    rest: Counter[str] = Counter()
    for m in messages:
        hit = _SNR_FLAGGED.search(m)
        if hit:
            flagged += int(hit.group(1))
            total += int(hit.group(2))
            snr = hit.group(3)
        else:
            rest[re.sub(r"\d[\d:./ -]*", "#", m.strip())[:70]] += 1
    parts = [f"{flagged} of {total} solutions flagged, SNR < {snr}"] if total else []
    parts += [f"{n} x '{text}'" for text, n in rest.most_common(2)]
    if len(rest) > 2:
        parts.append(f"{sum(rest.values()) - sum(n for _, n in rest.most_common(2))} more")
    return f"{task}{label}: " + "; ".join(parts) + " (details in the CASA log)"


def call_label(kwargs: dict[str, Any]) -> str:
    """' ep03.ms field SMM9 solint 20.2s': what a call worked on, from its arguments."""
    out = ""
    if kwargs.get("vis"):
        out += " " + os.path.basename(str(kwargs["vis"]).rstrip("/"))
    for key in ("field", "solint"):
        if kwargs.get(key):
            out += f" {key} {kwargs[key]}"
    return out


@contextmanager
def quiet_console(task: str, label: str) -> Iterator[None]:
    """Run a CASA call with its console lines in the log file only; summarise them after."""
    path = _log_path()
    if path is None or log2term():
        yield
        return
    start = os.path.getsize(path)
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    sys.stderr.flush()
    os.dup2(devnull, 2)
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        _report_call(task, label, path, start, failed)


def _report_call(task: str, label: str, path: str, start: int, failed: bool) -> None:
    casa_logger().origin(origin())  # the CASA task set its own origin
    with open(path, encoding="utf-8", errors="replace") as fh:
        fh.seek(start)
        lines = fh.readlines()
    if failed:
        # the reason a call failed is shown as CASA wrote it
        for line in [ln for ln in lines if "\tSEVERE\t" in ln][-5:]:
            sys.stderr.write(line)
        return
    text = summarize(task, label, lines)
    if text is not None:
        say(text)


class QuietTasks:
    """casatasks with each task's console output summarised (see the module docstring)."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._module, name)
        if name in _NOT_TASKS or not callable(attr):
            return attr
        return _quiet(name, attr)


def _quiet(name: str, task: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with quiet_console(name, call_label(kwargs)):
            return task(*args, **kwargs)

    return call
