"""End to end at the real CASA prompt (python -m casashell, the pip `casa`).

Two casashell processes for the whole module (~3 s each): one interactive session
fed on stdin (IPython falls back to its plain line prompt when stdin is not a tty)
whose transcript is cut into steps by '@@step' markers, and one `-c script.py`.
The start-up file runs casa_init/startup.py (twice: a second run must be harmless)
and adds a test-only task, echo_task, built from a tmp XML with the same CasaTask
machinery; it writes its parameters to JSON, so go/tget/default can be checked
without measurement sets. The real tasks are driven only into validation errors.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.casa

ROOT = pathlib.Path(__file__).resolve().parents[2]
STARTUP = ROOT / "casa_init" / "startup.py"

ECHO_XML = """<?xml version="1.0" encoding="UTF-8"?>
<casaxml xmlns="http://casa.nrao.edu/schema/psetTypes.html">
<task type="function" name="echo_task" category="testing">
<shortdescription>Write the parameters to outfile as JSON (test only)</shortdescription>
<description>Test-only task.</description>
<input>
  <param type="stringVec" name="vis"><shortdescription>Inputs</shortdescription>
    <value></value></param>
  <param type="string" name="mode"><shortdescription>Mode</shortdescription><value>fast</value>
    <allowed kind="enum"><value>fast</value><value>slow</value></allowed></param>
  <param type="int" name="niter"><shortdescription>Iterations</shortdescription>
    <value>5</value></param>
  <param type="double" name="scale"><shortdescription>Scale</shortdescription>
    <value>1.0</value></param>
  <param type="string" name="outfile"><shortdescription>JSON output</shortdescription>
    <value>echo.json</value></param>
</input>
<returns type="record">The parameters.</returns>
</task>
</casaxml>
"""

ECHO_IMPL = '''
"""Test-only CASA task module (listed by taskhelp through extra_task_modules)."""
import json
import pathlib

from almacal.casatask.task import CasaTask


def _echo(vis, mode, niter, scale, outfile):
    params = {"vis": vis, "mode": mode, "niter": niter, "scale": scale, "outfile": outfile}
    pathlib.Path(outfile).write_text(json.dumps(params))
    return params


echo_task = CasaTask.from_xml(pathlib.Path(__file__).with_name("echo_task.xml"), _echo)
'''

STARTUP_TEMPLATE = """
import sys
sys.path.insert(0, {here!r})
for _ in range(2):  # a second run of the user's snippet must be harmless
    exec(compile(open({real!r}).read(), {real!r}, "exec"))
import casashell as _cs
import echo_impl as _echo_impl
from echo_impl import echo_task
_cs.extra_task_modules.append(_echo_impl)
register_builtin("echo_task")
"""

SESSION = """
print('@@inp_real')
inp relcal_fit
print('@@go')
vis = ['a.ms', 'b.ms']
niter = 7
scale = 2
outfile = 'go.json'
go echo_task
print('@@inp_after_go')
inp echo_task
print('@@default')
default echo_task
print('left:', sorted(n for n in ('vis', 'mode', 'niter', 'scale', 'outfile') if n in globals()))
print('@@tget')
tget echo_task
print('restored:', vis, niter, scale, outfile)
print('@@keywords')
echo_task(vis='c.ms', outfile='kw.json')
print('@@tput')
niter = 11
tput(echo_task, 'saved.last')
default echo_task
tget(echo_task, 'saved.last')
print('niter:', niter)
print('@@invalid')
datacolumn = 'bogus'
go relcal_fit
print('@@tget_real')
default relcal_fit
print('datacolumn' in globals())
tget relcal_fit
print('datacolumn:', datacolumn)
print('@@builtin')
from os import path as relcal_fit
print('@@taskhelp')
taskhelp()
print('@@help')
help(relcal_fit)
print('@@end')
exit
"""

SCRIPT = """
result = echo_task(vis='x.ms', niter=3, outfile='script.json')
print('RESULT', result)
try:
    relcal_fit(vis=['x.ms'], datacolumn='bogus')
except ValueError as exc:
    print('VALUEERROR', exc)
try:
    relcal_apply(factors=[1.0])
except TypeError as exc:
    print('TYPEERROR', exc)
