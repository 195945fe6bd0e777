"""Which nodes a per-node data-path check runs from.

kube-proxy, the kubelet and the CNI run on every node, so one broken node
is invisible to a check that only ever runs from another. The data-path
checks therefore run from every Ready node, up to ``PATH_NODES_ENV``
nodes; beyond that from an evenly spread sample, and the nodes left out
(or not Ready) are reported as unobserved parts, by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from gauntlet.checks.context import CheckContext
from gauntlet.cluster.workloads import node_is_ready
from gauntlet.config import env_count
from gauntlet.observe.watch import KubeObject, joined

__all__ = [
    "DEFAULT_PATH_NODES",
    "PATH_NODES_ENV",
    "NodeSample",
    "path_node_limit",
    "record_left_out",
    "sample_nodes",
]

PATH_NODES_ENV = "KUBE_GAUNTLET_PATH_NODES"
DEFAULT_PATH_NODES = 16


@dataclass(frozen=True)
class NodeSample:
    """The nodes to run from, and those that are not, by reason."""

    chosen: tuple[str, ...]
    not_ready: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()
    """Ready nodes beyond the limit."""


def path_node_limit() -> int:
    """Most nodes to run from (``KUBE_GAUNTLET_PATH_NODES``, default 16).

    Raises:
        UsageError: the variable is not a positive whole number.
    """
    return env_count(PATH_NODES_ENV, DEFAULT_PATH_NODES)


def sample_nodes(nodes: list[KubeObject], limit: int) -> NodeSample:
    """Every Ready node, or ``limit`` of them spread evenly by name."""
    ready = sorted(n.metadata.name for n in nodes if node_is_ready(n))
    not_ready = sorted(n.metadata.name for n in nodes if not node_is_ready(n))
    if len(ready) <= limit:
        return NodeSample(tuple(ready), tuple(not_ready))
    picks = sorted({i * len(ready) // limit for i in range(limit)})
    chosen = tuple(ready[i] for i in picks)
    left_out = tuple(n for n in ready if n not in chosen)
    return NodeSample(chosen, tuple(not_ready), left_out)


def record_left_out(ctx: CheckContext, what: str, sample: NodeSample) -> None:
    """Unobserved parts naming the nodes the check does not run from."""
    if sample.not_ready:
        ctx.unobserved(
            f"{what} from nodes not Ready",
            f"not Ready: {joined(sample.not_ready, 10)}",
        )
    if sample.left_out:
        ctx.unobserved(
            f"{what} from the other nodes",
            f"sampled {len(sample.chosen)} of "
            f"{len(sample.chosen) + len(sample.left_out)} Ready nodes (raise "
            f"{PATH_NODES_ENV} to cover all); left out: "
            f"{joined(sample.left_out, 10)}",
        )
