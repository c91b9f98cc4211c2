"""Every xml/*.xml matches its task, and CasaTask behaves like casatasks' generated wrappers.

Needs casatools (validator) and casatasks (task logging), no measurement set. The
XML is read here with ElementTree on purpose: the oracle must not be the parser
under test (almacal.casatask.spec).
"""

import ast
import importlib
import importlib.util
import inspect
import json
import os
import pathlib
import pydoc
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# casatools imports offline only with a site config (CASA_NOTES); a conftest may set it first.
os.environ.setdefault("CASASITECONFIG", str(ROOT / "casa_init" / "config.py"))

XML_FILES = sorted((ROOT / "xml").glob("*.xml"))
TASKS = [p.stem for p in XML_FILES]
NS = "{http://casa.nrao.edu/schema/psetTypes.html}"


SCALARS = {"string": str, "path": str, "int": int, "double": float}


def _allowed(p, kind):
    allowed = p.find(f"{NS}allowed")
    if allowed is None or allowed.get("kind", "enum") != kind:
        return None
    return allowed.findall(f"{NS}value")


def _xml_params(name):
    """[(name, type, default, enum values)] straight from the XML file."""
    task = ET.parse(ROOT / "xml" / f"{name}.xml").getroot().find(f"{NS}task")
    out = []
    for p in task.find(f"{NS}input").findall(f"{NS}param"):
        value = p.find(f"{NS}value")
        ptype = p.get("type")
        if ptype.endswith("Vec"):
            scalar = SCALARS[ptype.removesuffix("Vec")]
            default = [scalar(v.text) for v in value.findall(f"{NS}value")]
        elif ptype == "bool":
            default = {"True": True, "False": False}[value.text]
        else:
            default = SCALARS[ptype](value.text or "")
        enum = [v.text or "" for v in _allowed(p, "enum") or []]
        out.append((p.get("name"), ptype, default, enum))
    return out


def _xml_ranges(name):
    """[(name, minimum or None, maximum or None)] of <allowed kind="range"> parameters."""
    task = ET.parse(ROOT / "xml" / f"{name}.xml").getroot().find(f"{NS}task")
    out = []
    for p in task.find(f"{NS}input").findall(f"{NS}param"):
        values = _allowed(p, "range")
        if values is not None:
            bounds = {v.get("range"): float(v.text) for v in values}
            out.append((p.get("name"), bounds.get("min"), bounds.get("max")))
    return out