plan = b2b_phasetransfer(mode='plan', band=7, maxbaseline=16.0, sepinband=3.0, sepb2b=0.5)
print('PLAN', plan['plan']['choice'])
relcal_fit(vis=[], groupby='week')  # uncaught: casa must exit non-zero
"""


@pytest.fixture(scope="module")
def casa_dir(tmp_path_factory):
    here = tmp_path_factory.mktemp("casashell")
    (here / "home").mkdir()  # HOME: no user config.py/startup.py interferes
    (here / "echo_task.xml").write_text(ECHO_XML)
    (here / "echo_impl.py").write_text(ECHO_IMPL)
    (here / "startup.py").write_text(STARTUP_TEMPLATE.format(here=str(here), real=str(STARTUP)))
    return here


def run_casa(casa_dir, args=(), stdin=None):
    env = dict(os.environ, HOME=str(casa_dir / "home"))
    env.setdefault("CASASITECONFIG", str(ROOT / "casa_init" / "config.py"))
    cmd = [
        sys.executable,
        "-m",
        "casashell",
        "--nologger",
        "--nologfile",
        "--log2term",
        "--nogui",
        "--agg",
        "--colors",
        "NoColor",
        "--startupfile",
        str(casa_dir / "startup.py"),
        *args,
    ]
    try:
        return subprocess.run(
            cmd,
            input=stdin,
            cwd=casa_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"casashell did not finish in 120 s; output:\n{exc.output}")


@pytest.fixture(scope="module")
def session(casa_dir):
    """Transcript of the interactive session, by step."""
    proc = run_casa(casa_dir, stdin=textwrap.dedent(SESSION))
    # the plain prompt prints "CASA <n>: " before each cell's output, on the same line
    parts = re.split(r"@@(\w+)\n", proc.stdout)
    steps = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert "end" in steps, f"session did not reach its end (rc {proc.returncode}):\n{proc.stdout}"
    return steps


def _inp_value(text, name):
    """The value column of one parameter in inp output."""
    match = re.search(rf"^{name}\s+= (.*?)\s+#", text, flags=re.M)
    assert match, f"{name} not in inp output:\n{text}"
    return match.group(1)


def test_inp_lists_the_real_task_with_its_xml_defaults(session):
    from almacal.casatask.spec import load_spec

    text = session["inp_real"]
    assert re.search(r"CASA <\d+>: # relcal_fit -- Relative flux calibration", text)
    for p in load_spec("relcal_fit").params:
        assert _inp_value(text, p.name) == repr(p.default)


def test_go_runs_the_task_with_the_prompt_globals(session, casa_dir):
    params = json.loads((casa_dir / "go.json").read_text())
    assert params == {"vis": ["a.ms", "b.ms"], "mode": "fast", "niter": 7, "scale": 2.0,
                      "outfile": "go.json"}  # fmt: skip
    assert isinstance(params["scale"], float)  # coerced from the int typed at the prompt
    assert "Begin Task: echo_task" in session["go"] and "End Task: echo_task" in session["go"]
    assert _inp_value(session["inp_after_go"], "vis") == "['a.ms', 'b.ms']"


def test_default_clears_and_tget_restores_from_last(session):
    assert "left: []" in session["default"]
    assert "restored: ['a.ms', 'b.ms'] 7 2.0 go.json" in session["tget"]


def test_keyword_call_at_the_prompt_ignores_globals(session, casa_dir):
    params = json.loads((casa_dir / "kw.json").read_text())
    assert params["vis"] == ["c.ms"] and params["niter"] == 5  # XML default, not the global 7


def test_tput_then_tget_from_a_named_file(session):
    assert "niter: 11" in session["tput"]


def test_invalid_value_at_go_names_the_parameter_and_tget_brings_it_back(session):
    assert "ValueError: relcal_fit: datacolumn='bogus' is not allowed" in session["invalid"]
    assert "False\n" in session["tget_real"] and "datacolumn: bogus" in session["tget_real"]


def test_tasks_are_registered_builtins(session):
    assert "attempt to modify a casa builtin value" in session["builtin"]


def test_taskhelp_lists_the_almacal_tasks_once(session):
    import almacal
    from almacal.casatask.spec import load_spec

    extra = session["taskhelp"].split("Extra tasks", 1)[1]
    assert len(almacal.__all__) == 5
    for name in almacal.__all__:
        spec = load_spec(name)
        short = re.escape(spec.shortdescription[:30])
        # once under each of its categories, although the startup file ran twice
        n_category = len(spec.category.split(","))
        assert len(re.findall(rf"{name} : {short}", extra)) == n_category, name
    assert re.search(r"echo_task : Write the parameters", extra)


def test_help_shows_the_xml_documentation(session):
    text = session["help"]
    assert "relcal_fit ---- Relative flux calibration" in text
    assert "allowed: 'auto', 'corrected', 'data'" in text


def test_script_calls_tasks_python_style(casa_dir):
    script = casa_dir / "script.py"
    script.write_text(SCRIPT)
    proc = run_casa(casa_dir, ["-c", str(script)])
    out = proc.stdout
    params = json.loads((casa_dir / "script.json").read_text())
    assert params == {"vis": ["x.ms"], "mode": "fast", "niter": 3, "scale": 1.0,
                      "outfile": "script.json"}  # fmt: skip
    assert "RESULT {'vis': ['x.ms']" in out
    assert "VALUEERROR relcal_fit: datacolumn='bogus' is not allowed" in out
    assert "TYPEERROR relcal_apply() got an unknown parameter 'factors'" in out
    assert "groupby='week' is not allowed" in out
    assert "PLAN b2b" in out  # 2.5 deg closer than seed 003's break-even 0.11 / 0.052 = 2.1 deg
    assert proc.returncode != 0, out


def test_real_chain_at_the_prompt_and_in_a_script(casa_dir, simulated_set, tmp_path):
    """go relcal_fit on simulated epochs at the prompt, then relcal_apply in a casa -c script."""
    vis, cals = list(simulated_set.paths), ",".join(simulated_set.calibrators)
    fit = tmp_path / "prompt_fit"
    session = f"vis = {vis!r}\nfield = {cals!r}\noutfile = {str(fit)!r}\ngo relcal_fit\nexit\n"
    proc = run_casa(casa_dir, stdin=session)
    assert "End Task: relcal_fit" in proc.stdout, proc.stdout[-3000:]
    rfcf = json.loads(fit.with_suffix(".json").read_text())["rfcf"]
    # the prompt run is the same fit as in test_relcal_fit: within its 0.3 % bar
    assert max(abs(r / t - 1) for r, t in zip(rfcf, simulated_set.true_rfcf, strict=True)) < 3e-3

    outs = [str(tmp_path / f"out{i}.ms") for i in range(len(vis))]
    script = tmp_path / "apply.py"
    script.write_text(
        f"rec = relcal_apply(vis={vis!r}, factorfile={str(fit) + '.json'!r}, outputvis={outs!r})\n"
        "print('APPLIED', [r['factor'] for r in rec['rescale']])\n"
    )
    proc = run_casa(casa_dir, ["-c", str(script)])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"APPLIED {rfcf!r}" in proc.stdout
    assert all(os.path.isdir(o) for o in outs)
