"""The ALMA pipeline for tests/stages: found, or every test that needs it skips.

(Not tests/pipeline: pytest puts tests/ on sys.path to import this conftest, and that
directory would then be the ``pipeline`` package.)

Where the pipeline comes from:

- monolithic CASA with the pipeline (``casa --pipeline``): ``import pipeline`` works;
- a pip environment with a pipeline source tree: ``ALMACAL_PIPELINE_SRC=/path/to/tree``
  (the directory holding ``pipeline/``) and ``pip install -e '.[test,pipeline]'``.

The tree is not put on sys.path itself: it also holds a regular package ``tests``,
which would hide this repository's ``tests`` namespace package (``tests.casa...``).
A directory holding only a ``pipeline`` symlink to it goes on sys.path instead.

The pipeline's own weblog plots use plotms (casaplotms' AppImage, which needs a
display and FUSE). Where the AppImage cannot run, DISPLAY is unset for the session:
plotms then fails at once and the pipeline renders its pages without those plots
(with a display but no FUSE, plotms waits for its server forever).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.stages.pipeline_path import find_pipeline

HERE = Path(__file__).parent


def _plotms_runs() -> bool:
    import casaplotms

    app = Path(casaplotms.__file__).parent / "__bin__" / "casaplotms-x86_64.AppImage"
    if not app.exists():
        return False
    proc = subprocess.run(
        [str(app), "--appimage-version"], capture_output=True, text=True, timeout=60
    )
    return proc.returncode == 0 and "FUSE" not in proc.stdout + proc.stderr


MISSING = find_pipeline()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """tests/stages needs casatools; those marked needs_pipeline skip without it."""
    for item in items:
        if HERE not in Path(item.path).parents:
            continue
        item.add_marker(pytest.mark.casa)
        if MISSING and item.get_closest_marker("needs_pipeline"):
            item.add_marker(pytest.mark.skip(reason=MISSING))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_pipeline: needs the ALMA pipeline importable")


@pytest.fixture(scope="session")
def pipeline_display():
    """DISPLAY for plotms, or none where its AppImage cannot run (module docstring)."""
    saved = os.environ.get("DISPLAY")
    if saved is None or not _plotms_runs():
        os.environ.pop("DISPLAY", None)
    yield os.environ.get("DISPLAY")
    if saved is not None:
        os.environ["DISPLAY"] = saved