class Recorder:
    """Stands in for a task implementation: records what the wrapper passes."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args):
        self.calls.append(args)
        return {"ok": True}


@pytest.fixture
def recorded(request):
    """(task built from the real XML with a recording implementation, recorder)."""
    from almacal.casatask.spec import load_spec
    from almacal.casatask.task import CasaTask

    rec = Recorder()
    return CasaTask(load_spec(request.param), rec), rec


# ---------------------------------------------------------------- real task XML


def test_task_list_matches_xml_directory():
    import almacal
    from almacal.casatask.spec import task_names

    assert TASKS, "no xml/*.xml found"
    assert almacal.__all__ == TASKS == task_names()
    assert set(TASKS) <= set(dir(almacal))


@pytest.mark.parametrize("name", TASKS)
def test_implementation_signature_is_the_xml_parameter_list(name):
    module = importlib.import_module(f"almacal.tasks.task_{name}")
    sig = inspect.signature(getattr(module, name))
    assert list(sig.parameters) == [p[0] for p in _xml_params(name)]
    for param in sig.parameters.values():
        # like casatasks' private task_*: the XML is the only place defaults live
        assert param.default is inspect.Parameter.empty, f"{name}.{param.name} has a default"
        assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


@pytest.mark.parametrize("recorded", TASKS, indirect=True)
def test_python_call_defaults_are_the_xml_defaults(recorded):
    task, rec = recorded
    xml = _xml_params(task.spec.name)
    expected = [p[2] for p in xml]

    assert [p.default for p in inspect.signature(task).parameters.values()] == expected
    task()  # outside casashell a bare call takes the XML defaults
    first = xml[0]
    task(**{first[0]: first[2]})
    assert rec.calls == [tuple(expected), tuple(expected)]
    for got, want in zip(rec.calls[0], expected, strict=True):
        assert type(got) is type(want)


@pytest.mark.parametrize(
    ("recorded", "param"),
    [(n, p[0]) for n in TASKS for p in _xml_params(n) if p[3]],
    indirect=["recorded"],
)
def test_enum_parameters_reject_other_values(recorded, param):
    task, rec = recorded
    with pytest.raises(ValueError, match=rf"{param}='no-such-choice' is not allowed") as err:
        task(**{param: "no-such-choice"})
    for allowed in dict((p[0], p[3]) for p in _xml_params(task.spec.name))[param]:
        assert repr(allowed) in str(err.value)  # the message lists the choices
        task(**{param: allowed})
    assert len(rec.calls) == len(task.spec.param(param).allowed)  # never with the bad value


@pytest.mark.parametrize(
    ("recorded", "param", "low", "high"),
    [(n, *r) for n in TASKS for r in _xml_ranges(n)],
    indirect=["recorded"],
)
def test_range_parameters_reject_values_outside(recorded, param, low, high):
    task, rec = recorded
    assert low is not None or high is not None, f"{param}: a range without bounds"
    for bad in [
        b
        for b in (low - 1 if low is not None else None, high + 1 if high is not None else None)
        if b is not None
    ]:
        value = int(bad) if task.spec.param(param).type == "int" else bad
        with pytest.raises(ValueError, match=param):
            task(**{param: value})
    assert rec.calls == []  # never called with an out-of-range value


@pytest.mark.parametrize("recorded", TASKS, indirect=True)
def test_unknown_keyword_is_a_type_error_naming_it(recorded):
    task, rec = recorded
    with pytest.raises(TypeError, match="'visibility'"):
        task(visibility=["a.ms"])
    assert rec.calls == []


def test_almacal_import_does_not_import_casatools():
    code = (
        "import sys, almacal\n"
        "names = dir(almacal)\n"
        "from almacal.casatask import spec as taskspec\n"
        "spec = taskspec.load_spec(almacal.__all__[0])\n"
        "assert 'casatools' not in sys.modules and 'casatasks' not in sys.modules\n"
        "print(sorted(set(names) & set(almacal.__all__)))\n"
    )
    env = dict(os.environ)
    env.pop("CASASITECONFIG", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == repr(sorted(TASKS))


def test_module_attribute_is_a_cached_casatask():
    import almacal
    from almacal.casatask.task import CasaTask

    task = almacal.relcal_fit
    assert isinstance(task, CasaTask) and task is almacal.relcal_fit
    assert task._info_group_ and task._info_desc_  # what casashell's taskhelp() lists
    with pytest.raises(AttributeError, match="no_such_task"):
        almacal.no_such_task  # noqa: B018


# ------------------------------------------------- CasaTask on a test-only XML

TEST_XML = """<?xml version="1.0" encoding="UTF-8"?>
<casaxml xmlns="http://casa.nrao.edu/schema/psetTypes.html">
<task type="function" name="echo_task" category="testing, analysis">
<shortdescription>Echo the parameters (test only)</shortdescription>
<description>
  Writes nothing; returns its parameters.
</description>
<input>
  <param type="stringVec" name="vis"><shortdescription>Inputs</shortdescription>
    <description>Long text about vis.</description><value></value></param>
  <param type="string" name="mode"><shortdescription>Mode</shortdescription>
    <value>fast</value>
    <allowed kind="enum"><value>fast</value><value>slow</value></allowed></param>
  <param type="int" name="niter"><shortdescription>Iterations</shortdescription>
    <value>5</value><allowed kind="range"><value range="min">0</value></allowed></param>
  <param type="double" name="scale"><shortdescription>Scale</shortdescription>
    <value>1</value></param>
  <param type="doubleVec" name="weights"><shortdescription>Weights</shortdescription>
    <value><value>1</value><value>0.5</value></value></param>
  <param type="bool" name="flag"><shortdescription>Flag</shortdescription>
    <value>False</value></param>
  <param type="path" name="table" mustexist="true"><shortdescription>A table</shortdescription>
    <value>.</value></param>
