"""CASA task objects derived from our task XML, in Python (no buildmytasks).

``CasaTask(spec, implementation)`` behaves like the wrappers xml-casa generates
for casatasks (Python-style calls: XML defaults, CasaValidator + coerce, Begin/End
Task lines in the CASA log) and for casashell (``inp``/``go``/``default``/``tget``/
``tput``, parameters read from the prompt's global namespace, ``<task>.last``).

Differences from the generated wrappers, on purpose:
- invalid input raises ``ValueError`` naming the parameter, the value given and
  what was expected (the generated code uses ``assert``, which ``python -O`` drops);
- an unknown keyword raises ``TypeError`` naming it;
- ``tget`` reads the ``.last`` file with ``ast.literal_eval`` (only this task's
  parameter names, only literals) instead of executing it.

casatools/casatasks are imported only when a task is validated or run, never at
import time, and the validator is created per call (no module-level tool).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from almacal.casatask.spec import ParamSpec, TaskSpec, parse_spec

# Marker that casashell's load_tasks.py puts in the prompt's global namespace;
# casashell.private.stack_manip.find_frame looks for the same name.
_SHELL_MARKER = "__casashell_state__"

_BLUE = "\x1b[34m"
_RED = "\x1b[91m"
_RESET = "\x1b[0m"

_EXPECTED = {
    "string": "a string",
    "path": "a path (string)",
    "bool": "True or False",
    "int": "an integer",
    "double": "a number",
    "variant": "a string, number, bool, list or dict",
    "record": "a dict",
    "stringVec": "a list of strings (or one string)",
    "pathVec": "a list of paths (or one path)",
    "boolVec": "a list of True/False (or one)",
    "intVec": "a list of integers (or one integer)",
    "doubleVec": "a list of numbers (or one number)",
}


def find_shell_namespace() -> dict[str, Any] | None:
    """Globals of the casashell prompt calling us, or None outside casashell.

    Same walk as ``casashell.private.stack_manip.find_frame``: the first frame up
    the stack whose globals hold ``__casashell_state__``. Under ``casa -c`` that is
    the script's namespace (a copy of the prompt's).
    """
    frame = inspect.currentframe()
    try:
        while frame is not None:
            if _SHELL_MARKER in frame.f_globals:
                return frame.f_globals
            frame = frame.f_back
        return None
    finally:
        del frame


def schema_rule(param: ParamSpec, coerce: Any) -> dict[str, Any]:
    """The cerberus rule xml-casa generates for one parameter.

    ``coerce`` is ``casatools.coercetype.coerce``; passed in so this module does
    not import casatools at import time.
    """
    if len(param.types) > 1:
        return {"anyof": [_type_rule(t, param.mustexist, coerce) for t in param.types]}
    rule = _type_rule(param.types[0] if param.types else param.type, param.mustexist, coerce)
    if param.type in ("any", "bool"):
        # xml-casa generates no allowed/min/max rule for these
        return rule
    if param.allowed:
        allowed = list(param.allowed)
        if param.ignorecase:
            # xml-casa accepts the upper-case spelling of each value too
            allowed += [v.upper() for v in param.allowed if isinstance(v, str) and v.upper() != v]
        rule["allowed"] = list(dict.fromkeys(allowed))  # xml-casa drops repeats
    if param.minimum is not None:
        rule["min"] = param.minimum
    if param.maximum is not None:
        rule["max"] = param.maximum
    return rule


# type -> (cerberus type, coerce function names) as xml-casa generates them; for
# path types the first cerberus type is the one with mustexist.
_TYPE_RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "string": (("cStr",), ("to_str",)),
    "bool": (("cBool",), ()),
    "int": (("cInt",), ()),
    "double": (("cFloat",), ("to_float",)),
    "path": (("cReqPath", "cPath"), ("expand_path",)),
    "stringVec": (("cStrVec",), ("to_list", "to_strvec")),
    "intVec": (("cIntVec",), ("to_list", "to_intvec")),
    "doubleVec": (("cFloatVec",), ("to_list", "to_floatvec")),
    "boolVec": (("cBoolVec",), ("to_list", "to_boolvec")),
    "pathVec": (("cReqPathVec", "cPathVec"), ("to_list", "expand_pathvec")),
    "intArray": (("cIntArray",), ("to_intarray",)),
    "doubleArray": (("cFloatArray",), ("to_floatarray",)),
    "variant": (("cVariant",), ("to_variant",)),
    "any": (("cVariant",), ("to_variant",)),
    "record": (("cDict",), ()),
}
# xml-casa writes a single coerce function bare, a chain as a list (except for these)
_COERCE_AS_LIST = ("intArray", "doubleArray", "variant", "any")


def _type_rule(type_: str, mustexist: bool, coerce: Any) -> dict[str, Any]:
    if type_ not in _TYPE_RULES:
        raise ValueError(f"parameter type {type_!r} has no validator rule")
    kinds, functions = _TYPE_RULES[type_]
    rule: dict[str, Any] = {"type": kinds[0] if mustexist or len(kinds) == 1 else kinds[1]}
    chain = [getattr(coerce, f) for f in functions]
    if len(chain) == 1 and type_ not in _COERCE_AS_LIST:
        rule["coerce"] = chain[0]
    elif chain:
        rule["coerce"] = chain
    return rule


def expected_text(param: ParamSpec) -> str:
    """What a valid value of ``param`` looks like, for error messages."""
    if param.types:
        text = " or ".join(_EXPECTED.get(t, t) for t in param.types)
    else:
        text = _EXPECTED.get(param.type, param.type)
    if param.mustexist and param.type in ("path", "pathVec"):
        text += " that exists"
    if param.allowed:
        text = "one of " + ", ".join(repr(v) for v in param.allowed)
        if param.ignorecase:
            text += " (any case)"
    if param.minimum is not None:
        text += f" >= {param.minimum}"
    if param.maximum is not None:
        text += f" <= {param.maximum}"
    return text


def _reason(messages: list[Any], value: Any) -> str:
    """cerberus' messages for one field, in words a user knows."""
    out = []
    for m in messages:
        text = str(m)
        if text == "must be of cReqPath type" and isinstance(value, str):
            out.append("does not exist")
        elif text == "must be of cReqPathVec type" and isinstance(value, list):
            out.append("names a path that does not exist")
        elif text.startswith("must be of c") and text.endswith(" type"):
            out.append(f"has the wrong type ({type(value).__name__})")
        elif text.startswith("unallowed value"):
            out.append("is not allowed")
        elif text.startswith(("min value is", "max value is")):
            out.append("is out of range")
        else:
            out.append(f"is invalid ({text})")
    return " and ".join(dict.fromkeys(out))


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(type(value) is type(default) and value == default)
    except ValueError:  # e.g. a numpy array: not the (list) default
        return False


