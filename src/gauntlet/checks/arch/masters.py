"""ARCH-04: masters run no applications.

Control-plane nodes are found by their label and also by what runs on
them: a node that runs kube-apiserver or etcd (a kube-system pod, or a
host process read through node access) is a master whether labelled or
not, so a master stripped of its label and taint is still judged, and
the finding says how it was found. The suite's own pods (namespaces
labelled with a run, the node helper pods' namespace) are not
applications.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from kubernetes import client

from gauntlet.checks.context import CheckContext, CheckSkipped, Part
from gauntlet.cluster import workloads
from gauntlet.cluster.discovery import (
    CONTROL_PLANE_LABELS,
    MIRROR_ANNOTATION,
    not_visible,
)
from gauntlet.errors import ClusterOperationFailed
from gauntlet.nodes.helper_pods import NAMESPACE as HELPER_NAMESPACE
from gauntlet.observe import objects
from gauntlet.observe.host import components
from gauntlet.observe.watch import unique
from gauntlet.wellknown import RUN_LABEL

STEP = "masters run no applications"
PROCESS_PART = "control-plane processes"
ROLE_PART = "control-plane label and taint"
PODS_PART = "application pods"
PLAIN_PART = "plain pods avoid masters"
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-node-lease", "kube-public"})
MASTER_WORKLOADS = ("kube-apiserver", "etcd")
PLAIN_PODS_PER_NODE = 2
SCHEDULE_TIMEOUT_S = 60.0


def check_masters_run_no_applications(ctx: CheckContext) -> None:
    """Control-plane nodes are labelled, tainted and free of app pods.

    Raises:
        GuaranteeViolated: naming the node (and how it was found to be a
            master) and the missing label or taint, or the application
            pods found on it.
        CheckSkipped: no control-plane node is visible (managed).
    """
    core = ctx.cluster.core()
    nodes = {objects.name(n): n for n in core.list_node().items}
    pods = core.list_namespaced_pod("kube-system").items
    processes: dict[str, list[str]] = {}
    with ctx.part(PROCESS_PART):
        processes = _master_processes(ctx, list(nodes))
    masters = control_plane_nodes(list(nodes.values()), pods, processes)
    if not masters:
        unseen = "; ".join(
            f"{p.name}: {p.reason}"
            for p in ctx.parts
            if p.status == "unobserved"
        )
        raise CheckSkipped(
            f"{STEP}: "
            + not_visible(
                "no node has the role label or runs kube-apiserver or etcd "
                f"({unseen or 'processes read on every node'}): a managed "
                "control plane"
            )
        )
    ctx.evidence("control-plane nodes", masters)
    with ctx.part(ROLE_PART) as part:
        for name, why in sorted(masters.items()):
            for finding in role_findings(nodes[name], why):
                part.finding(finding)
    with ctx.part(PODS_PART) as part:
        _application_pods(ctx, part, set(masters))
    with ctx.part(PLAIN_PART) as part:
        _plain_pods_avoid_masters(ctx, part, set(masters))
    ctx.conclude(STEP)


def control_plane_nodes(
    nodes: list[client.V1Node],
    pods: list[client.V1Pod],
    processes: Mapping[str, Collection[str]],
) -> dict[str, list[str]]:
    """Node -> why it is a control-plane node: its role label, and the
    kube-apiserver and etcd pods and processes that run on it."""
    known = {objects.name(n) for n in nodes}
    found: dict[str, list[str]] = {}
    for node in nodes:
        labels = objects.labels(node)
        role = [label for label in CONTROL_PLANE_LABELS if label in labels]
        if role:
            found.setdefault(objects.name(node), []).append(f"label {role[0]}")
    for pod in pods:
        workload = _master_workload(pod)
        where = objects.node_name(pod)
        if workload and where in known and objects.phase(pod) == "Running":
            found.setdefault(where, []).append(f"{workload} pod")
    for where, names in processes.items():
        for name in sorted(set(names)):
            found.setdefault(where, []).append(f"{name} process")
    return {node: sorted(set(why)) for node, why in found.items()}


def role_findings(node: client.V1Node, why: list[str]) -> list[str]:
    """A master lacking the control-plane label or NoSchedule taint."""
    name = objects.name(node)
    runs = ", ".join(w for w in why if not w.startswith("label "))
    found_by = f" (runs {runs})" if runs else ""
    problems = []
    if workloads.CONTROL_PLANE_TAINT not in objects.labels(node):
        problems.append(
            f"{name}{found_by} lacks the {workloads.CONTROL_PLANE_TAINT} label"
        )
    taints = (node.spec.taints if node.spec else None) or []
    if not any(
        t.key == workloads.CONTROL_PLANE_TAINT and t.effect == "NoSchedule"
        for t in taints
    ):
        problems.append(
            f"{name}{found_by} has no "
            f"{workloads.CONTROL_PLANE_TAINT}:NoSchedule taint"
        )
    return problems


def application_pods(
    pods: list[client.V1Pod],
    masters: Collection[str],
    own_namespaces: Collection[str],
) -> list[str]:
    """``namespace/pod on node`` for live pods on masters outside the
    system namespaces and the suite's own."""
    return sorted(
        f"{(p.metadata.namespace if p.metadata else '')}/"
        f"{objects.name(p)} on {objects.node_name(p)}"
        for p in pods
        if objects.node_name(p) in masters
        and (p.metadata.namespace if p.metadata else "")
        not in SYSTEM_NAMESPACES | set(own_namespaces)
        and objects.phase(p) in ("Pending", "Running")
    )


