"""Specs as ginkgo reports them: listed by a dry run, judged from a run.

Both come from ginkgo's JSON report (one format for "what will run" and
"what happened"), so a spec's name, SIG and outcome are read one way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gauntlet.errors import Unobservable

__all__ = ["Spec", "SpecResult", "read_report", "suite_failures"]

_SIG = re.compile(r"\[(sig-[a-z0-9-]+)\]")
_RAN = ("passed", "failed", "panicked", "interrupted", "aborted", "timedout")


@dataclass(frozen=True)
class Spec:
    """One ``It`` of the suite."""

    name: str
    """Container texts and the ``It`` text, as ginkgo's focus sees them."""
    sig: str
    """The owning SIG (``sig-network``), or ``unknown``."""
    labels: tuple[str, ...]


@dataclass(frozen=True)
class SpecResult:
    """What happened to one spec in a run."""

    spec: Spec
    state: str
    """ginkgo's state: passed, failed, skipped, pending, panicked, ..."""
    message: str
    """The failure message (empty unless it failed)."""
    location: str
    """Where it failed, ``file:line`` in the module source."""
    start: str
    end: str
    """RFC 3339 times, as ginkgo reports them."""
    seconds: float

    @property
    def ran(self) -> bool:
        return self.state in _RAN

    @property
    def passed(self) -> bool:
        return self.state == "passed"


def _spec(entry: dict[str, Any]) -> Spec:
    containers = entry.get("ContainerHierarchyTexts") or []
    texts = [*containers, entry["LeafNodeText"]]
    name = " ".join(t for t in texts if t)
    labels = tuple(entry.get("LeafNodeLabels") or ())
    for level in entry.get("ContainerHierarchyLabels") or []:
        labels += tuple(level or ())
    found = _SIG.search(name)
    sig = (
        found.group(1)
        if found
        else next(
            (label for label in labels if label.startswith("sig-")), "unknown"
        )
    )
    return Spec(name, sig, labels)


def _result(entry: dict[str, Any]) -> SpecResult:
    failure = entry.get("Failure") or {}
    location = failure.get("Location") or {}
    where = (
        f"{location.get('FileName', '')}:{location.get('LineNumber', '')}"
        if location
        else ""
    )
    return SpecResult(
        spec=_spec(entry),
        state=str(entry.get("State", "")),
        message=str(failure.get("Message", "")).strip(),
        location=where,
        start=str(entry.get("StartTime", "")),
        end=str(entry.get("EndTime", "")),
        seconds=float(entry.get("RunTime", 0)) / 1e9,
    )


def read_report(path: Path) -> list[SpecResult]:
    """The ``It`` specs of a ginkgo JSON report (suite set-up nodes such
    as ``SynchronizedBeforeSuite`` are left out: they are not specs).

    Raises:
        Unobservable: the report is missing or not ginkgo's JSON (the run
            ended before ginkgo wrote it).
    """
    try:
        suites = json.loads(path.read_text("utf-8"))
        entries = [e for s in suites for e in s.get("SpecReports") or []]
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise Unobservable(f"ginkgo report {path}: {exc}") from exc
    return [_result(e) for e in entries if e.get("LeafNodeType") == "It"]


def suite_failures(path: Path) -> list[str]:
    """Failures of suite set-up nodes (a ``BeforeSuite`` that failed
    fails every spec without running it): their messages."""
    try:
        suites = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise Unobservable(f"ginkgo report {path}: {exc}") from exc
    found = []
    for suite in suites:
        for entry in suite.get("SpecReports") or []:
            if entry.get("LeafNodeType") == "It":
                continue
            if entry.get("State") not in ("passed", "skipped", ""):
                message = (entry.get("Failure") or {}).get("Message", "")
                found.append(f"{entry.get('LeafNodeType')}: {message}".strip())
    return found
