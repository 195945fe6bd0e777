"""ARCH-03: the control plane is complete.

Every control-plane node runs kube-apiserver, kube-scheduler,
kube-controller-manager and, when etcd is stacked, etcd; every node runs
kube-proxy (or the replacement named in ``KUBE_GAUNTLET_KUBE_PROXY``).
A component counts as running when node access shows its process, or
when a kube-system pod for it on that node is Running and ready (static
pods, the kube-proxy DaemonSet); the check works for host services,
static pods and a mix. The detected topology is attached.
"""

from __future__ import annotations

import os
import posixpath
from urllib.parse import urlsplit

from kubernetes import client

from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster.discovery import NO_CONTROL_PLANE_NODE
from gauntlet.observe.host import (
    CONTROL_PLANE_COMPONENTS,
    host_processes,
)

STEP = "the control plane is complete"
ENV_KUBE_PROXY = "KUBE_GAUNTLET_KUBE_PROXY"
REPORTED = ("kubelet", "containerd", "crio")
POD_LABELS = ("component", "k8s-app", "app.kubernetes.io/name")


def check_control_plane_is_complete(ctx: CheckContext) -> None:
    """Each control-plane node runs every control-plane component and
    every node runs kube-proxy.

    Raises:
        GuaranteeViolated: naming each node and the component missing on
            it.
        CheckSkipped: nothing could be observed.
    """
    proxy = os.environ.get(ENV_KUBE_PROXY) or "kube-proxy"
    seen = _running(ctx, {*CONTROL_PLANE_COMPONENTS, *REPORTED, proxy})
    stacked = _stacked_etcd_ips(ctx, seen)
    expected: dict[str, list[str]] = {}
    for info in ctx.topology.nodes:
        want = [proxy]
        if info.control_plane:
            want += [
                c
                for c in CONTROL_PLANE_COMPONENTS
                if c != "etcd" or info.internal_ip in stacked
            ]
        expected[info.name] = want
    ctx.evidence(
        "control-plane topology",
        {
            "mode": ctx.topology.control_plane_mode,
            "etcd": "stacked" if stacked else "external or hidden",
            "nodes": {
                node: {"expected": want, "running": seen.get(node, {})}
                for node, want in expected.items()
            },
            "cluster": ctx.topology.to_environment(),
        },
    )
    ctx.measure(
        "control-plane nodes", len(ctx.topology.control_planes), "nodes"
    )
    missing = 0
    for comp in [*CONTROL_PLANE_COMPONENTS, proxy]:
        nodes = [node for node, want in expected.items() if comp in want]
        shape = _not_expected(ctx, comp, proxy, nodes)
        if shape is not None:
            by_shape, why = shape
            record = ctx.not_applicable if by_shape else ctx.unobserved
            record(comp, why)
            continue
        with ctx.part(comp) as part:
            unseen = []
            for node in nodes:
                if comp in seen.get(node, {}):
                    continue
                if _observable(ctx, comp, seen, proxy):
                    part.finding(f"{node}: {comp} is not running")
                else:
                    unseen.append(node)
            missing += len(part.findings)
            if unseen:
                raise CheckSkipped(
                    f"cannot observe {comp} on {', '.join(unseen)} (control "
                    f"plane {ctx.topology.control_plane_mode}): "
                    f"{ctx.nodes_unavailable}"
                )
    ctx.measure("missing components", missing, "components", bound=0)
    ctx.conclude(STEP)


def _not_expected(
    ctx: CheckContext, comp: str, proxy: str, nodes: list[str]
) -> tuple[bool, str] | None:
    """When no node is expected to run ``comp``: whether that is by the
    cluster's shape (not applicable) or unseen, and why."""
    if nodes:
        return None
    if comp == proxy:
        return False, "no node is visible"
    if not ctx.topology.control_planes:
        return False, NO_CONTROL_PLANE_NODE
    if ctx.topology.etcd_members:  # known members, none on these nodes
        return True, "etcd is external: no member on a control-plane node"
    return False, (
        "no etcd member found on the control-plane nodes and the members "
        "are unknown"
    )


def _running(ctx: CheckContext, names: set[str]) -> dict[str, dict[str, str]]:
    """node -> component -> where it was seen (``process 123``, ``pod x``)."""
    seen: dict[str, dict[str, str]] = {}
    for pod in ctx.cluster.core().list_namespaced_pod("kube-system").items:
        node = pod.spec.node_name if pod.spec else None
        if node and _ready(pod):
            for name in _pod_components(pod) & names:
                meta = pod.metadata or client.V1ObjectMeta()
                seen.setdefault(node, {})[name] = f"pod {meta.name}"
    if ctx.nodes is not None:
        for info in ctx.topology.nodes:
            for proc in host_processes(ctx.nodes, info.name):
                name = posixpath.basename(proc.argv[0])
                if name not in names:
                    continue
                seen.setdefault(info.name, {}).setdefault(
                    name, f"process {proc.pid}"
                )
    return seen


def _pod_components(pod: client.V1Pod) -> set[str]:
    meta = pod.metadata or client.V1ObjectMeta()
    labels = meta.labels or {}
    names = {labels[k] for k in POD_LABELS if k in labels}
    name = str(meta.name or "")
    names |= {name.rsplit("-", 1)[0], name}
    if pod.spec is not None:
        names |= {c.name for c in pod.spec.containers}
    return names


def _ready(pod: client.V1Pod) -> bool:
    status = pod.status
    if status is None or status.phase != "Running":
        return False
    return all(c.ready for c in status.container_statuses or [])


def _stacked_etcd_ips(
    ctx: CheckContext, seen: dict[str, dict[str, str]]
) -> set[str]:
    """Control-plane IPs that should run an etcd member."""
    cp_ips = {n.internal_ip for n in ctx.topology.control_planes}
    hosts = {urlsplit(u).hostname for u in ctx.topology.etcd_members}
    stacked = {ip for ip in cp_ips & hosts if ip}
    if stacked:
        return stacked
    if any("etcd" in seen.get(n.name, {}) for n in ctx.topology.control_planes):
        return {ip for ip in cp_ips if ip}
    return set()


def _observable(
    ctx: CheckContext,
    comp: str,
    seen: dict[str, dict[str, str]],
    proxy: str,
) -> bool:
    """Whether a missing ``comp`` would have been seen if it ran."""
    if ctx.nodes is not None:
        return True
    if comp == proxy:
        return any(comp in found for found in seen.values())
    return ctx.topology.control_plane_mode == "static-pods"