def _literal_repr(value: Any) -> str:
    """repr() when it reads back with ast.literal_eval, else 'None' (as casashell writes)."""
    text = repr(value)
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return "None"
    return text


def _param_doc(p: ParamSpec, width: int) -> list[str]:
    """A parameter's lines in help(): name, short description, facts, description."""
    indent = " " * (width + 1)
    facts = f"{p.type}, default {p.default!r}"
    if p.allowed:
        facts += "; allowed: " + ", ".join(repr(v) for v in p.allowed)
    if p.minimum is not None or p.maximum is not None:
        facts += f"; range: [{p.minimum if p.minimum is not None else ''}, "
        facts += f"{p.maximum if p.maximum is not None else ''}]"
    if p.mustexist:
        facts += "; must exist"
    lines = [f"{p.name:<{width}} {p.shortdescription}", indent + facts]
    if p.description and p.description != p.shortdescription:
        for para in p.description.splitlines():
            lines += textwrap.wrap(para, 78, initial_indent=indent, subsequent_indent=indent) or [
                ""
            ]
    return lines


def render_doc(spec: TaskSpec) -> str:
    """help() text of a task, built from its XML."""
    width = max([len(p.name) for p in spec.params] + [10])
    lines = [f"{spec.name} ---- {spec.shortdescription}", ""]
    if spec.description:
        lines += [spec.description, ""]
    lines += ["--------- parameter descriptions " + "-" * 45, ""]
    for p in spec.params:
        lines += _param_doc(p, width)
    if spec.returns:
        lines += ["", "--------- returns " + "-" * 60, "", spec.returns]
    if spec.example:
        lines += ["", "--------- examples " + "-" * 59, "", spec.example]
    lines += [
        "",
        "At the CASA prompt: inp(task), go(task), default(task), tget(task), tput(task).",
    ]
    return "\n".join(lines) + "\n"


