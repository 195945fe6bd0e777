"""One page with every timeline of a run, inline: the game day at a glance.

Allure shows a test's attachments folded, one test at a time. A game
day is read as a whole (what each fault did, how long recovery took),
so ``timelines.html`` in the run directory shows every timeline plot
the run attached, under its guarantee and verdict, without a click. It
is a global attachment of the HTML report too, like the trend page.

The plots are read back from the allure results: a test's own
attachments and those its fixtures attached (a fixture's teardown
attaches into the container of the results it served).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "TIMELINES_PAGE",
    "TIMELINE_PREFIX",
    "Plot",
    "image_attachments",
    "render_page",
    "timeline_plots",
    "write_timelines_page",
]

TIMELINES_PAGE = "timelines.html"
TIMELINE_PREFIX = "timeline: "
"""The name every timeline attachment starts with."""
_XML_PROLOGUE = re.compile(r"^\s*<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", re.I)


@dataclass(frozen=True)
class Plot:
    """One image a test attached."""

    guarantee: str
    test: str
    status: str
    name: str
    source: Path
    mime: str


def image_attachments(results_dir: Path) -> list[Plot]:
    """Every image attachment of the results that carry a guarantee
    label, with those of their fixtures; in test order (by start)."""
    tests: dict[str, tuple[int, str, str, str]] = {}
    attached: dict[str, list[dict[str, Any]]] = {}
    for path in results_dir.glob("*-result.json"):
        result = _read(path)
        labels = {x["name"]: x["value"] for x in result.get("labels", [])}
        if "guarantee" not in labels:
            continue
        uuid = str(result.get("uuid", path.name))
        tests[uuid] = (
            int(result.get("start", 0)),
            str(labels["guarantee"]),
            str(result.get("name", "")),
            str(result.get("status", "unknown")),
        )
        attached.setdefault(uuid, []).extend(_images(result))
    for path in results_dir.glob("*-container.json"):
        container = _read(path)
        fixtures = container.get("befores", []) + container.get("afters", [])
        images = [a for f in fixtures for a in _images(f)]
        for child in container.get("children", []):
            attached.setdefault(str(child), []).extend(images)
    found = []
    for uuid, (_, guarantee, test, status) in sorted(
        tests.items(), key=lambda kv: kv[1]
    ):
        for a in attached.get(uuid, []):
            found.append(
                Plot(
                    guarantee,
                    test,
                    status,
                    str(a.get("name", "")),
                    results_dir / str(a.get("source", "")),
                    str(a.get("type", "")),
                )
            )
    return found


def timeline_plots(results_dir: Path) -> list[Plot]:
    """The timeline SVGs among ``image_attachments``."""
    return [
        p
        for p in image_attachments(results_dir)
        if p.name.startswith(TIMELINE_PREFIX) and p.mime == "image/svg+xml"
    ]


def render_page(title: str, plots: list[Plot]) -> str:
    """The page: a heading per test (guarantee, verdict, name), its SVG
    inline (an unreadable file is named, not skipped silently)."""
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}"
        "section{margin-bottom:2em}svg{max-width:100%;height:auto}"
        ".passed{color:#1a7f37}.failed,.broken{color:#cf222e}"
        ".skipped,.unknown{color:#9a6700}</style>",
        f"</head><body><h1>{html.escape(title)}</h1>",
    ]
    if not plots:
        parts.append("<p>This run attached no timeline.</p>")
    for plot in plots:
        status = html.escape(plot.status)
        parts.append(
            f'<section><h2>{html.escape(plot.guarantee)} <span class="'
            f'{status}">{status.upper()}</span></h2>'
            f"<p>{html.escape(plot.test)}</p>"
        )
        try:
            svg = plot.source.read_text("utf-8")
        except OSError as exc:
            parts.append(f"<p>plot unreadable: {html.escape(str(exc))}</p>")
        else:
            parts.append(_XML_PROLOGUE.sub("", svg))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_timelines_page(results_dir: Path, page: Path) -> Path | None:
    """Write the page when the run attached timelines; None otherwise.

    Raises:
        OSError: the page cannot be written.
    """
    plots = timeline_plots(results_dir)
    if not plots:
        return None
    run = results_dir.parent.name
    page.write_text(render_page(f"Timelines of run {run}", plots), "utf-8")
    return page


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}  # unreadable: no plot from it (the page is evidence only)
    return data if isinstance(data, dict) else {}


def _images(step: dict[str, Any]) -> list[dict[str, Any]]:
    found = [
        a
        for a in step.get("attachments", [])
        if str(a.get("type", "")).startswith("image/")
    ]
    for inner in step.get("steps", []):
        found += _images(inner)
    return found
