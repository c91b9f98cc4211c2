"""The ALMA pipeline made importable for the tests, or why it cannot be (the skip reason).

Monolithic CASA with the pipeline (``casa --pipeline``) imports it as it is; a pip
environment takes a source tree from ``ALMACAL_PIPELINE_SRC`` (the directory holding
``pipeline/``; tests/stages/conftest.py says why only a link to it goes on sys.path).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

LINK_DIRS: list[str] = []
"""The directories put on sys.path here: child processes (mpirun) need them too."""


def link_source_tree(tree: str) -> str | None:
    """sys.path gets a directory whose only entry is pipeline -> <tree>/pipeline."""
    src = Path(tree) / "pipeline"
    if not (src / "__init__.py").is_file():
        return f"ALMACAL_PIPELINE_SRC={tree} has no pipeline/__init__.py"
    link_dir = Path(tempfile.mkdtemp(prefix="almacal-pipeline-path-"))
    (link_dir / "pipeline").symlink_to(src.resolve())
    sys.path.append(str(link_dir))
    LINK_DIRS.append(str(link_dir))
    return None


def find_pipeline() -> str | None:
    """None when the pipeline imports, else why not (the skip reason)."""
    os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
    tree = os.environ.get("ALMACAL_PIPELINE_SRC")
    if tree and importlib.util.find_spec("pipeline") is None:
        problem = link_source_tree(tree)
        if problem:
            return problem
    try:
        importlib.import_module("pipeline.infrastructure")
    except ImportError as exc:
        return (
            f"the ALMA pipeline is not importable ({exc}): run in CASA with the pipeline, or "
            "set ALMACAL_PIPELINE_SRC to a pipeline source tree and install almacal's "
            "[pipeline] extra"
        )
    return None