class CasaTask:
    """A CASA task built from its XML spec and its implementation.

    ``CasaTask(spec, implementation)``: ``implementation`` is called with the
    validated parameters positionally, in XML order. When it is None, it is
    ``almacal.tasks.task_<name>.<name>``, imported on first call.

    Each instance gets its own subclass named after the task whose class
    docstring is the XML documentation, so ``help(task)`` and IPython's
    ``task?`` show it, as for casatasks' generated classes.
    """

    _info_group_: str = ""
    _info_desc_: str = ""

    def __new__(cls, spec: TaskSpec, implementation: Callable[..., Any] | None = None) -> CasaTask:
        if cls is CasaTask:
            cls = _task_class(spec)
        return super().__new__(cls)

    def __init__(self, spec: TaskSpec, implementation: Callable[..., Any] | None = None):
        self.spec = spec
        self.__name__ = spec.name
        self.__qualname__ = spec.name
        self._implementation = implementation
        self.__signature__ = _signature(spec)

    @classmethod
    def from_xml(
        cls, path: str | os.PathLike[str], implementation: Callable[..., Any] | None = None
    ) -> CasaTask:
        """A task from an XML file outside the package (plug-ins, tests)."""
        return cls(parse_spec(Path(path).read_bytes()), implementation)

    def __repr__(self) -> str:
        return f"<CASA task {self.spec.name}: {self.spec.shortdescription}>"

    # ------------------------------------------------------------------ call

    @property
    def implementation(self) -> Callable[..., Any]:
        if self._implementation is None:
            module = importlib.import_module(f"almacal.tasks.task_{self.spec.name}")
            self._implementation = getattr(module, self.spec.name)
        return self._implementation

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # IPython and pytest hide frames that set this: users see their call and the error
        __tracebackhide__ = True
        shell = find_shell_namespace()
        if args or kwargs:
            # Python style: what is not given takes its XML default.
            values = self.spec.defaults()
            values.update(self._bind(args, kwargs))
        else:
            # inp/go style: current values at the CASA prompt, XML defaults elsewhere.
            values = self._namespace_values(shell)
        document = None
        try:
            document = self.validate(values)
            return self._run(document)
        finally:
            if shell is not None:
                # like casashell's tasks, also after a failure, so tget can fix a typo
                self._save_last(document if document is not None else values)

    def _save_last(self, values: Mapping[str, Any]) -> None:
        path = f"{self.spec.name}.last"
        try:
            self._write_params(path, values)
        except OSError as exc:  # must not hide the task's own result or error
            print(f"could not write {os.path.abspath(path)}: {exc}", file=sys.stderr)

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        names = self.spec.param_names
        if len(args) > len(names):
            raise TypeError(
                f"{self.spec.name}() takes {len(names)} parameters but {len(args)} were given"
            )
        given = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(
                    f"{self.spec.name}() got an unknown parameter {key!r}; "
                    f"parameters are: {', '.join(names)}"
                )
            if key in given:
                raise TypeError(
                    f"{self.spec.name}() got parameter {key!r} both by position and by keyword"
                )
            given[key] = value
        return given

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Checked and coerced values in XML order; ValueError naming each bad parameter."""
        __tracebackhide__ = True
        from casatools.coercetype import coerce
        from casatools.typecheck import CasaValidator

        unknown = [k for k in values if k not in self.spec.param_names]
        if unknown:
            raise TypeError(
                f"{self.spec.name}: unknown parameter(s) {', '.join(map(repr, unknown))}"
            )
        schema = {p.name: schema_rule(p, coerce) for p in self.spec.params}
        validator = CasaValidator()
        if validator.validate(dict(values), schema):
            return {name: validator.document[name] for name in self.spec.param_names}
        errors = dict(validator.errors)
        problems = []
        for p in self.spec.params:
            if p.name in errors:
                value = values.get(p.name)
                reason = _reason(errors.pop(p.name), value)
                errors.pop(str(value), None)
                errors.pop(repr(value), None)
                problems.append(f"{p.name}={value!r} {reason}: expected {expected_text(p)}")
        # cReqPath files a missing path under the path itself (dropped above when matched)
        problems += [f"{key!r}: {msgs}" for key, msgs in errors.items()]
        raise ValueError(f"{self.spec.name}: " + "; ".join(problems))

    def _run(self, document: dict[str, Any]) -> Any:
        implementation = self.implementation
        from casatasks.private.task_logging import end_log, except_log, start_log

        name = self.spec.name
        state = start_log(name, [f"{k}={v!r}" for k, v in document.items()])
        result = None
        try:
            result = implementation(*document.values())
        except Exception as exc:
            except_log(name, exc)
            raise
        finally:
            result = end_log(state, name, result)
        return result

    # ------------------------------------------------- prompt (inp/go) support

    def _namespace_values(self, namespace: Mapping[str, Any] | None) -> dict[str, Any]:
        values = self.spec.defaults()
        if namespace is not None:
            for name in values:
                if name in namespace:
                    values[name] = namespace[name]
        return values

    def _shell(self, action: str) -> dict[str, Any]:
        shell = find_shell_namespace()
        if shell is None:
            raise RuntimeError(
                f"{action} works on the CASA prompt's variables; outside casashell "
                f"call the task with keywords, e.g. {self.spec.name}(vis=...)"
            )
        return shell

    def set_global_defaults(self) -> None:
        """``default(task)``: drop this task's parameters from the prompt's globals."""
        shell = self._shell(f"default({self.spec.name})")
        for name in self.spec.param_names:
            shell.pop(name, None)

    def inp(self) -> None:
        """``inp(task)``: current values (blue: not default, red: invalid) and short help."""
        values = self._namespace_values(find_shell_namespace())
        defaults = self.spec.defaults()
        color = sys.stdout.isatty()
        width = shutil.get_terminal_size(fallback=(80, 24)).columns
        print(f"# {self.spec.name} -- {self.spec.shortdescription}")
        for p in self.spec.params:
            value = values[p.name]
            text = f"'{value}'" if isinstance(value, str) else str(value)
            pre = post = ""
            if color:
                if not self._is_valid(p, value):
                    pre, post = _RED, _RESET
                elif not _same(value, defaults[p.name]):
                    pre, post = _BLUE, _RESET
            head = f"{p.name:<12.12} = {pre}{text:<23}{post}"
            lines = textwrap.wrap(
                p.shortdescription,
                max(width - 41, 20),
                initial_indent="",
            ) or [""]
            print(f"{head} # {lines[0]}".rstrip())
            for more in lines[1:]:
                print(" " * 39 + "# " + more)

    def _is_valid(self, param: ParamSpec, value: Any) -> bool:
        from casatools.coercetype import coerce
        from casatools.typecheck import CasaValidator

        return bool(
            CasaValidator().validate({param.name: value}, {param.name: schema_rule(param, coerce)})
        )

    def tput(self, outfile: str | None = None) -> bool:
        """``tput(task)``: save the current values to ``<task>.last`` (or outfile)."""
        values = self._namespace_values(find_shell_namespace())
        path = outfile if outfile is not None else f"{self.spec.name}.last"
        try:
            self._write_params(path, values)
        except OSError as exc:
            print(f"could not write {path}: {exc}")
            return False
        return True

    def tget(self, savefile: str | None = None) -> None:
        """``tget(task)``: restore the values saved in ``<task>.last`` (or savefile)."""
        shell = self._shell(f"tget({self.spec.name})")
        path = savefile
        if path is None:
            last = f"{self.spec.name}.last"
            path = last if os.path.isfile(last) else f"{self.spec.name}.saved"
        if not os.path.isfile(path):
            print(f"could not find last file: {path}\nsetting defaults instead...")
            self.set_global_defaults()
            return
        shell.update(self.read_params(path))

    def read_params(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """This task's parameters from a ``.last``/tput file (``name = literal`` lines)."""
        values: dict[str, Any] = {}
        tree = ast.parse(Path(path).read_text(), filename=str(path))
        for node in tree.body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                continue
            target = node.targets[0]
            if not isinstance(target, ast.Name) or target.id not in self.spec.param_names:
                continue
            try:
                values[target.id] = ast.literal_eval(node.value)
            except ValueError:
                print(f"{path}:{node.lineno}: {target.id} is not a literal value; skipped")
        return values

    def _write_params(self, path: str, values: Mapping[str, Any]) -> None:
        """casashell's ``.last`` format: ``name = repr`` lines, then the call as a comment."""
        items = [(name, _literal_repr(values[name])) for name in self.spec.param_names]
        with open(path, "w") as f:
            for name, text in items:
                f.write(f"{name:<10} = {text}\n")
            f.write(f"#{self.spec.name}( " + ",".join(f"{n}={t}" for n, t in items) + " )\n")


def _signature(spec: TaskSpec) -> inspect.Signature:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature(
        [inspect.Parameter(p.name, kind, default=p.default) for p in spec.params]
    )


def _task_class(spec: TaskSpec) -> type[CasaTask]:
    """A CasaTask subclass named after the task, documented from its XML."""

    def __call__(self: CasaTask, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        return CasaTask.__call__(self, *args, **kwargs)

    __call__.__doc__ = f"Run {spec.name}: {spec.shortdescription}"
    sig = _signature(spec)
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    __call__.__signature__ = sig.replace(parameters=[self_param, *sig.parameters.values()])  # type: ignore[attr-defined]
    return type(
        spec.name,
        (CasaTask,),
        {
            "__doc__": render_doc(spec),
            "__module__": __name__,
            "__call__": __call__,
            "_info_group_": spec.category,
            "_info_desc_": spec.shortdescription,
        },
    )
