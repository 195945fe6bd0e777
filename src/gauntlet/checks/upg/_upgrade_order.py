"""The upgrade order the skew policy implies, naming the nodes.

The policy's "Supported component upgrade order": etcd when the release
needs a newer one, each API server one at a time, then the controllers,
then each node drained with its kubelet and kube-proxy upgraded. Pure:
observed versions in, numbered steps out; what is already at the target
is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gauntlet.checks.upg._skew_policy import (
    APISERVER,
    CONTROLLERS,
    NODE_AGENTS,
    ObservedVersion,
)
from gauntlet.kube_version import KubeVersion

__all__ = ["UpgradePlan", "UpgradeStep", "upgrade_order"]

ORDER = (APISERVER, *CONTROLLERS, *NODE_AGENTS)
"""The components in the order they are upgraded (and listed)."""


@dataclass(frozen=True)
class UpgradeStep:
    """One step of the upgrade, on one node or for the whole cluster."""

    what: str
    node: str = ""


@dataclass(frozen=True)
class UpgradePlan:
    """The order to upgrade in, with what kept it from being supported."""

    target: KubeVersion
    steps: tuple[UpgradeStep, ...]
    findings: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The order as numbered lines, the findings noted first."""
        head = f"upgrade order to {self.target}"
        if self.findings:
            head += f" (not supported as it stands: {len(self.findings)}"
            head += " finding(s) in UPG-01)"
        if not self.steps:
            return [
                f"{head}: nothing to upgrade, every observed component is "
                f"at {self.target} or newer"
            ]
        numbered = [f"  {i}. {s.what}" for i, s in enumerate(self.steps, 1)]
        return [f"{head}:", *numbered]

    @property
    def text(self) -> str:
        return "\n".join(self.lines())


def upgrade_order(
    observed: Sequence[ObservedVersion],
    target: KubeVersion,
    control_planes: Sequence[str],
    workers: Sequence[str],
    managed: bool = False,
) -> list[UpgradeStep]:
    """The policy's order, naming the nodes: etcd if needed, each API
    server one at a time, the controllers per node, then each node
    drained, its kubelet and kube-proxy upgraded, uncordoned (control
    planes first). Instances already at the target are left out; a
    managed control plane is one step, the provider's."""
    below = [o for o in observed if o.version < target]
    servers = sorted(
        (o for o in below if o.component == APISERVER), key=lambda o: o.node
    )
    controllers = [o for o in below if o.component in CONTROLLERS]
    steps: list[UpgradeStep] = []
    if managed:
        if servers or controllers:
            steps.append(
                UpgradeStep(
                    f"control plane: the provider upgrades it to {target} "
                    "(etcd, kube-apiserver, controllers)"
                )
            )
    else:
        if servers and control_planes:
            steps.append(
                UpgradeStep(
                    f"etcd on {', '.join(control_planes)}: if {target} "
                    "needs a newer etcd, upgrade each member first, one at "
                    "a time"
                )
            )
        steps += [
            UpgradeStep(
                f"kube-apiserver on {s.node}: {s.shown} -> {target} (one at "
                "a time, each Ready before the next)",
                s.node,
            )
            for s in servers
        ]
        for node in _node_order(controllers, control_planes, workers):
            mine = [o for o in controllers if o.node == node]
            steps.append(UpgradeStep(f"on {node}: {_changes(mine, target)}"))
    agents = [o for o in below if o.component in NODE_AGENTS]
    for node in _node_order(agents, control_planes, workers):
        mine = [o for o in agents if o.node == node]
        steps.append(
            UpgradeStep(
                f"drain {node}, upgrade {_changes(mine, target, ' and ')}, "
                f"uncordon {node}",
                node,
            )
        )
    return steps


def _node_order(
    instances: Iterable[ObservedVersion],
    control_planes: Sequence[str],
    workers: Sequence[str],
) -> list[str]:
    """The nodes the instances run on: control planes, workers, others."""
    nodes = {o.node for o in instances}
    known = [*control_planes, *workers]
    return [n for n in known if n in nodes] + sorted(nodes - set(known))


def _changes(
    instances: Sequence[ObservedVersion], target: KubeVersion, sep: str = ", "
) -> str:
    return sep.join(
        f"{o.component} {o.shown} -> {target}"
        for o in sorted(instances, key=_rank)
    )


def _rank(o: ObservedVersion) -> int:
    return ORDER.index(o.component) if o.component in ORDER else len(ORDER)
