"""The fault ledger: each fault is on disk, with its undo, before it happens.

Events go to the run's ledger file (``gauntlet.faults.journal``): ``open``
before the fault, ``done`` after its rollback, so ``gauntlet recover``
undoes what a crashed run left.

Objects a run creates (its namespaces, the ledger mirror) are recorded the
same way, with their removal, before they are created: a run killed with
SIGKILL leaves nothing that ``recover`` does not know about. Their entries
stay open while the run uses them (``rollback_all`` undoes faults only)
and are closed by their owner (``remove``) or at the run's end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, Protocol, TypeVar, runtime_checkable

from gauntlet import progress
from gauntlet.errors import GauntletError, UsageError
from gauntlet.exit_codes import EXIT_TERMINATED
from gauntlet.faults.journal import (
    EntryKind,
    LedgerEntry,
    append_event,
    ledger_dir,
    process_start,
    read_ledger,
    recover,
)
from gauntlet.faults.rollback import Rollback, lookup, run_rollback
from gauntlet.reporting.measurements import utc_iso, utc_now

__all__ = [
    "ClusterMirror",
    "EntryKind",
    "FaultLedger",
    "LedgerEntry",
    "LedgerListener",
    "LedgerMirror",
    "RollbackFailed",
    "RollbackFailure",
    "install_signal_handlers",
    "ledger_dir",
    "read_ledger",
    "recover",
]

T = TypeVar("T")
LedgerListener = Callable[[str, LedgerEntry], object]
"""Told ``open``, ``injected`` and ``done`` of each fault (a test's
timeline draws its windows from them)."""


class RollbackFailed(GauntletError):
    """One or more rollbacks failed; the faults may still be in force."""


@dataclass(frozen=True)
class RollbackFailure:
    """A rollback that raised; the entry stays open for ``recover``."""

    entry: LedgerEntry
    error: str


LedgerMirror = Callable[[Sequence[LedgerEntry]], None]
"""Told the open faults after every change (e.g. a ConfigMap writer)."""


@runtime_checkable
class ClusterMirror(Protocol):
    """A mirror that is itself an object in the cluster: the ledger records
    its removal before the first fault is mirrored (and so created)."""

    description: str

    def __call__(self, entries: Sequence[LedgerEntry]) -> None: ...

    def removal(self) -> Rollback: ...


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
        self._mirror_entry: LedgerEntry | None = None
        self._open: dict[int, LedgerEntry] = {}
        self._seq = 0
        self._lock = threading.RLock()
        self._listeners: list[LedgerListener] = []
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
                "pid_start": process_start(os.getpid()),
                "host": socket.gethostname(),
            }
        )

    @contextlib.contextmanager
    def listening(self, listener: LedgerListener) -> Iterator[None]:
        """Tell ``listener`` of every fault's open, injection and end
        while the block runs."""
        with self._lock:
            self._listeners.append(listener)
        try:
            yield
        finally:
            with self._lock:
                self._listeners.remove(listener)

    def inject(
        self, description: str, rollback: Rollback, action: Callable[[], T]
    ) -> T:
        """Record the fault and its rollback, then run ``action``.

        The entry stays open until ``rollback_all``, also when ``action``
        raises: a half-applied fault is rolled back like a whole one.

        Raises:
            UsageError: the rollback kind is unknown (nothing injected).
        """
        return self._inject(description, rollback, action)[1]

    def inject_entry(
        self, description: str, rollback: Rollback, action: Callable[[], T]
    ) -> LedgerEntry:
        """``inject``, returning the fault's entry (for ``ended``)."""
        return self._inject(description, rollback, action)[0]

    def ended(self, entry: LedgerEntry, how: str) -> None:
        """Close a fault that ended without its rollback: its node undid it
        at the planned time, and the caller saw it undone. Neither
        ``rollback_all`` nor ``recover`` will undo it again."""
        self._close(entry, {"by": "node", "how": how})
        progress.say(f"ended: {entry.description} ({how})")
        self._mirror_open()

    def _inject(
        self, description: str, rollback: Rollback, action: Callable[[], T]
    ) -> tuple[LedgerEntry, T]:
        lookup(rollback.kind)
        self._record_mirror()  # older than the fault: removed after it
        entry = self._open_entry(description, rollback, "fault")
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
        self._tell("injected", entry)
        return entry, result

    def record_object(self, description: str, removal: Rollback) -> LedgerEntry:
        """Record an object the run is about to create, with its removal.

        Call it before creating the object: a create that times out may
        still land. The entry stays open (``rollback_all`` leaves it) until
        ``remove`` or ``release``, or ``recover`` after a crash.

        Raises:
            UsageError: the removal's kind is unknown (record nothing).
        """
        return self._open_entry(description, removal, "object")

    def remove(
        self, entry: LedgerEntry, how: Callable[[], object] | None = None
    ) -> None:
        """Remove a recorded object now and close its entry.

        ``how`` removes it the owner's way (its own client, pinned to an
        API server), else the recorded removal runs.

        An entry already closed (a session's objects removed early, while
        their cluster was still there) is left alone: its object is gone
        and its cluster may be too.

        Raises:
            Exception: whatever the removal raised; the entry stays open
                for the run's end or ``recover``.
        """
        with self._lock:
            if entry.seq not in self._open:
                return
        try:
            if how is None:
                run_rollback(entry.rollback)
            else:
                how()
        except Exception as exc:
            self._append(
                {
                    "event": "rollback_failed",
                    "seq": entry.seq,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )
            raise
        self._close(entry, {})

    def release(self, entry: LedgerEntry, reason: str) -> None:
        """Close an object's entry without removing the object (a namespace
        kept for inspection): ``recover`` will leave it alone."""
        self._close(entry, {"by": "release", "reason": reason})

    def open_entries(self) -> list[LedgerEntry]:
        """Faults not yet rolled back, oldest first."""
        return self._entries(objects=False)

    def open_objects(self) -> list[LedgerEntry]:
        """Recorded objects not yet removed, oldest first."""
        with self._lock:
            found = [e for e in self._open.values() if e.what == "object"]
        return sorted(found, key=lambda e: e.seq)

    def rollback_all(self, objects: bool = False) -> list[RollbackFailure]:
        """Run every open rollback, newest first; keep going on errors.

        ``objects``: also remove the recorded objects (the run's end), in
        the same newest-first order. Returns the failures (their entries
        stay open for ``recover``).
        """
        with self._lock:
            if self.rolling_back:
                return []
            self.rolling_back = True
        try:
            return self._rollback_open(self._entries(objects))
        finally:
            self.rolling_back = False

    def _rollback_open(
        self, entries: Sequence[LedgerEntry]
    ) -> list[RollbackFailure]:
        failures = []
        for entry in reversed(entries):
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
            self._close(entry, {})
            verb = "rolled back" if entry.what == "fault" else "removed"
            progress.say(f"{verb}: {entry.description}")
        self._mirror_open()
        return failures

    def _open_entry(
        self, description: str, rollback: Rollback, what: EntryKind
    ) -> LedgerEntry:
        lookup(rollback.kind)
        with self._lock:
            self._seq += 1
            entry = LedgerEntry(
                self._seq, description, rollback, utc_iso(utc_now()), what
            )
            event: dict[str, Any] = {
                "event": "open",
                "at": entry.opened_at,
                "seq": entry.seq,
                "description": description,
                "rollback": rollback.to_dict(),
            }
            if what != "fault":
                event["what"] = what
            self._append(event)
            self._open[entry.seq] = entry
        if what == "fault":
            self._tell("open", entry)
        return entry

    def _close(self, entry: LedgerEntry, extra: dict[str, Any]) -> None:
        self._append({"event": "done", "seq": entry.seq, **extra})
        with self._lock:
            self._open.pop(entry.seq, None)
            if entry == self._mirror_entry:
                self._mirror_entry = None  # recorded again if it comes back
        if entry.what == "fault":
            self._tell("done", entry)

    def _tell(self, what: str, entry: LedgerEntry) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(what, entry)

    def _entries(self, objects: bool) -> list[LedgerEntry]:
        with self._lock:
            found = [
                e for e in self._open.values() if objects or e.what == "fault"
            ]
        return sorted(found, key=lambda e: e.seq)

    def _mirror_open(self) -> None:
        if self._mirror is None:
            return
        faults = self.open_entries()
        if faults:
            self._record_mirror()
        self._mirror(faults)

    def _record_mirror(self) -> None:
        """Record a mirror that is a cluster object before it is written."""
        with self._lock:
            mirror = self._mirror
            if self._mirror_entry is None and isinstance(mirror, ClusterMirror):
                self._mirror_entry = self.record_object(
                    mirror.description, mirror.removal()
                )

    def _append(self, event: dict[str, Any]) -> None:
        append_event(self.path, event)


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
