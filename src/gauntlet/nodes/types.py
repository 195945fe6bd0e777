"""What node access reports about a host: its processes and connections.

Defined here rather than borrowed from the lab, so that suites written
against any backend see the same types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["PARTITION", "Connection", "Process", "Restore", "RestoredBy"]

PARTITION = "partition"
"""What a node's partition is called where a component would be named
(``NodeAccess.wait_restored``)."""

RestoredBy = Literal["plan", "deadman", "runner"]
"""Who ended a planned fault: the node at the planned time, its dead
man's switch (the plan failed), or an explicit start or heal."""


@dataclass(frozen=True)
class Process:
    """A process as seen on a node (PIDs of the node's PID namespace)."""

    pid: int
    ppid: int
    comm: str
    args: str


@dataclass(frozen=True)
class Connection:
    """An established TCP connection on a node and its owning process."""

    local: str
    """``address:port`` on the node."""
    remote: str
    """``address:port`` of the peer."""
    process: str | None
    """Owning process name, when ``ss`` could tell."""
    pid: int | None

    @property
    def local_port(self) -> int:
        return int(self.local.rsplit(":", 1)[1])

    @property
    def remote_port(self) -> int:
        return int(self.remote.rsplit(":", 1)[1])


@dataclass(frozen=True)
class Restore:
    """How a fault with a planned duration ended, as its node recorded it.

    Times are the runner's ``time.time()``, mapped from the node's uptime
    (``nodes.host_clock``): the node's wall clock never counts.
    """

    node: str
    what: str
    """The component, or ``PARTITION``."""
    planned_s: float
    applied_at: float
    """When the fault's command had run on the node."""
    ended_at: float
    """When the node began the undo (or the start or heal cancelled it)."""
    by: RestoredBy
    undo_s: float
    """How long the undo command ran on the node (0 for a cancel)."""
    error_s: float
    """How far the times may be off (half the round trip that read them)."""
