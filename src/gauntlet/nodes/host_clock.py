"""A host's own record of time, mapped onto the runner's clock.

A fault that cuts the runner's path to a host is observed afterwards, so
the host writes down when things happened. It writes its uptime
(``/proc/uptime``: monotonic, 10 ms steps, on every Linux host), never
its wall clock: the runner reads the host's current uptime in the same
exchange and maps every recorded uptime onto its own ``time.time()``.
Clock skew between runner and host cannot enter; the mapping is off by
at most half that exchange's round trip (``HostClock.error_s``).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from subprocess import CompletedProcess

from gauntlet.errors import ClusterOperationFailed, NodeAccessError

__all__ = [
    "NOW",
    "UPTIME",
    "HostClock",
    "ShRun",
    "clock_of",
    "process_starts",
    "process_starts_script",
    "timed",
]

UPTIME = "read kg_up kg_idle < /proc/uptime"
"""sh: the host's uptime in seconds into ``$kg_up``."""
NOW = f'{UPTIME}; echo "now $kg_up"'
"""sh: one ``now <uptime>`` line, read by ``clock_of``."""
DEFAULT_CLK_TCK = 100

ShRun = Callable[[str, float], CompletedProcess[str]]
"""Runs a sh script on one host with a timeout (``sh -c`` through a
backend); never raises on the exit code."""


@dataclass(frozen=True)
class HostClock:
    """One reading of a host's uptime, placed on the runner's clock."""

    uptime: float
    """The host's uptime when it answered."""
    at: float
    """The runner's ``time.time()`` then (the exchange's midpoint)."""
    error_s: float
    """Half the exchange's round trip: how far ``epoch`` may be off."""

    def epoch(self, uptime: float) -> float:
        """The runner's ``time.time()`` at the host's ``uptime``."""
        return self.at - (self.uptime - uptime)


def clock_of(text: str, sent: float, received: float) -> HostClock:
    """The clock of a reply holding a ``NOW`` line, sent and received at
    these runner times.

    Raises:
        NodeAccessError: the reply has no ``now`` line.
    """
    for line in reversed(text.splitlines()):
        parts = line.split()
        if len(parts) == 2 and parts[0] == "now":
            return HostClock(
                float(parts[1]), (sent + received) / 2, (received - sent) / 2
            )
    raise NodeAccessError(f"the host reported no uptime: {text[-200:]!r}")


def timed(run: ShRun, script: str, timeout_s: float) -> tuple[str, HostClock]:
    """Run ``script`` followed by ``NOW``; its output and the host clock.

    Raises:
        NodeAccessError: the host did not answer, or without an uptime.
    """
    sent = time.time()
    proc = run(f"{script}\n{NOW}\n", timeout_s)
    received = time.time()
    return proc.stdout, clock_of(proc.stdout, sent, received)


def process_starts_script(name: str) -> str:
    """Print ``clk <ticks per s>`` and ``pid <pid> <start tick>`` for each
    process named ``name`` (field 22 of ``/proc/<pid>/stat``: its start,
    in clock ticks after boot)."""
    return (
        "clk=$(getconf CLK_TCK 2>/dev/null) || clk="
        f"{DEFAULT_CLK_TCK}\n"
        'echo "clk $clk"\n'
        f"for p in $(pgrep -x {shlex.quote(name)}); do\n"
        "  s=$(cat /proc/$p/stat 2>/dev/null) || continue\n"
        '  s=${s##*) }; set -- $s; shift 19; echo "pid $p $1"\n'
        "done\n"
    )


def process_starts(
    run: ShRun, name: str, timeout_s: float = 30.0
) -> dict[int, float]:
    """When each process named ``name`` started, on the runner's clock.

    Read from the kernel's own record, so it holds however late the
    runner looks (a process that started while the host was cut off).

    Raises:
        NodeAccessError: the host did not answer.
        ClusterOperationFailed: its answer could not be read.
    """
    out, clock = timed(run, process_starts_script(name), timeout_s)
    ticks = float(DEFAULT_CLK_TCK)
    found: dict[int, float] = {}
    try:
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "clk":
                ticks = float(parts[1]) or ticks
            elif len(parts) == 3 and parts[0] == "pid":
                found[int(parts[1])] = float(parts[2])
    except ValueError as exc:
        raise ClusterOperationFailed(
            "read", f"start times of {name}", None, f"{line!r}: {exc}"
        ) from exc
    return {pid: clock.epoch(tick / ticks) for pid, tick in found.items()}
