"""almacal.pipeline without the pipeline: `import almacal` never imports it, and register()
says what is missing. These run everywhere (no pipeline needed)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import resources

import pytest

from almacal.pipeline import STAGES


def _python(code: str) -> subprocess.CompletedProcess:
    # -I: no user site, no PYTHONPATH (a pipeline tree there would be found)
    return subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120
    )


def test_import_almacal_does_not_import_the_pipeline():
    proc = _python(
        "import sys, almacal, almacal.pipeline, almacal.report.build; "
        "print(sorted(m for m in sys.modules if m == 'pipeline' or m.startswith('pipeline.')))"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


def test_register_without_the_pipeline_names_what_is_missing():
    proc = _python(
        "import almacal.pipeline as p\n"
        "try:\n    p.register()\nexcept ImportError as e:\n    print('ImportError:', e)\n"
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "ImportError: almacal.pipeline needs the ALMA pipeline" in out, out
    assert "No module named 'pipeline'" in out and "[pipeline] extra" in out, out


RECIPE = resources.files("almacal.pipeline") / "recipes" / "procedure_hifa_cal_almacal.xml"


def _commands() -> list[str]:
    return [str(c.text) for c in ET.parse(str(RECIPE)).getroot().iter("Command")]


def test_example_recipe_is_hifa_cal_with_the_stages():
    commands = _commands()
    anchors = ("hif_setmodels", "hif_applycal")
    order = [c for c in commands if c.startswith("almacal_") or c in anchors]
    assert order == [
        "almacal_gridflux_check",
        "hif_setmodels",
        "almacal_relcal",
        "hif_applycal",
        "almacal_spwconsistency",
    ], order
    assert commands[0] == "hifa_importdata" and commands[-1] == "hifa_exportdata"


@pytest.mark.needs_pipeline
def test_example_recipe_names_only_known_commands():
    import pipeline.cli

    import almacal.pipeline

    almacal.pipeline.register()
    unknown = [c for c in _commands() if not callable(getattr(pipeline.cli, c, None))]
    assert not unknown, unknown


@pytest.mark.needs_pipeline
def test_startup_snippet_registers_the_stages_in_the_prompt_namespace():
    from pathlib import Path

    snippet = Path(__file__).parents[2] / "casa_init" / "pipeline_startup.py"
    namespace: dict = {}
    exec(compile(snippet.read_text(), str(snippet), "exec"), namespace)
    assert all(callable(namespace.get(s)) for s in STAGES), sorted(namespace)
    assert not [k for k in namespace if k.startswith("_almacal") or k == "_pipeline_cli"]