</input>
<returns type="record">The parameters.</returns>
<example>
echo_task(vis=['a.ms'], niter=3)
</example>
</task>
</casaxml>
"""


@pytest.fixture
def echo(tmp_path):
    from almacal.casatask.task import CasaTask

    xml = tmp_path / "echo_task.xml"
    xml.write_text(TEST_XML)
    rec = Recorder()
    return CasaTask.from_xml(xml, rec), rec


def test_spec_defaults_have_python_types(echo):
    task, _ = echo
    assert task.spec.defaults() == {
        "vis": [],
        "mode": "fast",
        "niter": 5,
        "scale": 1.0,
        "weights": [1.0, 0.5],
        "flag": False,
        "table": ".",
    }
    assert task.spec.param("niter").minimum == 0
    assert task.spec.param("mode").allowed == ("fast", "slow")
    assert task.spec.defaults()["weights"] is not task.spec.defaults()["weights"]


def test_values_are_coerced_and_passed_in_xml_order(echo):
    task, rec = echo
    task("one.ms", "slow", scale=2, weights=np.array([3, 4]))
    assert rec.calls == [(["one.ms"], "slow", 5, 2.0, [3.0, 4.0], False, ".")]
    assert type(rec.calls[0][3]) is float


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"niter": -1}, "niter=-1 is out of range: expected an integer >= 0"),
        ({"niter": 2.5}, r"niter=2.5 has the wrong type \(float\): expected an integer"),
        ({"flag": "yes"}, r"flag='yes' has the wrong type \(str\): expected True or False"),
        ({"weights": ["a"]}, r"weights=\['a'\] has the wrong type .*: expected a list of numbers"),
        ({"mode": "Fast"}, r"mode='Fast' is not allowed: expected one of 'fast', 'slow'"),
        ({"table": "no_such.tab"}, "table='no_such.tab' does not exist"),
    ],
    ids=["below-min", "float-for-int", "str-for-bool", "str-in-doubleVec", "enum-case", "path"],
)
def test_invalid_value_is_a_value_error_before_the_task_runs(echo, kwargs, message):
    task, rec = echo
    with pytest.raises(ValueError, match=message):
        task(**kwargs)
    assert rec.calls == []


def test_every_invalid_parameter_is_reported_at_once(echo):
    task, _ = echo
    with pytest.raises(ValueError, match=r"mode='x' .*; niter=-3 "):
        task(mode="x", niter=-3)


def test_argument_errors_are_type_errors(echo):
    task, _ = echo
    with pytest.raises(TypeError, match="'mode' both by position and by keyword"):
        task(["a.ms"], "fast", mode="slow")
    with pytest.raises(TypeError, match="takes 7 parameters but 8 were given"):
        task(*range(8))


def test_begin_and_end_task_are_logged(echo, tmp_path):
    from casatasks import casalog

    task, _ = echo
    old = casalog.logfile()
    log = tmp_path / "casa.log"
    casalog.setlogfile(str(log))
    try:
        task(vis=["a.ms"])
    finally:
        casalog.setlogfile(old)
    text = log.read_text()
    assert "Begin Task: echo_task" in text and "End Task: echo_task" in text
    assert "echo_task( vis=['a.ms'], mode='fast'" in text


def test_help_and_taskhelp_attributes_come_from_the_xml(echo):
    task, _ = echo
    assert task._info_group_ == "testing, analysis"
    assert task._info_desc_ == "Echo the parameters (test only)"
    doc = pydoc.render_doc(task, renderer=pydoc.plaintext)
    for text in ("echo_task ---- Echo the parameters", "Long text about vis.", "niter", "5"):
        assert text in doc
    assert "allowed: 'fast', 'slow'" in doc and "echo_task(vis=['a.ms'], niter=3)" in doc
    assert str(inspect.signature(task)).startswith("(vis=[], mode='fast', niter=5")


def test_outside_casashell_no_last_file_and_prompt_actions_explain(echo, tmp_path, monkeypatch):
    task, rec = echo
    monkeypatch.chdir(tmp_path)
    task()
    assert rec.calls and not (tmp_path / "echo_task.last").exists()
    with pytest.raises(RuntimeError, match="CASA prompt"):
        task.set_global_defaults()
    with pytest.raises(RuntimeError, match="CASA prompt"):
        task.tget()


def _at_prompt(code, namespace):
    """Run code as if typed at the casashell prompt (globals hold __casashell_state__)."""
    namespace.setdefault("__casashell_state__", {})
    exec(compile(code, "<casa prompt>", "exec"), namespace)
    return namespace


def test_bare_call_at_the_prompt_uses_the_globals_and_writes_last(echo, tmp_path, monkeypatch):
    task, rec = echo
    monkeypatch.chdir(tmp_path)
    ns = _at_prompt("vis = 'x.ms'\nniter = 9\nresult = task()", {"task": task})
    assert rec.calls == [(["x.ms"], "fast", 9, 1.0, [1.0, 0.5], False, ".")]
    assert ns["result"] == {"ok": True}
    assert task.read_params(tmp_path / "echo_task.last")["vis"] == ["x.ms"]  # coerced values

    # a keyword call ignores the globals, like CASA's own tasks
    _at_prompt("task(mode='slow')", ns)
    assert rec.calls[-1][:3] == ([], "slow", 5)


def test_default_tput_tget_round_trip(echo, tmp_path, monkeypatch, capsys):
    task, _ = echo
    monkeypatch.chdir(tmp_path)
    ns = _at_prompt("vis = ['a.ms', 'b.ms']\nscale = 0.5\ntask.tput()", {"task": task})
    _at_prompt("task.set_global_defaults()", ns)
    assert "vis" not in ns and "scale" not in ns
    _at_prompt("task.tget()", ns)
    assert ns["vis"] == ["a.ms", "b.ms"] and ns["scale"] == 0.5 and ns["niter"] == 5

    _at_prompt("task.inp()", ns)
    out = capsys.readouterr().out
    assert out.startswith("# echo_task -- Echo the parameters")
    assert "vis          = ['a.ms', 'b.ms']" in out and "scale        = 0.5" in out


def test_failed_call_at_the_prompt_still_writes_last(echo, tmp_path, monkeypatch):
    task, rec = echo
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="niter=-2"):
        _at_prompt("niter = -2\ntask()", {"task": task})
    assert rec.calls == []
    assert task.read_params(tmp_path / "echo_task.last")["niter"] == -2


def test_tget_reads_literals_only(echo, tmp_path, monkeypatch):
    task, _ = echo
    monkeypatch.chdir(tmp_path)
    saved = tmp_path / "echo_task.saved"
    saved.write_text("niter = 4\nimport os\nmode = os.getcwd()\nunrelated = 1\n")
    ns = _at_prompt("task.tget()", {"task": task})
    assert ns["niter"] == 4 and "mode" not in ns and "unrelated" not in ns


# --------------------------- the validator schema is the one xml-casa generates

# Differences from casatasks' generated wrappers that are theirs, not ours.
XML_CASA_QUIRKS = {
    ("importatca", "lowfreq"),  # a quantity default on a double: xml-casa makes cDoubleQuant
    ("importatca", "highfreq"),
    ("sdcal", "intent"),  # in the XML but missing from the generated wrapper
}


def _canonical(rule):
    """anyof order is not meaningful (xml-casa builds it from a set); nor is allowed order."""
    if not isinstance(rule, dict):
        return rule
    out = dict(rule)
    if "anyof" in out:
        out["anyof"] = sorted((_canonical(r) for r in out["anyof"]), key=repr)
    if "allowed" in out:
        out["allowed"] = sorted(out["allowed"], key=repr)
    return out


def _parse_wrapper(path):
    with warnings.catch_warnings():
        # casatasks' generated docstrings hold invalid escapes such as '\*'
        # (DeprecationWarning on 3.11, SyntaxWarning from 3.12): theirs, harmless here
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        return ast.parse(path.read_text(), filename=str(path))


def _generated_schema(wrapper, coerce):
    """The schema dict and parameter names of a casatasks wrapper, read from its source."""
    for node in ast.walk(_parse_wrapper(wrapper)):
        if isinstance(node, ast.FunctionDef) and node.name == "__call__":
            names = [a.arg for a in node.args.args[1:]]
            for sub in ast.walk(node):
                if isinstance(sub, ast.Assign) and getattr(sub.targets[0], "id", "") == "schema":
                    code = compile(ast.Expression(sub.value), str(wrapper), "eval")
                    return eval(code, {"_coerce": coerce}), names
    raise AssertionError(f"no schema in {wrapper}")


def test_schema_matches_xml_casa_for_every_casatasks_task():
    from casatools.coercetype import coerce

    from almacal.casatask.spec import parse_spec
    from almacal.casatask.task import schema_rule

    # find casatasks without importing it (its import starts the CASA logger)
    pkg = pathlib.Path(importlib.util.find_spec("casatasks").submodule_search_locations[0])
    checked, mismatches = 0, []
    for xml in sorted((pkg / "__xml__").glob("*.xml")):
        spec = parse_spec(xml.read_bytes())
        generated, names = _generated_schema(pkg / f"{xml.stem}.py", coerce)
        for p in spec.params:
            if (xml.stem, p.name) in XML_CASA_QUIRKS:
                continue
            checked += 1
            if p.name not in names or _canonical(schema_rule(p, coerce)) != _canonical(
                generated[p.name]
            ):
                mismatches.append((xml.stem, p.name, p.type))
    assert checked > 1500  # guard: the comparison really covered casatasks' parameters
    assert mismatches == []


def test_casatasks_xml_defaults_match_the_generated_signatures():
    """Defaults of typed parameters (not variant/any, which CASA writes as Python literals)."""
    from almacal.casatask.spec import parse_spec

    pkg = pathlib.Path(importlib.util.find_spec("casatasks").submodule_search_locations[0])
    checked, mismatches = 0, []
    for xml in sorted((pkg / "__xml__").glob("*.xml")):
        spec = parse_spec(xml.read_bytes())
        tree = _parse_wrapper(pkg / f"{xml.stem}.py")
        call = next(n for n in ast.walk(tree) if getattr(n, "name", "") == "__call__")
        args = call.args.args[1:]
        for arg, default in zip(args, call.args.defaults[-len(args) :], strict=True):
            if arg.arg not in spec.param_names:
                continue
            p = spec.param(arg.arg)
            if p.type in ("any", "variant") or (xml.stem, p.name) in XML_CASA_QUIRKS:
                continue
            checked += 1
            value = eval(compile(ast.Expression(default), "", "eval"), {"int": int, "float": float})
            if json.dumps(value) != json.dumps(p.default):
                mismatches.append((xml.stem, p.name, value, p.default))
    assert checked > 900
    assert mismatches == []
