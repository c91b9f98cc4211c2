"""Read CASA task XML (the casatasks ``<casaxml>`` format) into plain Python.

Pure: no casatools. ``xml/<task>.xml`` is the one source of truth for a task's
parameter names, order, types, defaults, allowed values and documentation;
``almacal.casatask.task`` turns a :class:`TaskSpec` into a callable CASA task.

Defaults become Python values the way xml-casa writes them into the generated
wrappers: ``bool`` 'True'/'False' -> bool, ``int`` -> int, ``double`` -> float,
``string``/``path`` -> str, ``*Vec`` -> list (children ``<value>`` elements, or
empty), ``variant``/``any`` -> str unless the ``<value type="...">`` says otherwise,
``record`` -> dict (empty only).
"""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

XML_PACKAGE = "almacal/xml"

SCALAR_TYPES = ("string", "path", "bool", "int", "double", "variant", "any", "record")
VECTOR_TYPES = ("stringVec", "pathVec", "boolVec", "intVec", "doubleVec")
PARAM_TYPES = SCALAR_TYPES + VECTOR_TYPES

# Spellings xml-casa accepts for our type names.
_ALIASES = {"float": "double", "floatVec": "doubleVec"}

# Types a <type> child may name (it overrides the param's type for validation).
_TYPE_CHILDREN = PARAM_TYPES + ("intArray", "doubleArray")

_VECTOR_ELEMENT = {
    "stringVec": "string",
    "pathVec": "path",
    "boolVec": "bool",
    "intVec": "int",
    "doubleVec": "double",
    # spellings used in <value type=".."> and <type> of 'any' parameters
    "stringArray": "string",
    "intArray": "int",
    "doubleArray": "double",
    "boolArray": "bool",
}


@dataclass(frozen=True)
class ParamSpec:
    """One ``<param>`` of a task.

    ``allowed`` holds the enum values (empty: anything of the right type);
    ``minimum``/``maximum`` the ``<allowed kind="range">`` bounds. ``types``
    lists the ``<type>`` children, which override ``type`` for validation (one:
    that type; several: any of them), as in xml-casa.
    ``default`` is a fresh object per parse; callers must copy it before handing
    it to user code (lists are mutable).
    """

    name: str
    type: str
    default: Any = field(hash=False)
    allowed: tuple[Any, ...] = ()
    mustexist: bool = False
    shortdescription: str = ""
    description: str = ""
    minimum: int | float | None = None
    maximum: int | float | None = None
    ignorecase: bool = False
    subparam: bool = False
    types: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskSpec:
    """One ``<task>``: its parameters in XML order plus its documentation."""

    name: str
    category: str
    shortdescription: str
    description: str
    params: tuple[ParamSpec, ...]
    returns: str = ""
    example: str = ""

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(
            f"task {self.name!r} has no parameter {name!r}; "
            f"parameters are: {', '.join(self.param_names)}"
        )

    def defaults(self) -> dict[str, Any]:
        """Fresh copies of the XML defaults, in XML order."""
        return {p.name: _fresh(p.default) for p in self.params}


def _fresh(value: Any) -> Any:
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    return value


def _local(tag: str) -> str:
    """Tag without its '{namespace}' prefix."""
    return tag.rsplit("}", 1)[-1]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in elem if _local(c.tag) == name]


def _text(elem: ET.Element | None) -> str:
    """Element text as documentation: dedented, surrounding blank lines removed."""
    if elem is None or elem.text is None:
        return ""
    return textwrap.dedent(elem.text.expandtabs()).strip("\n").rstrip()


def _flag(elem: ET.Element, attr: str) -> bool:
    return elem.get(attr, "false").strip().lower() == "true"


def convert_scalar(text: str | None, type_: str, *, where: str = "") -> Any:
    """Text of one ``<value>`` as the Python value of an XML scalar type."""
    raw = "" if text is None else text
    if type_ in ("bool", "int", "double", "float") and not raw.strip():
        # xml-casa writes an empty numeric <value/> as bool()/int()/float()
        return {"bool": False, "int": 0}.get(type_, 0.0)
    try:
        if type_ == "bool":
            word = raw.strip().lower()
            if word in ("true", "t"):
                return True
            if word in ("false", "f"):
                return False
            raise ValueError
        if type_ == "int":
            return int(raw.strip())
        if type_ in ("double", "float"):
            return float(raw.strip())
    except ValueError:
        raise ValueError(f"{where}: value {raw!r} is not a valid {type_}") from None
    if type_ == "record":
        if raw.strip():
            raise ValueError(f"{where}: only an empty record default is supported, got {raw!r}")
        return {}
    # string, path, variant, any: the text as written
    return raw


def _vector_default(value: ET.Element, element_type: str, where: str) -> list[Any]:
    items = _children(value, "value")
    if items:
        return [convert_scalar(v.text, element_type, where=where) for v in items]
    if value.text is None or not value.text.strip():
        return []
    # A bare scalar where a vector is expected: a one-element list, as to_list would make.
    return [convert_scalar(value.text, element_type, where=where)]


