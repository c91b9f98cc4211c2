"""Per-MS work mapped over processes, or run here one MS after another.

A task's per-MS unit (relcal's one pass over an MS, an MsInfo read, relcal_apply's
split and gencal of one MS) is a picklable callable applied to a picklable item. A
:class:`Mapper` applies it to every item and yields the results in item order, so
the client combines them in the order a serial run does: the sums are the same
numbers, added in the same order, bit for bit.

- :class:`SerialMapper` is the loop it replaces: lazily, in this process, the first
  exception propagating unchanged. Without MPI nothing else runs.
- almacal.io.mpi.CasampiMapper runs each item on a casampi server (mpicasa,
  ``mpirun ... python``); almacal.pipeline.mpi.PipelineMapper through the ALMA
  pipeline's own MPI helpers. Both run :func:`run_job` on the server, which catches
  what the item raised and returns it described (:class:`JobOutcome`); the client
  lets every other item complete, then raises one error naming every failed item,
  where it ran and why (:func:`failure_error`).

No casatools, casampi or mpi4py here: the cores take a Mapper as an argument.
"""

from __future__ import annotations

import builtins
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Mapper(Protocol):
    """Applies fn to every item, yielding the results in item order.

    labels : one per item, what an error names (the MS path). After a failure the
    other items still run (their products are staged, so a failed run keeps none);
    no item changes a user's MS (relcal_apply inplace applies in the client).
    """

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        labels: Sequence[str],
    ) -> Iterator[R]: ...

    def describe(self) -> str:
        """Where the items run, for the log ('2 MPI servers (ranks 1, 2)')."""
        ...


class SerialMapper:
    """Each item in this process when its result is asked for: the plain loop."""

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        labels: Sequence[str],
    ) -> Iterator[R]:
        for item in items:
            yield fn(item)

    def describe(self) -> str:
        return "this process (no MPI servers)"


SERIAL = SerialMapper()


@dataclass(frozen=True)
class JobOutcome:
    """What one item gave on a server: its value, or the exception it raised described
    (class name and message; exceptions themselves need not pickle). kind : the nearest
    built-in class of the exception (ValueError for almacal's UnreadableTableError)."""

    value: Any = None
    error: str = ""
    message: str = ""
    traceback: str = ""
    seconds: float = 0.0
    kind: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error)


def run_job(job: tuple[Callable[[Any], Any], Any]) -> JobOutcome:
    """What a server runs for one item: fn(item), whatever it raises caught and described
    so that the client can name the item and let the others complete."""
    fn, item = job
    t0 = time.perf_counter()
    try:
        value = fn(item)
    # any failure of one MS is reported by the client with that MS's path; an
    # exception escaping here would only reach casampi's log as a traceback
    except Exception as exc:
        return JobOutcome(
            error=type(exc).__name__,
            message=str(exc),
            traceback=traceback.format_exc(),
            seconds=time.perf_counter() - t0,
            kind=_builtin_base(type(exc)),
        )
    return JobOutcome(value=value, seconds=time.perf_counter() - t0)


def _builtin_base(cls: type) -> str:
    return next(c.__name__ for c in cls.__mro__ if getattr(builtins, c.__name__, None) is c)


@dataclass(frozen=True)
class Failure:
    """An item that failed: its label, where it ran ('MPI server 2 (host vm, pid 123)'),
    the exception's class name and message; kind: its nearest built-in class."""

    label: str
    where: str
    error: str
    message: str
    kind: str = ""

    def describe(self) -> str:
        return f"{self.label} failed on {self.where}: {self.error}: {self.message}"


def failure_error(failures: Sequence[Failure], n_items: int, n_done: int) -> Exception:
    """One exception naming every failed item, of the first failure's nearest built-in
    class (a ValueError stays a ValueError, so does a subclass of it), else RuntimeError.

    n_done : the items that completed; the rest were never started."""
    others = n_items - len(failures)
    counts = [f"{n_done} of the other {others} completed"] if others else []
    if others - n_done:
        counts.append(f"{others - n_done} not started")
    message = "; ".join(f.describe() for f in failures)
    if counts:
        message += " (%s)" % ", ".join(counts)
    cls = getattr(builtins, failures[0].kind or failures[0].error, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        # a built-in whose constructor wants more than a message (UnicodeDecodeError)
        except TypeError:
            pass
    return RuntimeError(message)
