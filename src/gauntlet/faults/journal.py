"""The ledger file: one JSON line per event, fsynced, read back by
``recover`` in a fresh process.

One file per run under ``$KUBE_GAUNTLET_STATE/ledger`` (default
``/var/lib/kube-gauntlet/ledger``), so ``gauntlet recover`` finds it from
any directory. ``open`` is written before a fault (or the creation of an
object), ``done`` after its rollback (or removal): an entry without
``done`` may still be in force.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gauntlet.faults.kinds  # noqa: F401 - registers the built-in kinds
from gauntlet.faults.rollback import Rollback, run_rollback
from gauntlet.reporting.measurements import utc_iso, utc_now

__all__ = [
    "EntryKind",
    "LedgerEntry",
    "LedgerState",
    "alive",
    "append_event",
    "forget",
    "ledger_dir",
    "process_start",
    "read_ledger",
    "recover",
]

EntryKind = Literal["fault", "object"]


@dataclass(frozen=True)
class LedgerEntry:
    """One recorded fault, or one object the run creates."""

    seq: int
    description: str
    rollback: Rollback
    opened_at: str
    what: EntryKind = "fault"
    """``fault``: undone by ``rollback_all``; ``object``: removed by its
    owner when done with it (``remove``), or at the run's end."""


@dataclass(frozen=True)
class LedgerState:
    """A ledger file as read back: its owner and its open entries."""

    path: Path
    run_id: str
    pid: int | None
    pid_start: str | None
    open_entries: tuple[LedgerEntry, ...]


def ledger_dir() -> Path:
    """``$KUBE_GAUNTLET_STATE/ledger``, default /var/lib/kube-gauntlet."""
    root = os.environ.get("KUBE_GAUNTLET_STATE", "/var/lib/kube-gauntlet")
    return Path(root) / "ledger"


def read_ledger(path: Path) -> LedgerState:
    """Replay a ledger file's events; a torn last line is ignored."""
    run_id, pid, pid_start = path.stem, None, None
    entries: dict[int, LedgerEntry] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind = event.get("event")
        if kind == "run":
            run_id = str(event.get("run_id", run_id))
            pid = event.get("pid")
            pid_start = event.get("pid_start")
        elif kind == "open":
            seq = int(event["seq"])
            entries[seq] = LedgerEntry(
                seq,
                str(event["description"]),
                Rollback.from_dict(event["rollback"]),
                str(event.get("at", "")),
                "object" if event.get("what") == "object" else "fault",
            )
        elif kind == "done":
            entries.pop(int(event["seq"]), None)
    ordered = tuple(entries[k] for k in sorted(entries))
    return LedgerState(path, run_id, pid, pid_start, ordered)


def recover(
    directory: Path | None = None,
    report: Callable[[str], None] = print,
    runs: Collection[str] | None = None,
) -> list[str]:
    """Replay the open rollbacks of every run whose process is gone (of
    ``runs`` only, when given).

    Faults are rolled back and recorded objects removed, newest first, so
    that a namespace goes after the faults injected while it was in use.
    Runs that are still alive are skipped: their own handlers roll back.
    Each action is passed to ``report`` and returned; failed rollbacks
    start with ``failed:`` and stay open for the next ``recover``.
    """
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        report(line)

    for state in _ledgers(directory, runs):
        path = state.path
        if not state.open_entries:
            continue
        if state.pid is not None and alive(state.pid, state.pid_start):
            say(f"run {state.run_id}: still running (pid {state.pid}), skipped")
            continue
        for entry in reversed(state.open_entries):
            try:
                run_rollback(entry.rollback)
            except Exception as exc:  # noqa: BLE001 - registered plugin code
                error = f"{type(exc).__name__}: {exc}"
                append_event(
                    path,
                    {
                        "event": "rollback_failed",
                        "seq": entry.seq,
                        "error": error,
                    },
                )
                say(f"failed: run {state.run_id}: {entry.description}: {error}")
                continue
            append_event(
                path, {"event": "done", "seq": entry.seq, "by": "recover"}
            )
            verb = "rolled back" if entry.what == "fault" else "removed"
            say(f"{verb}: run {state.run_id}: {entry.description}")
    return lines


def forget(
    run_id: str,
    reason: str,
    directory: Path | None = None,
) -> list[LedgerEntry]:
    """Close a dead run's open entries without undoing them: its cluster
    is gone for good (a lab rebuilt, a context deleted), so ``recover``
    would fail on them for ever. Returns what was closed; the ledger
    keeps each entry and why it was forgotten.

    Raises:
        ValueError: no ledger of that run, or its process is still alive.
    """
    (state,) = _ledgers(directory, [run_id])
    if state.pid is not None and alive(state.pid, state.pid_start):
        raise ValueError(
            f"run {run_id} is still running (pid {state.pid}): "
            "its own handlers roll back"
        )
    for entry in state.open_entries:
        append_event(
            state.path,
            {
                "event": "done",
                "seq": entry.seq,
                "by": "forget",
                "reason": reason,
            },
        )
    return list(state.open_entries)


def _ledgers(
    directory: Path | None, runs: Collection[str] | None
) -> list[LedgerState]:
    """Every run's ledger, oldest name first, or the named runs' ones.

    Raises:
        ValueError: a named run has no ledger here.
    """
    folder = directory or ledger_dir()
    paths = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    if runs is None:
        return [read_ledger(path) for path in paths]
    known = {path.stem: path for path in paths}
    unknown = [run for run in runs if run not in known]
    if unknown:
        raise ValueError(f"no ledger of run {', '.join(unknown)} in {folder}")
    return [read_ledger(known[run]) for run in runs]


def append_event(path: Path, event: dict[str, Any]) -> None:
    """Append one event line and fsync: it must survive a crash. The
    event's own ``at`` is kept (an entry's opening time is written as
    the entry holds it), else it is stamped now."""
    line = json.dumps({"at": utc_iso(utc_now()), **event}) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks, to tell PID reuse apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def alive(pid: int, started: str | None) -> bool:
    """Whether the run's process still runs: the same process (not a
    reused PID) and not a zombie (a killed run whose parent died too
    waits for a reaper, which a container's PID 1 may never be)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if process_state(pid) == "Z":
        return False
    return started is None or process_start(pid) == started


def process_state(pid: int) -> str | None:
    """The state letter of ``/proc/<pid>/stat`` (``R``, ``S``, ``Z``...)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[0] if fields else None
