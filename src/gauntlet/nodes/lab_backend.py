"""``LabNodeAccess``: the lab's own fault API behind ``NodeAccess``.

The runner host owns the lab's namespaces and supervisors, so nothing is
created on the cluster and every operation works even while the API
server is down.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence

from gauntlet.lab.faults import LabFaults
from gauntlet.nodes.base import DEFAULT_TIMEOUT_S
from gauntlet.nodes.types import Connection, Process

__all__ = ["LabNodeAccess"]


class LabNodeAccess:
    """Node access for the kube-gauntlet lab on this host."""

    def __init__(self, faults: LabFaults | None = None) -> None:
        self._faults = faults or LabFaults()

    @property
    def kind(self) -> str:
        return "lab"

    def rollback_params(self) -> dict[str, str]:
        return {"backend": "lab"}

    def run(
        self,
        node: str,
        argv: Sequence[str],
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        return self._faults.exec(
            node, list(argv), check=False, timeout_s=timeout_s
        )

    def stop(self, node: str, component: str) -> None:
        self._faults.stop(node, component)

    def start(self, node: str, component: str) -> None:
        self._faults.start(node, component)

    def kill(
        self, node: str, component: str, sig: int = signal.SIGKILL
    ) -> None:
        self._faults.kill(node, component, sig)

    def argv(self, node: str, component: str) -> list[str]:
        return self._faults.argv(node, component)

    def set_argv(self, node: str, component: str, argv: list[str]) -> None:
        self._faults.set_argv(node, component, argv)

    def partition(self, node: str, peers: list[str]) -> None:
        self._faults.partition(node, peers)

    def heal(self, node: str) -> None:
        self._faults.heal(node)

    def read_file(self, node: str, path: str) -> str:
        return self._faults.read_file(node, path)

    def connections(self, node: str) -> list[Connection]:
        return self._faults.connections(node)

    def processes(self, node: str) -> list[Process]:
        return self._faults.processes(node)

    def cleanup(self) -> None:
        """Nothing to remove: the lab backend creates nothing."""
