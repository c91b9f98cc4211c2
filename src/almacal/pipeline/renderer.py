"""Weblog page of an almacal stage: almacal.report's body of each task run inside the
pipeline's T2-4M detail page (templates/almacal_stage.mako, a thin wrapper).

Each section's body is the one the standalone report shows (almacal.report.build.
body_for: headline, warnings, QA, tables, figures, parameters), with the stage's own
tables added (e.g. the calibration-library registrations) and its figures as URLs
relative to the weblog's html directory. The stage's products (figures, ECSV, JSON,
the task's standalone HTML) are copied into the weblog stage directory, so that the
weblog is complete on its own when it is moved.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace

import pipeline.infrastructure.renderer.basetemplates as basetemplates

from almacal.pipeline.scores import Score
from almacal.pipeline.stagebase import Section
from almacal.report.build import body_for, render_body
from almacal.report.model import QaScore

TEMPLATE_DIR = os.path.join(os.path.dirname(__file__), "templates")
TEMPLATE = "almacal_stage.mako"


@dataclass(frozen=True)
class Link:
    href: str  # relative to the weblog's html directory
    label: str


@dataclass(frozen=True)
class SectionView:
    """What the wrapper shows of one section around (or instead of) its body."""

    title: str
    error: str | None
    scores: tuple[Score, ...]  # shown by the wrapper for a failed run (no body then)
    notes: tuple[str, ...]
    files: tuple[Link, ...]
    body_html: str  # almacal.report's body, '' for a failed run


class T2_4MDetailsAlmacalRenderer(basetemplates.T2_4MDetailsDefaultRenderer):
    def __init__(self, description: str):
        super().__init__(uri=TEMPLATE, description=description)

    def update_mako_context(self, mako_context, pipeline_context, results) -> None:
        result = results[0]
        stage_dir = os.path.join(pipeline_context.report_dir, f"stage{result.stage_number}")
        views = [
            section_view(s, result.stage, stage_dir, pipeline_context.report_dir)
            for s in result.sections
        ]
        mako_context.update(
            {
                "almacal_stage": result.stage,
                "almacal_description": self.description,
                "almacal_sections": views,
            }
        )


def section_view(section: Section, stage: str, stage_dir: str, report_dir: str) -> SectionView:
    """The section for the wrapper, its products copied to stage_dir.

    Links are relative to report_dir: the weblog loads a detail page into its
    t2-4m.html there, as the pipeline's own templates assume.
    """
    os.makedirs(stage_dir, exist_ok=True)
    hrefs = {}
    for key, path in section.products:
        copy = os.path.join(stage_dir, os.path.basename(path))
        shutil.copy2(path, copy)
        hrefs[key] = os.path.relpath(copy, report_dir)
    files = tuple(
        Link(href, os.path.basename(href)) for href in hrefs.values() if not href.endswith(".png")
    )
    scores = section.scores(stage)
    body_html = ""
    if section.record is not None:
        body = body_for(section.task, section.record, figures=hrefs)
        # the body shows the task's own QA scores; a task without any (relcal_fit) shows
        # the stage's, so that every page lists what the pipeline's QA banner summarises
        qa = body.qa or tuple(QaScore(s.metric, s.score, s.longmsg) for s in scores)
        body = replace(body, tables=body.tables + section.tables, qa=qa)
        body_html = render_body(body)
    return SectionView(section.title, section.error, scores, section.notes, files, body_html)