def _master_workload(pod: client.V1Pod) -> str | None:
    meta = pod.metadata or client.V1ObjectMeta()
    component = (meta.labels or {}).get("component")
    if component in MASTER_WORKLOADS:
        return component
    if MIRROR_ANNOTATION in (meta.annotations or {}):
        for name in MASTER_WORKLOADS:
            if str(meta.name or "").startswith(f"{name}-"):
                return name
    return None


def _master_processes(
    ctx: CheckContext, nodes: list[str]
) -> dict[str, list[str]]:
    """Node -> the kube-apiserver and etcd host services running on it.

    Containers are left out: a static pod shows as a kube-system pod, and
    a kube-apiserver in an ordinary pod (a hosted tenant control plane)
    does not make its node a master.

    Raises:
        CheckSkipped: no node access.
    """
    access = ctx.require_nodes(PROCESS_PART)
    found: dict[str, list[str]] = {}
    for node in sorted(nodes):
        for comp in components(access, node):
            if comp.name not in MASTER_WORKLOADS:
                continue
            cgroup = access.run(node, ["cat", f"/proc/{comp.pid}/cgroup"])
            if cgroup.returncode != 0:
                if "No such file" in cgroup.stderr:
                    continue  # it exited since the listing
                raise ClusterOperationFailed(
                    "read",
                    f"cgroup of {comp.name} pid {comp.pid}",
                    node,
                    cgroup.stderr.strip(),
                )
            if not in_container(cgroup.stdout):
                found.setdefault(node, []).append(comp.name)
    return found


def in_container(cgroup: str) -> bool:
    """Whether ``/proc/<pid>/cgroup`` puts a process in a pod's cgroup
    (``kubepods`` with the cgroupfs and the systemd drivers alike)."""
    return "kubepods" in cgroup


def _application_pods(ctx: CheckContext, part: Part, masters: set[str]) -> None:
    core = ctx.cluster.core()
    own = {HELPER_NAMESPACE} | {
        str(ns.metadata.name)
        for ns in core.list_namespace(label_selector=RUN_LABEL).items
        if ns.metadata
    }
    pods = core.list_pod_for_all_namespaces().items
    found = application_pods(pods, masters, own)
    ctx.measure(
        "application pods on control-plane nodes", len(found), "pods", bound=0
    )
    if found:
        part.finding(
            "application pods run on control-plane nodes: "
            + ", ".join(found[:5])
            + (f" (+{len(found) - 5} more)" if len(found) > 5 else "")
        )


def _plain_pods_avoid_masters(
    ctx: CheckContext, part: Part, masters: set[str]
) -> None:
    core, ns = ctx.cluster.core(), ctx.namespace
    app = unique("plain")
    count = PLAIN_PODS_PER_NODE * len(ctx.topology.nodes)
    for i in range(count):
        pod: Any = workloads.shell_pod(  # a dict, not a model
            f"{app}-{i}", ctx.images.workload, labels={"app": app}
        )
        core.create_namespaced_pod(ns, pod)
    placed = workloads.wait_all_scheduled(
        core, ns, app, count, SCHEDULE_TIMEOUT_S
    )
    on_masters = sorted(
        f"{pod} on {node}" for pod, node in placed.items() if node in masters
    )
    if on_masters:
        part.finding(
            "plain test pods scheduled onto control-plane nodes: "
            + ", ".join(on_masters)
        )