def _default(value: ET.Element | None, type_: str, where: str) -> Any:
    if type_ in ("variant", "any") and value is not None:
        # The <value type=".."> of an 'any' parameter names the default's own type.
        vtype = value.get("type", "string")
        type_ = vtype if vtype in PARAM_TYPES or vtype in _VECTOR_ELEMENT else "string"
        if type_ in ("variant", "any", "vector"):
            type_ = "string"
    if type_ in VECTOR_TYPES or type_ in _VECTOR_ELEMENT:
        if value is None:
            return []
        return _vector_default(value, _VECTOR_ELEMENT[type_], where)
    return convert_scalar(None if value is None else value.text, type_, where=where)


def _parse_types(elem: ET.Element, where: str) -> tuple[str, ...]:
    """The <type> children, which override the param's type for validation."""
    types = tuple(
        _ALIASES.get(t, t) for t in ((c.text or "").strip() for c in _children(elem, "type"))
    )
    for t in types:
        if t not in _TYPE_CHILDREN:
            raise ValueError(
                f"{where}: <type>{t}</type> is not supported; "
                f"expected one of {', '.join(_TYPE_CHILDREN)}"
            )
    return types


@dataclass(frozen=True)
class _Allowed:
    values: tuple[Any, ...] = ()
    minimum: Any = None
    maximum: Any = None
    ignorecase: bool = False


def _parse_allowed(elem: ET.Element | None, type_: str, where: str) -> _Allowed:
    """<allowed kind="enum"> values or <allowed kind="range"> bounds."""
    if elem is None:
        return _Allowed()
    kind = elem.get("kind", "enum")
    value_type = _VECTOR_ELEMENT.get(type_, type_)
    if value_type in ("variant", "any"):
        value_type = "string"
    values = _children(elem, "value")
    if kind == "enum":
        return _Allowed(
            values=tuple(convert_scalar(v.text, value_type, where=where) for v in values),
            ignorecase=_flag(elem, "ignorecase"),
        )
    if kind != "range":
        raise ValueError(
            f"{where}: <allowed kind={kind!r}> is not supported; expected enum or range"
        )
    bound_type = value_type if value_type == "int" else "double"
    bounds = {v.get("range"): convert_scalar(v.text, bound_type, where=where) for v in values}
    return _Allowed(minimum=bounds.get("min"), maximum=bounds.get("max"))


def _parse_param(elem: ET.Element, task: str) -> ParamSpec:
    name = elem.get("name")
    type_ = _ALIASES.get(elem.get("type", ""), elem.get("type", ""))
    if not name:
        raise ValueError(f"task {task!r}: a <param> has no name")
    where = f"task {task!r} parameter {name!r}"
    if type_ not in PARAM_TYPES:
        raise ValueError(
            f"{where}: type {type_!r} is not supported; expected one of {', '.join(PARAM_TYPES)}"
        )
    allowed = _parse_allowed(_child(elem, "allowed"), type_, where)
    return ParamSpec(
        name=name,
        type=type_,
        default=_default(_child(elem, "value"), type_, where),
        allowed=allowed.values,
        mustexist=_flag(elem, "mustexist"),
        shortdescription=" ".join(_text(_child(elem, "shortdescription")).split()),
        description=_text(_child(elem, "description")),
        minimum=allowed.minimum,
        maximum=allowed.maximum,
        ignorecase=allowed.ignorecase,
        subparam=_flag(elem, "subparam"),
        types=_parse_types(elem, where),
    )


def parse_spec(xml_text: str | bytes) -> TaskSpec:
    """Parse the text of a CASA task XML file (one ``<task>``)."""
    root = ET.fromstring(xml_text)
    task = root if _local(root.tag) == "task" else _child(root, "task")
    if task is None:
        raise ValueError("no <task> element in the XML")
    name = task.get("name")
    if not name:
        raise ValueError("the <task> element has no name")
    input_elem = _child(task, "input")
    params = (
        tuple(_parse_param(p, name) for p in _children(input_elem, "param"))
        if input_elem is not None
        else ()
    )
    seen: set[str] = set()
    for p in params:
        if p.name in seen:
            raise ValueError(f"task {name!r}: parameter {p.name!r} is defined twice")
        seen.add(p.name)
    return TaskSpec(
        name=name,
        category=task.get("category", ""),
        shortdescription=" ".join(_text(_child(task, "shortdescription")).split()),
        description=_text(_child(task, "description")),
        params=params,
        returns=_text(_child(task, "returns")),
        example=_text(_child(task, "example")),
    )


def _xml_dir() -> Traversable:
    # package data almacal/xml/*.xml (a link to the top-level xml/ in the source tree)
    return resources.files("almacal").joinpath("xml")


def load_spec(name: str) -> TaskSpec:
    """The TaskSpec of ``almacal/xml/<name>.xml``."""
    resource = _xml_dir().joinpath(f"{name}.xml")
    if not resource.is_file():
        raise ValueError(
            f"no task XML {name}.xml in {XML_PACKAGE}; tasks are: {', '.join(task_names())}"
        )
    spec = parse_spec(resource.read_bytes())
    if spec.name != name:
        raise ValueError(
            f"{name}.xml defines task {spec.name!r}; the file must be named after its task"
        )
    return spec


def task_names() -> list[str]:
    """Names of the tasks with an XML in ``almacal/xml``, sorted."""
    return sorted(
        entry.name[: -len(".xml")]
        for entry in _xml_dir().iterdir()
        if entry.name.endswith(".xml") and entry.is_file()
    )
