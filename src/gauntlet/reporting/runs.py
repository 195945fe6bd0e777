"""Finding a run's directory and reading its summary.json.

Commands name runs the way people do: ``latest``, the full id, the first
characters of it, or the directory itself. Every way resolves here, and
each failure says what was looked for and where.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from gauntlet.errors import UsageError
from gauntlet.reporting.summary import RunSummary

__all__ = ["LATEST", "SUMMARY", "load_summary", "resolve_run", "run_dirs"]

LATEST = "latest"
SUMMARY = "summary.json"
_STAMP = re.compile(r"(\d{8}T\d{6}Z)-[0-9a-f]{6}$")
"""The tail of every run id (``gauntlet.runid``), prefixed or not."""
_SHOWN = 5


def run_dirs(reports: Path) -> list[Path]:
    """Run directories under ``reports``, oldest first (by start time in
    the id, so prefixed ids sort with the rest); ``history/`` and other
    directories that are not runs are left out."""
    if not reports.is_dir():
        return []
    found = []
    for path in reports.iterdir():
        match = _STAMP.search(path.name)
        if match and path.is_dir():
            found.append((match.group(1), path.name, path))
    return [path for _, _, path in sorted(found)]


def resolve_run(spec: str | None, reports: Path, *, need: str = "") -> Path:
    """The directory of run ``spec`` (``None`` means ``latest``).

    ``latest`` is the newest run holding ``need`` (any run when empty);
    a path to a directory (or to its summary.json) is taken as is; else
    an exact id, else a unique prefix of one under ``reports``.

    Raises:
        UsageError: nothing matches, or a prefix matches several runs.
    """
    spec = spec or LATEST
    runs = run_dirs(reports)
    if spec == LATEST:
        usable = [r for r in runs if not need or (r / need).exists()]
        if not usable:
            what = f"runs with {need}" if need else "runs"
            raise UsageError(
                f"no {what} under {reports}: start one with `gauntlet run`"
            )
        return usable[-1]
    given = Path(spec).expanduser()
    if given.name == SUMMARY and given.is_file():
        return given.parent
    if ("/" in spec or spec.startswith(".")) and given.is_dir():
        return given
    if (reports / spec).is_dir() and _STAMP.search(spec):
        return reports / spec
    matches = [r for r in runs if r.name.startswith(spec)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(
            f"no run {spec!r} under {reports} (a run id, a unique prefix, "
            f"{LATEST!r} or a run directory)"
        )
    shown = ", ".join(m.name for m in matches[:_SHOWN])
    more = f" and {len(matches) - _SHOWN} more" if len(matches) > _SHOWN else ""
    raise UsageError(
        f"run prefix {spec!r} matches {len(matches)} runs ({shown}{more}): "
        "give more of the id"
    )


def load_summary(run_dir: Path) -> RunSummary:
    """The run's summary.json, read back.

    Raises:
        UsageError: the file is missing, not JSON, or not a summary.
    """
    path = run_dir / SUMMARY
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(
            f"run {run_dir.name} has no {SUMMARY} (an experiment, or a run "
            "that stopped before its end)"
        ) from exc
    except OSError as exc:
        raise UsageError(f"reading {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{path}: not JSON ({exc})") from exc
    try:
        return RunSummary.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(
            f"{path}: not a kube-gauntlet summary ({type(exc).__name__}: {exc})"
        ) from exc
