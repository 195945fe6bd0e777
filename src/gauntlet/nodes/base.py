"""The ``NodeAccess`` protocol: what suites may do to a cluster's hosts.

Backends differ in how they reach a host (the lab's own namespaces, a
privileged pod per node, ...); suites and rollbacks only see this
protocol, so a guarantee test runs unchanged on the lab and on a real
cluster.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence
from typing import Protocol

from gauntlet.nodes.types import Connection, Process

__all__ = ["DEFAULT_TIMEOUT_S", "NodeAccess"]

DEFAULT_TIMEOUT_S = 60.0


class NodeAccess(Protocol):
    """Commands, component control and partitions on named nodes.

    Component names are the host's: ``kubelet``, ``etcd``,
    ``kube-apiserver``... Every method raises ``NodeAccessError`` when the
    backend cannot reach the node, and a ``GauntletError`` naming node and
    component when the operation itself fails.
    """

    @property
    def kind(self) -> str:
        """Backend name: ``lab`` or ``pod``."""
        ...

    def rollback_params(self) -> dict[str, str]:
        """What ``gauntlet.backends.from_params`` needs to rebuild this backend
        in another process (for the fault ledger's rollbacks)."""
        ...

    def run(
        self,
        node: str,
        argv: Sequence[str],
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the node's namespaces; never raises on exit code."""
        ...

    def stop(self, node: str, component: str) -> None:
        """Stop a component until ``start`` (an outage, not a crash)."""
        ...

    def start(self, node: str, component: str) -> None:
        """Start a stopped component (a no-op when it runs)."""
        ...

    def kill(
        self, node: str, component: str, sig: int = signal.SIGKILL
    ) -> None:
        """Signal a component; its supervisor decides what happens next."""
        ...

    def argv(self, node: str, component: str) -> list[str]:
        """The component's current command line."""
        ...

    def set_argv(self, node: str, component: str, argv: list[str]) -> None:
        """Replace the component's command line and restart it."""
        ...

    def partition(self, node: str, peers: list[str]) -> None:
        """Drop all traffic between ``node`` and ``peers`` (names or IPs)."""
        ...

    def heal(self, node: str) -> None:
        """Remove every partition rule from ``node``."""
        ...

    def read_file(self, node: str, path: str) -> str:
        """A file as the node sees it."""
        ...

    def connections(self, node: str) -> list[Connection]:
        """Established TCP connections, with owning processes."""
        ...

    def processes(self, node: str) -> list[Process]:
        """Every process on the node."""
        ...

    def cleanup(self) -> None:
        """Remove whatever the backend created to reach nodes."""
        ...
