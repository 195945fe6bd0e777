"""ARCH-05: nodes use a CRI runtime.

Reads every Node afresh (not the session's topology) so a change made
since discovery is seen: each node's ``containerRuntimeVersion`` must be
``containerd://`` or ``cri-o://``; kubelet versions are attached per node
and the number of distinct versions is measured. No node listed is no
evidence: the part is then unobserved.
"""

from __future__ import annotations

from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster.discovery import node_info

STEP = "nodes use a CRI runtime"
RUNTIME = "container runtime of every node"
CRI_RUNTIMES = ("containerd://", "cri-o://")


def check_nodes_use_a_cri_runtime(ctx: CheckContext) -> None:
    """Every node reports containerd or CRI-O.

    Raises:
        GuaranteeViolated: naming each node and the runtime it reports.
        CheckSkipped: no node is listed.
    """
    with ctx.part(RUNTIME):
        _check_runtimes(ctx)
    ctx.conclude(STEP)


def _check_runtimes(ctx: CheckContext) -> None:
    infos = [node_info(n) for n in ctx.cluster.core().list_node().items]
    if not infos:
        raise CheckSkipped("no node listed")
    ctx.evidence(
        "kubelet and runtime per node",
        {
            i.name: {
                "kubelet": i.kubelet_version,
                "runtime": i.container_runtime,
            }
            for i in infos
        },
    )
    ctx.measure(
        "distinct kubelet versions",
        len({i.kubelet_version for i in infos}),
        "versions",
    )
    wrong = sorted(
        f"{i.name} reports {i.container_runtime or 'no runtime'}"
        for i in infos
        if not i.container_runtime.startswith(CRI_RUNTIMES)
    )
    ctx.measure("nodes without a CRI runtime", len(wrong), "nodes", bound=0)
    if wrong:
        raise violated(
            "runtime",
            "; ".join(wrong) + f" (expected {' or '.join(CRI_RUNTIMES)})",
        )
