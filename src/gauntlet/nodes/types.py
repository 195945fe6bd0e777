"""What node access reports about a host: its processes and connections.

Defined here rather than borrowed from the lab, so that suites written
against any backend see the same types.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Connection", "Process"]


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
