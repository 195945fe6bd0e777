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

from gauntlet.nodes.host_clock import ShRun
from gauntlet.nodes.restores import RESTORE_MARGIN_S
from gauntlet.nodes.types import Connection, Process, Restore

__all__ = ["DEFAULT_TIMEOUT_S", "RESTORE_MARGIN_S", "NodeAccess", "sh_on"]

DEFAULT_TIMEOUT_S = 60.0


class NodeAccess(Protocol):
    """Commands, component control and partitions on named nodes.

    Component names are the host's: ``kubelet``, ``etcd``,
    ``kube-apiserver``... Every method raises ``NodeAccessError`` when the
    backend cannot reach the node, and a ``GauntletError`` naming node and
    component when the operation itself fails.

    A fault given ``for_s`` is handed to the node with its duration: the
    node undoes it itself ``for_s`` seconds after the fault's command
    returned, whether or not the runner can still reach it (stopping the
    kubelet or partitioning the node cuts the pod backend's own path).
    The runner then observes from outside and reads how it ended with
    ``wait_restored``; an explicit ``start`` or ``heal`` still ends it
    early and cancels the planned undo. Checks are written once: both
    backends do this.
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

    def stop(
        self,
        node: str,
        component: str,
        for_s: float | None = None,
        now: bool = False,
    ) -> None:
        """Stop a component (an outage, not a crash) until ``start``, or
        until the node starts it again itself ``for_s`` seconds later;
        ``now``: SIGKILL it first, in the same request, so the outage
        begins at once (no graceful drain)."""
        ...

    def start(self, node: str, component: str) -> None:
        """Start a stopped component (a no-op when it runs); cancel the
        node's planned start."""
        ...

    def kill(
        self,
        node: str,
        component: str,
        sig: int = signal.SIGKILL,
        for_s: float | None = None,
    ) -> None:
        """Signal a component; its supervisor decides what happens next.
        With ``for_s`` the node starts it ``for_s`` seconds later (a
        no-op if its supervisor did), so that a component left down is
        never left down for good."""
        ...

    def argv(self, node: str, component: str) -> list[str]:
        """The component's current command line."""
        ...

    def set_argv(self, node: str, component: str, argv: list[str]) -> None:
        """Replace the component's command line and restart it."""
        ...

    def partition(
        self, node: str, peers: list[str], for_s: float | None = None
    ) -> None:
        """Drop all traffic between ``node`` and ``peers`` (names or IPs)
        until ``heal``, or until the node heals itself after ``for_s``."""
        ...

    def heal(self, node: str) -> None:
        """Remove every partition rule from ``node``; cancel its planned
        heal."""
        ...

    def wait_restored(
        self, node: str, what: str, margin_s: float = RESTORE_MARGIN_S
    ) -> Restore:
        """Wait for the node to end the fault on ``what`` (a component, or
        ``types.PARTITION``) that this process gave a ``for_s``; return
        when and by whom it ended, as the node recorded it.

        Raises:
            NodeAccessError: the node did not answer with the fault undone
                within ``margin_s`` of its planned end (its dead man's
                switch and ``gauntlet recover`` still undo it), the fault
                or its undo failed there, or a later fault replaced it.
            UsageError: no fault on ``what`` was given a duration here.
        """
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


def sh_on(access: NodeAccess, node: str) -> ShRun:
    """Run sh scripts on ``node`` (for ``host_clock`` and ``restores``)."""

    def run(script: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        return access.run(node, ["sh", "-c", script], timeout_s)

    return run
