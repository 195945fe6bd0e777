# The kubernetes client types every model field as optional and every
# body as a model; we pass plain dicts and read fields the API always sets.
# mypy: disable-error-code="union-attr,arg-type,operator,return-value"
"""ARCH-04: masters run no applications."""

from __future__ import annotations

from kubernetes import client

from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import workloads

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-node-lease", "kube-public"})
PLAIN_PODS_PER_NODE = 2
SCHEDULE_TIMEOUT_S = 60.0


def _control_plane_problems(node: client.V1Node) -> list[str]:
    name = node.metadata.name
    problems = []
    if workloads.CONTROL_PLANE_TAINT not in (node.metadata.labels or {}):
        problems.append(
            f"{name} lacks the {workloads.CONTROL_PLANE_TAINT} label"
        )
    if not any(
        t.key == workloads.CONTROL_PLANE_TAINT and t.effect == "NoSchedule"
        for t in node.spec.taints or []
    ):
        problems.append(
            f"{name} has no {workloads.CONTROL_PLANE_TAINT}:NoSchedule taint"
        )
    return problems


def check_masters_run_no_applications(ctx: CheckContext) -> None:
    """Control-plane nodes are labelled, tainted and free of app pods.

    Raises:
        GuaranteeViolated: naming the node and the missing taint or the
            application pods found on it.
        CheckSkipped: when no control-plane node is visible (managed).
    """
    names = {n.name for n in ctx.topology.control_planes}
    if not names:
        raise CheckSkipped(
            "no control-plane nodes are visible: the control "
            "plane is hidden (managed service)"
        )
    core = ctx.cluster.core()
    problems = []
    for name in sorted(names):
        problems += _control_plane_problems(core.read_node(name))
    app_pods = [
        f"{p.metadata.namespace}/{p.metadata.name} on {p.spec.node_name}"
        for p in core.list_pod_for_all_namespaces().items
        if p.spec.node_name in names
        and p.metadata.namespace not in SYSTEM_NAMESPACES
        and p.status.phase in ("Pending", "Running")
    ]
    ctx.measure(
        "application pods on control-plane nodes",
        len(app_pods),
        "pods",
        bound=0,
    )
    if app_pods:
        problems.append(
            "application pods run on control-plane nodes: "
            + ", ".join(sorted(app_pods)[:5])
        )
    if problems:
        raise violated("masters run no applications", "; ".join(problems))
    _plain_pods_avoid_masters(ctx, names)


def _plain_pods_avoid_masters(ctx: CheckContext, masters: set[str]) -> None:
    core, ns = ctx.cluster.core(), ctx.namespace
    count = PLAIN_PODS_PER_NODE * len(ctx.topology.nodes)
    for i in range(count):
        core.create_namespaced_pod(
            ns,
            workloads.shell_pod(
                f"plain-{i}", ctx.images.workload, labels={"app": "plain"}
            ),
        )
    placed = workloads.wait_all_scheduled(
        core, ns, "plain", count, SCHEDULE_TIMEOUT_S
    )
    on_masters = sorted(
        f"{pod} on {node}" for pod, node in placed.items() if node in masters
    )
    if on_masters:
        raise violated(
            "plain test pods avoid masters",
            "scheduled onto control-plane nodes: " + ", ".join(on_masters),
        )
