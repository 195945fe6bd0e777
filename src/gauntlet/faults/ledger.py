"""The fault ledger: each fault is on disk, with its undo, before it happens.

One JSON-lines file per run under ``$KUBE_GAUNTLET_STATE/ledger`` (default
``/var/lib/kube-gauntlet/ledger``), so ``gauntlet recover`` finds it from
any directory. Events are appended and fsynced: ``open`` before the fault,
``done`` after its rollback. An entry without ``done`` is a fault that may
still be in force.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar

import gauntlet.faults.kinds  # noqa: F401 - registers the built-in kinds
from gauntlet import progress
from gauntlet.errors import GauntletError, UsageError
from gauntlet.exit_codes import EXIT_TERMINATED
from gauntlet.faults.rollback import Rollback, lookup, run_rollback
from gauntlet.reporting.measurements import utc_iso, utc_now

__all__ = [
    "FaultLedger",
    "LedgerEntry",
    "LedgerMirror",
    "RollbackFailed",
    "RollbackFailure",
    "install_signal_handlers",
    "ledger_dir",
    "read_ledger",
    "recover",
]

T = TypeVar("T")


class RollbackFailed(GauntletError):
    """One or more rollbacks failed; the faults may still be in force."""


@dataclass(frozen=True)
class LedgerEntry:
    """One recorded fault."""

    seq: int
    description: str
    rollback: Rollback
    opened_at: str


@dataclass(frozen=True)
class RollbackFailure:
    """A rollback that raised; the entry stays open for ``recover``."""

    entry: LedgerEntry
    error: str


@dataclass(frozen=True)
class LedgerState:
    """A ledger file as read back: its owner and its open entries."""

    path: Path
    run_id: str
    pid: int | None
    pid_start: str | None
    open_entries: tuple[LedgerEntry, ...]


LedgerMirror = Callable[[Sequence[LedgerEntry]], None]
"""Told the open entries after every change (e.g. a ConfigMap writer)."""


def ledger_dir() -> Path:
    """``$KUBE_GAUNTLET_STATE/ledger``, default /var/lib/kube-gauntlet."""
    root = os.environ.get("KUBE_GAUNTLET_STATE", "/var/lib/kube-gauntlet")
    return Path(root) / "ledger"


class FaultLedger:
    """Record-then-inject, and LIFO rollback of everything still open."""

    def __init__(
        self,
        run_id: str,
        directory: Path | None = None,
        mirror: LedgerMirror | None = None,
    ) -> None:
        self.run_id = run_id
        self.path = (directory or ledger_dir()) / f"{run_id}.jsonl"
        self._mirror = mirror
        self._open: dict[int, LedgerEntry] = {}
        self._seq = 0
        self._lock = threading.RLock()
        self.rolling_back = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"cannot create the fault ledger directory {self.path.parent}"
                f" ({exc.strerror}): set KUBE_GAUNTLET_STATE to a writable "
                "directory"
            ) from exc
        self._append(
            {
                "event": "run",
                "run_id": run_id,
                "pid": os.getpid(),
                "pid_start": _process_start(os.getpid()),
                "host": socket.gethostname(),
            }
        )

    def inject(
        self, description: str, rollback: Rollback, action: Callable[[], T]
    ) -> T:
        """Record the fault and its rollback, then run ``action``.

        The entry stays open until ``rollback_all``, also when ``action``
        raises: a half-applied fault is rolled back like a whole one.

        Raises:
            UsageError: the rollback kind is unknown (nothing injected).
        """
        lookup(rollback.kind)
        with self._lock:
            self._seq += 1
            entry = LedgerEntry(
                self._seq, description, rollback, utc_iso(utc_now())
            )
            self._append(
                {
                    "event": "open",
                    "seq": entry.seq,
                    "description": description,
                    "rollback": rollback.to_dict(),
                }
            )
            self._open[entry.seq] = entry
        self._mirror_open()
        progress.say(f"fault: {description}")
        try:
            result = action()
        except BaseException as exc:
            self._append(
                {"event": "inject_failed", "seq": entry.seq, "error": repr(exc)}
            )
            raise
        self._append({"event": "injected", "seq": entry.seq})
        return result

    def open_entries(self) -> list[LedgerEntry]:
        """Faults not yet rolled back, oldest first."""
        with self._lock:
            return sorted(self._open.values(), key=lambda e: e.seq)

    def rollback_all(self) -> list[RollbackFailure]:
        """Run every open rollback, newest first; keep going on errors.

        Returns the failures (their entries stay open for ``recover``).
        """
        with self._lock:
            if self.rolling_back:
                return []
            self.rolling_back = True
        try:
            return self._rollback_open()
        finally:
            self.rolling_back = False

    def _rollback_open(self) -> list[RollbackFailure]:
        failures = []
        for entry in reversed(self.open_entries()):
            try:
                run_rollback(entry.rollback)
            except Exception as exc:  # noqa: BLE001 - registered plugin code
                error = f"{type(exc).__name__}: {exc}"
                self._append(
                    {
                        "event": "rollback_failed",
                        "seq": entry.seq,
                        "error": error,
                    }
                )
                progress.say(f"rollback FAILED: {entry.description}: {error}")
                failures.append(RollbackFailure(entry, error))
                continue
            self._append({"event": "done", "seq": entry.seq})
            with self._lock:
                self._open.pop(entry.seq, None)
            progress.say(f"rolled back: {entry.description}")
        self._mirror_open()
        return failures

    def _mirror_open(self) -> None:
        if self._mirror is not None:
            self._mirror(self.open_entries())

    def _append(self, event: dict[str, Any]) -> None:
        _append_event(self.path, event)


def install_signal_handlers(
    ledger: FaultLedger,
    on_terminate: Callable[[], NoReturn] | None = None,
) -> Callable[[], None]:
    """Roll back on SIGINT/SIGTERM, then interrupt as the signal meant.

    SIGINT raises ``KeyboardInterrupt``; SIGTERM calls ``on_terminate``
    (default: exit 143). A signal during a rollback is reported and
    ignored, so that the rollback is never cut short. Returns a function
    restoring the previous handlers. Main thread only.
    """

    def terminate() -> NoReturn:
        sys.exit(EXIT_TERMINATED)

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if ledger.rolling_back:
            progress.say(f"{name} ignored: rolling back faults, please wait")
            return
        progress.say(f"{name}: rolling back injected faults first")
        ledger.rollback_all()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        (on_terminate or terminate)()

    previous = {
        sig: signal.signal(sig, handler)
        for sig in (signal.SIGINT, signal.SIGTERM)
    }

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


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
            )
        elif kind == "done":
            entries.pop(int(event["seq"]), None)
    ordered = tuple(entries[k] for k in sorted(entries))
    return LedgerState(path, run_id, pid, pid_start, ordered)


def recover(
    directory: Path | None = None,
    report: Callable[[str], None] = print,
) -> list[str]:
    """Replay the open rollbacks of every run whose process is gone.

    Runs that are still alive are skipped: their own handlers roll back.
    Each action is passed to ``report`` and returned; failed rollbacks
    start with ``failed:`` and stay open for the next ``recover``.
    """
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        report(line)

    folder = directory or ledger_dir()
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        state = read_ledger(path)
        if not state.open_entries:
            continue
        if state.pid is not None and _alive(state.pid, state.pid_start):
            say(f"run {state.run_id}: still running (pid {state.pid}), skipped")
            continue
        for entry in reversed(state.open_entries):
            try:
                run_rollback(entry.rollback)
            except Exception as exc:  # noqa: BLE001 - registered plugin code
                error = f"{type(exc).__name__}: {exc}"
                _append_event(
                    path,
                    {
                        "event": "rollback_failed",
                        "seq": entry.seq,
                        "error": error,
                    },
                )
                say(f"failed: run {state.run_id}: {entry.description}: {error}")
                continue
            _append_event(
                path, {"event": "done", "seq": entry.seq, "by": "recover"}
            )
            say(f"rolled back: run {state.run_id}: {entry.description}")
    return lines


def _append_event(path: Path, event: dict[str, Any]) -> None:
    """Append one event line and fsync: it must survive a crash."""
    line = json.dumps({**event, "at": utc_iso(utc_now())}) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks, to tell PID reuse apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return started is None or _process_start(pid) == started
