"""What a run-ended notification says: summary.json, reshaped for a webhook.

The payload is built from the run's summary.json, the same file the
table and the HTML report come from, so a chat message never disagrees
with the report. It carries a Slack-compatible ``text`` beside the
structured fields, so a Slack incoming webhook shows a readable message
and any other receiver can read the JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from gauntlet.exit_codes import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    EXIT_VIOLATED,
)
from gauntlet.reporting.summary import VERDICTS, RunSummary

__all__ = [
    "EXIT_MEANINGS",
    "SCHEMA",
    "GuaranteeEntry",
    "Notification",
    "ReportLinks",
    "build_payload",
    "read_summary",
    "report_links",
]

SCHEMA = "kube-gauntlet/notification/v1"
"""Names the payload's shape, so receivers can tell versions apart."""

EXIT_MEANINGS: Mapping[int, tuple[str, str]] = {
    EXIT_OK: ("PASSED", "every selected guarantee held"),
    EXIT_VIOLATED: ("FAILED", "a guarantee was violated"),
    EXIT_USAGE: ("NO VERDICT", "bad input or environment: no verdict"),
    EXIT_INTERRUPTED: ("INTERRUPTED", "interrupted, faults rolled back"),
    EXIT_TERMINATED: ("TERMINATED", "stopped by SIGTERM, faults rolled back"),
}
"""Headline word and meaning per exit code (``gauntlet.exit_codes``)."""

MAX_TEXT_ROWS = 20
"""Guarantees listed in ``text``; the JSON always holds every one."""
MAX_TEXT_MESSAGE = 200


class GuaranteeEntry(TypedDict):
    """One row of the verdict table."""

    id: str
    title: str
    """The catalogue's claim; empty for an ID the catalogue lacks."""
    verdict: str
    message: str
    measurements: list[dict[str, Any]]
    """``Measurement.to_dict()`` of each, as in summary.json."""


class ReportLinks(TypedDict):
    """Where the run's results are; a path is null when not written."""

    dir: str
    summary: str | None
    junit: str | None
    html: str | None
    url: str | None
    """``--notify-report-url``: where CI published the report."""


class Notification(TypedDict):
    """The JSON body POSTed when a run ends."""

    text: str
    schema: str
    run_id: str
    profile: str
    context: str
    started: str | None
    ended: str | None
    strict: bool
    exit_code: int
    exit_meaning: str
    totals: dict[str, int]
    guarantees: list[GuaranteeEntry]
    report: ReportLinks
    summary_error: str | None
    """Why summary.json could not be read; the verdicts are then absent."""


def read_summary(path: Path) -> RunSummary:
    """Read summary.json back.

    Raises:
        OSError: the file is missing or unreadable.
        ValueError: it is not JSON or not a summary (KeyError included,
            re-raised as ValueError naming the missing key).
    """
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    try:
        return RunSummary.from_dict(data)
    except KeyError as exc:
        raise ValueError(f"{path}: no key {exc}") from exc


def report_links(run_dir: Path, url: str | None) -> ReportLinks:
    """The run's files that exist, as absolute paths."""
    root = run_dir.resolve()
    html = root / "html" / "index.html"
    if not html.is_file():
        html = next(iter(sorted(root.glob("html/*/index.html"))), html)
    return {
        "dir": str(root),
        "summary": _existing(root / "summary.json"),
        "junit": _existing(root / "junit.xml"),
        "html": _existing(html),
        "url": url,
    }


def build_payload(
    summary: RunSummary | None,
    *,
    exit_code: int,
    profile: str,
    context: str,
    report: ReportLinks,
    titles: Mapping[str, str],
    summary_error: str | None = None,
) -> Notification:
    """The notification for one run; ``summary`` is None only with
    ``summary_error`` saying why, so a missing verdict is never silent."""
    if summary is None and summary_error is None:
        raise ValueError("a notification without a summary must say why")
    entries = [] if summary is None else _entries(summary, titles)
    counts = summary.totals if summary else dict.fromkeys(VERDICTS, 0)
    totals = {str(verdict): n for verdict, n in counts.items()}
    payload: Notification = {
        "text": "",
        "schema": SCHEMA,
        "run_id": summary.run_id if summary else Path(report["dir"]).name,
        "profile": (summary.profile if summary else None) or profile,
        "context": (summary.context if summary else None) or context,
        "started": summary.started if summary else None,
        "ended": summary.ended if summary else None,
        "strict": summary.strict if summary else False,
        "exit_code": exit_code,
        "exit_meaning": _meaning(exit_code)[1],
        "totals": totals,
        "guarantees": entries,
        "report": report,
        "summary_error": summary_error,
    }
    payload["text"] = slack_text(payload)
    return payload


def slack_text(payload: Notification) -> str:
    """Slack mrkdwn: headline, totals, every guarantee that did not pass."""
    word, meaning = _meaning(payload["exit_code"])
    lines = [
        f"*kube-gauntlet {_esc(payload['profile'])} on "
        f"{_esc(payload['context'])}: {word}* "
        f"(exit {payload['exit_code']}: {meaning})"
    ]
    totals = payload["totals"]
    counts = ", ".join(f"{totals.get(v, 0)} {v}" for v in VERDICTS)
    lines.append(f"run {payload['run_id']}: {counts}")
    if payload["summary_error"]:
        lines.append(f"no verdicts: {_esc(payload['summary_error'])}")
    lines.extend(_problem_rows(payload["guarantees"]))
    report = payload["report"]
    if report["url"]:
        lines.append(f"report: <{report['url']}|{payload['run_id']}>")
    else:
        lines.append(f"report: {_esc(report['html'] or report['dir'])}")
    return "\n".join(lines)


def _entries(
    summary: RunSummary, titles: Mapping[str, str]
) -> list[GuaranteeEntry]:
    return [
        {
            "id": r.guarantee,
            "title": titles.get(r.guarantee, ""),
            "verdict": r.verdict,
            "message": r.message,
            "measurements": [m.to_dict() for m in r.measurements],
        }
        for r in summary.results
    ]


def _problem_rows(entries: Sequence[GuaranteeEntry]) -> list[str]:
    """Failures and errors first, then skips; passes are only counted."""
    rank = {"fail": 0, "error": 1, "skip": 2}
    problems = sorted(
        (e for e in entries if e["verdict"] in rank),
        key=lambda e: rank[e["verdict"]],
    )
    rows = []
    for entry in problems[:MAX_TEXT_ROWS]:
        message = " ".join(entry["message"].split())
        if len(message) > MAX_TEXT_MESSAGE:
            message = message[: MAX_TEXT_MESSAGE - 3] + "..."
        claim = entry["title"].rstrip(".")
        title = f" ({_esc(claim)})" if claim else ""
        rows.append(
            f"• *{entry['id']}* {entry['verdict'].upper()}{title}"
            + (f": {_esc(message)}" if message else "")
        )
    extra = len(problems) - MAX_TEXT_ROWS
    if extra > 0:
        rows.append(f"+{extra} more in the JSON and the report")
    if entries and not problems:
        rows.append(f"all {len(entries)} guarantees held")
    return rows


def _meaning(code: int) -> tuple[str, str]:
    return EXIT_MEANINGS.get(code, ("NO VERDICT", f"unexpected exit {code}"))


def _esc(text: str) -> str:
    """Slack's three control characters, so messages cannot form links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _existing(path: Path) -> str | None:
    return str(path) if path.is_file() else None
