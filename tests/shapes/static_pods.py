"""Sabotage tools for a kubeadm-flavored lab: edit its static pod manifests.

An operator of a kubeadm cluster changes a control-plane component by
editing /etc/kubernetes/manifests/<component>.yaml on the node; the
kubelet restarts the static pod. These tools do the same through the
node's directory on the lab host (the sabotage is the operator, not the
suite), register the undo right away, and wait for the mirror pod to
show the change.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import yaml

from gauntlet import progress
from gauntlet.cluster.client import Cluster
from gauntlet.lab.cluster import LabCluster

RESTART_TIMEOUT_S = 120.0
PARKED = "kube-gauntlet-parked"


def manifest(lab: LabCluster, node: str, component: str) -> Path:
    return (
        lab.paths.node(node).etc_kubernetes / "manifests" / f"{component}.yaml"
    )


def set_flags(
    lab: LabCluster,
    cluster: Cluster,
    node: str,
    component: str,
    flags: dict[str, str | None],
    restore: contextlib.ExitStack,
) -> None:
    """Set (or, with None, drop) ``--flag=value`` on a static pod."""

    def edit(command: list[str]) -> list[str]:
        kept = [
            a for a in command if a.split("=", 1)[0].lstrip("-") not in flags
        ]
        return kept + [f"--{k}={v}" for k, v in flags.items() if v is not None]

    path = manifest(lab, node, component)
    original = path.read_text()
    pod = yaml.safe_load(original)
    container = pod["spec"]["containers"][0]
    container["command"] = edit(container["command"])
    restore.callback(_restored, cluster, node, component, path, original)
    _write(path, yaml.safe_dump(pod))
    wanted = set(container["command"])
    _wait_mirror(
        cluster,
        node,
        component,
        f"{component} on {node} running with {flags}",
        lambda cmd: set(cmd) == wanted,
    )


def park(
    lab: LabCluster,
    cluster: Cluster,
    nodes: list[str],
    component: str,
    restore: contextlib.ExitStack,
) -> None:
    """Stop a static pod the kubeadm way: move its manifest away."""
    for node in nodes:
        path = manifest(lab, node, component)
        parked = path.parent.parent / PARKED / path.name
        parked.parent.mkdir(exist_ok=True)
        restore.callback(_unpark, cluster, node, component, parked, path)
        os.replace(path, parked)
    for node in nodes:
        _wait_mirror_gone(cluster, node, component)


def _unpark(
    cluster: Cluster, node: str, component: str, parked: Path, path: Path
) -> None:
    os.replace(parked, path)
    _wait_mirror(cluster, node, component, f"{component} back on {node}", None)


def _restored(
    cluster: Cluster, node: str, component: str, path: Path, original: str
) -> None:
    _write(path, original)
    command = yaml.safe_load(original)["spec"]["containers"][0]["command"]
    _wait_mirror(
        cluster,
        node,
        component,
        f"{component} on {node} restored",
        lambda cmd: cmd == command,
    )


def _write(path: Path, text: str) -> None:
    """Atomically: the kubelet must never read half a manifest (it skips
    dot files, so the temporary one is never taken for a pod)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _wait_mirror(
    cluster: Cluster,
    node: str,
    component: str,
    what: str,
    command_ok: Callable[[list[str]], bool] | None,
) -> None:
    core = cluster.core()
    name = f"{component}-{node}"

    def ready() -> bool:
        pods = core.list_namespaced_pod(
            "kube-system", field_selector=f"metadata.name={name}"
        ).items
        if not pods:
            return False
        pod = pods[0]
        statuses = pod.status.container_statuses or []
        if not statuses or not all(s.ready for s in statuses):
            return False
        return command_ok is None or command_ok(pod.spec.containers[0].command)

    progress.wait_until(what, ready, RESTART_TIMEOUT_S, 1.0)


def _wait_mirror_gone(cluster: Cluster, node: str, component: str) -> None:
    core = cluster.core()
    name = f"{component}-{node}"

    def gone() -> bool:
        return not core.list_namespaced_pod(
            "kube-system", field_selector=f"metadata.name={name}"
        ).items

    progress.wait_until(f"{name} gone", gone, RESTART_TIMEOUT_S, 1.0)
