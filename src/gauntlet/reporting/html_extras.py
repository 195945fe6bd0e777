"""What a run's HTML report adds to allure's own: history and the trend.

Allure 3 keeps its history (the trend graphs, a test's earlier results)
in one JSON-lines file given as ``historyPath``, not in a ``history/``
folder copied between reports as Allure 2 did; one such file per context
keeps a lab's trends apart from production's. The kube-gauntlet trend of
the run's context is written as ``trend.html`` into the run directory and
shown in the report as a global attachment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from gauntlet.errors import GauntletError
from gauntlet.reporting.history import (
    allure_history_file,
    context_of,
    history_file,
    read_history,
)
from gauntlet.reporting.runs import load_summary
from gauntlet.reporting.timelines_page import (
    TIMELINES_PAGE,
    write_timelines_page,
)
from gauntlet.reporting.trend import DEFAULT_LAST, build_trend
from gauntlet.reporting.trend_render import render_html

__all__ = ["ALLURE_HISTORY_LIMIT", "TREND_PAGE", "ReportExtras", "extras_for"]

TREND_PAGE = "trend.html"
ALLURE_HISTORY_LIMIT = 30
"""Runs allure keeps in its history file (each line is ~20 kB)."""


@dataclass(frozen=True)
class ReportExtras:
    """Inputs for ``allure generate`` besides the results."""

    allure_history: Path | None = None
    """Allure's ``historyPath`` for the run's context."""
    attachments: tuple[Path, ...] = ()
    """Files shown as global attachments (the trend page)."""
    warnings: tuple[str, ...] = ()
    """Why something is missing, for the caller to print."""


def extras_for(run_dir: Path) -> ReportExtras:
    """Allure's history file, the trend page and the timelines page
    (``timelines_page``, when the run attached timelines) for
    ``run_dir``; never raises."""
    extras = _history_extras(run_dir)
    try:
        page = write_timelines_page(
            run_dir / "allure-results", run_dir / TIMELINES_PAGE
        )
    except OSError as exc:
        warning = f"no timelines page: {exc.strerror or exc}"
        return replace(extras, warnings=(*extras.warnings, warning))
    if page is None:
        return extras
    return replace(extras, attachments=(*extras.attachments, page))


def _history_extras(run_dir: Path) -> ReportExtras:
    """Allure's history file and the trend page for ``run_dir``.

    ``reports/<run-id>/`` holds summary.json, naming the context; the
    history lives beside the runs. Never raises: without a summary or a
    history the report is made without them, and ``warnings`` says why.
    """
    try:
        summary = load_summary(run_dir)
    except GauntletError as exc:
        return ReportExtras(warnings=(f"no history or trend: {exc}",))
    reports = run_dir.parent
    context = context_of(summary)
    allure = allure_history_file(reports, context)
    try:
        read = read_history(history_file(reports, context), context)
    except GauntletError as exc:
        return ReportExtras(allure, warnings=(f"no trend: {exc}",))
    runs = list(read.runs)
    ids = [r.run_id for r in runs]
    if summary.run_id in ids:
        runs = runs[: ids.index(summary.run_id) + 1]
    trend = build_trend(
        runs, context, profile=summary.profile, last=DEFAULT_LAST
    )
    page = run_dir / TREND_PAGE
    try:
        page.write_text(render_html(trend), "utf-8")
    except OSError as exc:
        warning = f"no trend: writing {page}: {exc.strerror or exc}"
        return ReportExtras(allure, warnings=(*read.warnings, warning))
    return ReportExtras(allure, (page,), read.warnings)
