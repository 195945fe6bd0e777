"""The measurement history of a context: one JSON line per run.

A run's summary.json lives and dies with its run directory; trends need
the runs side by side. So every run ends by appending one line to
``reports/history/<context>.jsonl``: its identity and, per guarantee, the
verdict and the measured values with their bounds. Lines are appended in
one locked write, so concurrent runs never interleave, and read back
tolerantly, so one damaged line costs one run, not the whole history.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gauntlet.errors import GauntletError, UsageError
from gauntlet.reporting.summary import VERDICTS, RunSummary, Verdict
from gauntlet.wellknown import LAB_NAME

__all__ = [
    "HISTORY_DIR",
    "HistoryRead",
    "RunRecord",
    "SCHEMA",
    "ValueRecord",
    "GuaranteeRecord",
    "SeriesKey",
    "allure_history_file",
    "append_run",
    "context_of",
    "file_stem",
    "history_file",
    "keyed",
    "known_contexts",
    "latest_history_file",
    "read_history",
    "record_of",
]

HISTORY_DIR = "history"
"""Under the reports directory, beside the run directories."""
SCHEMA = 1
"""Written into every line; a reader skips lines of a schema it lacks."""
CONTEXT_ENV = "KUBE_GAUNTLET_CONTEXT"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class ValueRecord:
    """One measurement of a guarantee, as the history keeps it."""

    name: str
    value: float | None
    """``None`` when taking the measurement failed."""
    unit: str
    bound: float | None
    """Upper bound in ``unit``, when the check judges against one."""


@dataclass(frozen=True)
class GuaranteeRecord:
    """One guarantee's verdict and measurements in one run."""

    guarantee: str
    verdict: Verdict
    measurements: tuple[ValueRecord, ...]


