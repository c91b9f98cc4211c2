"""The one skeleton every almacal task runs through:

    params -> products -> read -> compute -> write -> record

1. ``params(args)`` checks every argument and raises a ValueError (or
   FileNotFoundError / FileExistsError) naming the parameter and the value
   before any work starts;
2. ``products(params)`` names every output the run will create (files, caltables,
   MSs), already checked: their directories exist and are writable, and they are not
   there unless overwrite was asked; a task that changes an input MS also has
   ``modifies(params)``, the MSs it changes (checked writable the same way);
3. ``read(params)`` reads what the computation needs (MsInfo, per-MS sums, tables);
4. ``compute(params, data, staged)`` is the science; CASA steps that make products
   (gaincal tables, split MSs) write them under the temporary names in ``staged``;
5. ``write(params, data, result, staged)`` writes the remaining products under
   their temporary names and, last, anything that changes an input MS; it returns
   the final result when writing adds to it (e.g. the time of an applycal), else
   None;
6. every product is renamed into place together (almacal.outputs.staged), or
   removed when a step failed; a task that changes an MS may commit the products of
   that MS earlier, just before its HISTORY says so; the result's ``to_record()`` is
   what the task returns.

Every product and every MS in ``modifies`` is claimed for the run before ``read``
(a second run writing the same names fails at once: almacal.outputs.OutputBusyError),
and the temporaries of killed runs are removed.

A pipeline stage calls the same steps with its own products (its weblog directory).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from almacal.casatask.log import casalog, run_log
from almacal.casatask.record import TaskRecord
from almacal.outputs import Staged, staged


class Result(Protocol):
    """A task's typed result: frozen, and turned into the plain dict CASA users get."""

    def to_record(self) -> dict[str, Any]: ...


P = TypeVar("P")
D = TypeVar("D")
R = TypeVar("R", bound=Result)


class TaskSteps(Protocol[P, D, R]):
    """What a task provides to run_task (see the module docstring)."""

    name: str

    def params(self, args: dict[str, Any]) -> P: ...

    def products(self, params: P) -> Mapping[str, str]: ...

    def read(self, params: P) -> D: ...

    def compute(self, params: P, data: D, staged: Staged) -> R: ...

    def write(self, params: P, data: D, result: R, staged: Staged) -> R | None: ...

    def report(self, result: R) -> None: ...


def run_task(steps: TaskSteps[P, D, R], args: Mapping[str, Any]) -> dict[str, Any]:
    """Run a task's steps on the task's arguments (the XML parameters by name).

    The record is a TaskRecord: a dict whose repr at the prompt is a short summary.
    """
    with run_log(steps.name, args):
        casalog.origin(steps.name)
        params = steps.params(dict(args))
        products = steps.products(params)
        # optional: only the tasks that change an input MS have it
        modifies = getattr(steps, "modifies", None)
        with staged(products, modifies=modifies(params) if modifies else ()) as tmp:
            data = steps.read(params)
            result = steps.compute(params, data, tmp)
            result = steps.write(params, data, result, tmp) or result
            # a CASA task or a nested task (spwconsistency -> relcal_fit) set its own
            # origin; the renaming's warnings are this task's
            casalog.origin(steps.name)
        casalog.origin(steps.name)
        steps.report(result)
        return TaskRecord(result.to_record(), task=steps.name)
