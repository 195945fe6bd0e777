"""What serves while UPG-06 upgrades the cluster, and how to read it.

The web Deployment (two pods, spread) behind a ClusterIP Service has a
PodDisruptionBudget of one, so a drain evicts one pod at a time, as a
real workload that expects to survive upgrades would. Its client is a
DaemonSet pinned to one node: a drain leaves DaemonSet pods in place and
a kubelet restart leaves containers running, so the client logs
``<epoch> ok|fail`` through the whole upgrade.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubernetes import utils

from gauntlet.checks.chaos import web
from gauntlet.checks.context import CheckContext
from gauntlet.cluster import workloads
from gauntlet.observe import objects

__all__ = [
    "CLIENT",
    "Window",
    "client_log",
    "deploy",
    "failure_windows",
    "pod_restarts",
]

APP = "web"
CLIENT = "svc-client"


@dataclass(frozen=True)
class Window:
    """Consecutive failed requests, from the first to the last (epoch s)."""

    start: int
    end: int
    failed: int

    @property
    def seconds(self) -> int:
        return self.end - self.start + 1


def deploy(ctx: CheckContext, client_node: str) -> None:
    """The web pods, their Service and budget, and the client DaemonSet."""
    web.deploy_web(ctx, APP, replicas=2, spread=True)
    utils.create_from_dict(  # type: ignore[no-untyped-call]
        ctx.cluster.api,
        workloads.disruption_budget(APP, 1),
        namespace=ctx.namespace,
    )
    script = web.client_script(ctx, APP)
    utils.create_from_dict(  # type: ignore[no-untyped-call]
        ctx.cluster.api,
        _client_daemonset(ctx.images.workload, client_node, script),
        namespace=ctx.namespace,
    )
    workloads.wait_pod_running(
        ctx.cluster.core(), ctx.namespace, _client_pod(ctx)
    )


def _client_daemonset(image: str, node: str, script: str) -> dict[str, Any]:
    pod = workloads.shell_pod(
        CLIENT, image, tolerate_all=True, command=["sh", "-c", script]
    )
    spec = dict(pod["spec"])
    spec["restartPolicy"] = "Always"
    spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    labels = {"app": CLIENT}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": CLIENT, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def _client_pod(ctx: CheckContext) -> str:
    """The client DaemonSet's one pod (waited for: the controller makes
    it a moment after the DaemonSet)."""
    core = ctx.cluster.core()
    for _ in range(60):
        pods = workloads.pods_of(core, ctx.namespace, CLIENT)
        if pods:
            return objects.name(pods[0])
        time.sleep(1.0)
    raise TimeoutError(f"no pod of DaemonSet {ctx.namespace}/{CLIENT}")


def client_log(ctx: CheckContext) -> list[tuple[int, bool]]:
    """Every request the client logged: (epoch s, answered)."""
    text = ctx.cluster.core().read_namespaced_pod_log(
        _client_pod(ctx), ctx.namespace
    )
    found = []
    for line in str(text).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            found.append((int(parts[0]), parts[1] == "ok"))
    return found


def failure_windows(log: Iterable[tuple[int, bool]]) -> list[Window]:
    """Runs of consecutive failed requests, in log order."""
    windows: list[Window] = []
    start = end = failed = 0
    for epoch, ok in log:
        if not ok:
            if not failed:
                start = epoch
            end, failed = epoch, failed + 1
            continue
        if failed:
            windows.append(Window(start, end, failed))
            failed = 0
    if failed:
        windows.append(Window(start, end, failed))
    return windows


def pod_restarts(ctx: CheckContext) -> dict[str, tuple[str, int]]:
    """Every pod in the cluster: ``namespace/name`` -> (uid, restarts)."""
    pods = ctx.cluster.core().list_pod_for_all_namespaces().items
    return {
        f"{objects.namespace(p)}/{objects.name(p)}": (
            objects.uid(p),
            objects.restarts(p),
        )
        for p in pods
    }