@dataclass(frozen=True)
class RunRecord:
    """One line of a history file: one run against the context."""

    run_id: str
    started: str
    ended: str
    profile: str | None
    context: str
    guarantees: tuple[GuaranteeRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON line's content."""
        return {
            "schema": SCHEMA,
            "run_id": self.run_id,
            "started": self.started,
            "ended": self.ended,
            "profile": self.profile,
            "context": self.context,
            "guarantees": [
                {
                    "guarantee": g.guarantee,
                    "verdict": g.verdict,
                    "measurements": [
                        {
                            "name": m.name,
                            "value": m.value,
                            "unit": m.unit,
                            "bound": m.bound,
                        }
                        for m in g.measurements
                    ],
                }
                for g in self.guarantees
            ],
        }

    @classmethod
    def from_dict(cls, data: Any) -> RunRecord:
        """Inverse of ``to_dict``.

        Raises:
            ValueError: a key is missing or of the wrong type (KeyError
                and TypeError are turned into ValueError with the reason).
        """
        try:
            return cls._parse(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{type(exc).__name__}: {exc}") from exc

    @classmethod
    def _parse(cls, data: Any) -> RunRecord:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}, not {SCHEMA}")
        guarantees = []
        for item in data["guarantees"]:
            verdict = item["verdict"]
            if verdict not in VERDICTS:
                raise ValueError(f"verdict {verdict!r}")
            guarantees.append(
                GuaranteeRecord(
                    guarantee=_text(item["guarantee"]),
                    verdict=verdict,
                    measurements=tuple(
                        ValueRecord(
                            name=_text(m["name"]),
                            value=_number(m["value"]),
                            unit=_text(m["unit"]),
                            bound=_number(m["bound"]),
                        )
                        for m in item["measurements"]
                    ),
                )
            )
        profile = data["profile"]
        return cls(
            run_id=_text(data["run_id"]),
            started=_text(data["started"]),
            ended=_text(data["ended"]),
            profile=None if profile is None else _text(profile),
            context=_text(data["context"]),
            guarantees=tuple(guarantees),
        )


SeriesKey = tuple[str, str, str]
"""(guarantee, measurement name, unit): what makes values one series."""


def keyed(
    guarantee: str, values: Iterable[ValueRecord]
) -> list[tuple[SeriesKey, ValueRecord]]:
    """``values`` keyed for series; a name measured twice in one
    guarantee becomes ``name #2`` so that neither value is lost."""
    seen: dict[tuple[str, str], int] = {}
    out: list[tuple[SeriesKey, ValueRecord]] = []
    for value in values:
        count = seen.get((value.name, value.unit), 0) + 1
        seen[(value.name, value.unit)] = count
        name = value.name if count == 1 else f"{value.name} #{count}"
        out.append(((guarantee, name, value.unit), value))
    return out


@dataclass(frozen=True)
class HistoryRead:
    """What a tolerant read found: the runs, and the lines it skipped."""

    runs: tuple[RunRecord, ...]
    warnings: tuple[str, ...]
    """``file:line: why`` for every line that was skipped."""


def context_of(
    summary: RunSummary, environ: Mapping[str, str] = os.environ
) -> str:
    """The context a run's history belongs to.

    ``gauntlet run`` always names it; a bare pytest session targets
    ``$KUBE_GAUNTLET_CONTEXT``, else the lab (the suites' own rule).
    """
    return summary.context or environ.get(CONTEXT_ENV) or LAB_NAME


def record_of(
    summary: RunSummary, environ: Mapping[str, str] = os.environ
) -> RunRecord:
    """The history line for a finished run."""
    return RunRecord(
        run_id=summary.run_id,
        started=summary.started,
        ended=summary.ended,
        profile=summary.profile,
        context=context_of(summary, environ),
        guarantees=tuple(
            GuaranteeRecord(
                guarantee=result.guarantee,
                verdict=result.verdict,
                measurements=tuple(
                    ValueRecord(m.name, m.value, m.unit, m.bound)
                    for m in result.measurements
                ),
            )
            for result in summary.results
        ),
    )


def file_stem(context: str) -> str:
    """``context`` made safe as a file name (``a@b`` -> ``a_b``).

    Distinct contexts may share a stem; each line names its context and
    readers filter on it, so sharing a file never mixes histories.
    """
    stem = _UNSAFE.sub("_", context).lstrip(".")
    return stem[:120] or "_"


def history_file(reports: Path, context: str) -> Path:
    """``reports/history/<context>.jsonl``."""
    return reports / HISTORY_DIR / f"{file_stem(context)}.jsonl"


def allure_history_file(reports: Path, context: str) -> Path:
    """Allure's own history for the context (its ``historyPath``), kept
    apart from ours: allure rewrites that file, we only append."""
    return reports / HISTORY_DIR / "allure" / f"{file_stem(context)}.jsonl"


def append_run(reports: Path, record: RunRecord) -> Path:
    """Append ``record`` as one line to its context's history file.

    The line goes out in one write under an exclusive lock on an
    ``O_APPEND`` descriptor, so concurrent runs never interleave; a line
    cut short by a crash is closed with a newline first, so it damages
    only itself.

    Raises:
        GauntletError: the file cannot be created or written.
    """
    path = history_file(reports, record.context)
    line = json.dumps(record.to_dict(), separators=(",", ":")) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = line.encode("utf-8")
            if not _ends_with_newline(fd):
                data = b"\n" + data
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
    except OSError as exc:
        raise GauntletError(
            f"appending run {record.run_id} to {path}: {exc.strerror or exc}"
        ) from exc
    return path


def read_history(path: Path, context: str | None = None) -> HistoryRead:
    """Every run in ``path``, oldest first; ``context`` keeps only its own.

    A line that is not JSON or not a run record is skipped and named in
    ``warnings`` by file and line number; it never stops the read.

    Raises:
        UsageError: the file does not exist or cannot be read.
    """
    try:
        text = path.read_text("utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise UsageError(f"no history at {path}") from exc
    except OSError as exc:
        raise UsageError(f"reading {path}: {exc.strerror or exc}") from exc
    runs: list[RunRecord] = []
    warnings: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            run = RunRecord.from_dict(json.loads(line))
        except ValueError as exc:
            reason = _first_line(str(exc))
            warnings.append(f"{path}:{number}: skipped, not a run: {reason}")
            continue
        if context is None or run.context == context:
            runs.append(run)
    return HistoryRead(tuple(runs), tuple(warnings))


def latest_history_file(reports: Path) -> Path | None:
    """The history file written last (the newest run's context)."""
    files = _history_files(reports)
    if not files:
        return None
    return max(files, key=lambda p: (p.stat().st_mtime, p.name))


def known_contexts(reports: Path) -> list[str]:
    """Every context with a history, for error messages."""
    contexts: set[str] = set()
    for path in _history_files(reports):
        contexts.update(run.context for run in read_history(path).runs)
    return sorted(contexts)


def _history_files(reports: Path) -> Iterable[Path]:
    return [p for p in (reports / HISTORY_DIR).glob("*.jsonl") if p.is_file()]


def _ends_with_newline(fd: int) -> bool:
    size = os.fstat(fd).st_size
    if size == 0:
        return True
    return os.pread(fd, 1, size - 1) == b"\n"


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _number(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number or null, got {value!r}")
    return float(value)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unreadable"
