"""Waiting for a booted lab to be usable: API ready, nodes registered and
Ready, CoreDNS serving; a node that dies meanwhile ends the wait at once.
"""

from __future__ import annotations

import subprocess
from typing import Any, Protocol

from gauntlet import progress
from gauntlet.errors import GuaranteeTimeout, LabError
from gauntlet.lab import addons, node
from gauntlet.lab.paths import LabPaths
from gauntlet.lab.topology import Topology


class LabCluster(Protocol):
    """What the wait needs of ``gauntlet.lab.cluster.LabCluster``."""

    paths: LabPaths

    def kubectl(self) -> list[str]: ...

    def kubectl_json(self, *args: str) -> Any: ...

    def ready_nodes(self) -> list[str]: ...


BOOT_TIMEOUT_S = 300.0


def wait_ready(lab: LabCluster, topo: Topology) -> None:
    """Every node registered and Ready, CoreDNS ready; a node that died
    meanwhile fails at once, naming its last log lines."""
    try:
        _wait_ready_steps(lab, topo)
    except GuaranteeTimeout as exc:
        logs = lab.paths.root / "nodes" / "<node>" / "logs"
        raise LabError(f"lab did not boot: {exc}; see {logs}") from exc


def _check_alive(lab: LabCluster, topo: Topology) -> None:
    for n in topo.nodes:
        np = lab.paths.node(n.name)
        if node.init_pid(np) is None:
            tail = (
                (np.logs / "nodeinit.log")
                .read_text(errors="replace")
                .strip()
                .splitlines()[-3:]
            )
            raise LabError(f"lab node {n.name} died: {' | '.join(tail)}")


def _wait_ready_steps(lab: LabCluster, topo: Topology) -> None:
    kubectl = lab.kubectl()

    def api_ready() -> bool:
        _check_alive(lab, topo)
        out = subprocess.run(
            [*kubectl, "get", "--raw", "/readyz"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.returncode == 0

    progress.wait_until(
        "the API server to answer /readyz",
        api_ready,
        BOOT_TIMEOUT_S,
        poll_s=1.0,
    )

    def registered() -> bool:
        names = {
            i["metadata"]["name"]
            for i in lab.kubectl_json("get", "nodes")["items"]
        }
        return names >= {n.name for n in topo.kubelet_nodes}

    progress.wait_until(
        "every node to register", registered, BOOT_TIMEOUT_S, poll_s=1.0
    )
    if topo.flavor != "kubeadm":  # kubeadm labels and adds DNS itself
        addons.label_roles(kubectl, topo)
        addons.apply_coredns(kubectl)
    expected = len(topo.kubelet_nodes)
    progress.wait_until(
        f"{expected} nodes Ready",
        lambda: len(lab.ready_nodes()) == expected,
        BOOT_TIMEOUT_S,
        poll_s=1.0,
        describe=lambda: f"Ready: {sorted(lab.ready_nodes())}",
    )

    def dns_ready() -> bool:
        dep = lab.kubectl_json(
            "-n", "kube-system", "get", "deployment", "coredns"
        )
        return int(dep["status"].get("readyReplicas") or 0) >= 1

    progress.wait_until("CoreDNS to be ready", dns_ready, BOOT_TIMEOUT_S)
