"""Weblog page of an almacal stage: the body templates of almacal.report inside the
pipeline's T2-4M detail page (templates/almacal_stage.mako).

The stage's products (figures, ECSV, JSON, flux.csv) are copied into the weblog
stage directory, so that the weblog is complete on its own when it is moved.
"""

from __future__ import annotations

import os
import shutil

import pipeline.infrastructure.renderer.basetemplates as basetemplates

from almacal.pipeline.stagebase import Section
from almacal.report import Body, Figure, Link, render_bodies
from almacal.report.body import figure_caption

TEMPLATE_DIR = os.path.join(os.path.dirname(__file__), "templates")
TEMPLATE = "almacal_stage.mako"


class T2_4MDetailsAlmacalRenderer(basetemplates.T2_4MDetailsDefaultRenderer):
    def __init__(self, description: str):
        super().__init__(uri=TEMPLATE, description=description)

    def update_mako_context(self, mako_context, pipeline_context, results) -> None:
        result = results[0]
        stage_dir = os.path.join(pipeline_context.report_dir, f"stage{result.stage_number}")
        bodies = [
            section_body(s, result.stage, stage_dir, pipeline_context.report_dir)
            for s in result.sections
        ]
        mako_context.update(
            {
                "almacal_stage": result.stage,
                "almacal_description": self.description,
                "almacal_body": render_bodies(bodies),
            }
        )


def section_body(section: Section, stage: str, stage_dir: str, report_dir: str) -> Body:
    """The section as a body of almacal.report, its products copied to stage_dir.

    Links are relative to report_dir: the weblog loads a detail page into its
    t2-4m.html there, as the pipeline's own templates assume.
    """
    os.makedirs(stage_dir, exist_ok=True)
    figures, files = [], []
    for path in section.products:
        name = os.path.basename(path)
        copy = os.path.join(stage_dir, name)
        shutil.copy2(path, copy)
        href = os.path.relpath(copy, report_dir)
        if name.endswith(".png"):
            figures.append(Figure(href, figure_caption(section.task, name)))
        else:
            files.append(Link(href, name))
    return Body(
        task=section.task,
        title=section.title,
        record=section.record,
        figures=tuple(figures),
        files=tuple(files),
        scores=section.scores(stage),
        warnings=section.warnings,
        error=section.error,
        tables=section.tables,
        notes=section.notes,
    )
