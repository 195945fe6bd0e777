"""ARCH-14's instance view: every scheduler and controller-manager running.

A Lease shows only the instances that take part in leader election; one
started with ``--leader-elect=false`` is active without ever touching it.
So the processes on the control-plane nodes (node access) and the pods in
kube-system (static pods, Deployments) are read too, each instance with
its leader-election settings: flags first, then the ``leaderElection``
of its ``--config`` file (processes only; a pod's file is on a volume),
else the defaults (elected, Lease named after the component).

Active instances are the unelected ones plus one leader among the elected
ones of the default Lease; more than one is a finding naming node and
process or pod. Elected instances of another Lease are another election
and not counted.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes import client

from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster.discovery import NO_CONTROL_PLANE_NODE
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe import objects
from gauntlet.observe.host import (
    Component,
    components,
    flag_value,
    read_process_file,
)

NAMESPACE = "kube-system"


@dataclass(frozen=True)
class Instance:
    """One running scheduler or controller-manager."""

    component: str
    node: str
    where: str
    """``pid 123 on cp1`` or ``pod kube-system/name on cp1``."""
    elected: bool
    lease: str
    """The Lease it competes for (meaningless when not elected)."""

    @property
    def described(self) -> str:
        if self.elected:
            return f"{self.where} (elected, Lease {self.lease})"
        return f"{self.where} without leader election (--leader-elect=false)"


def leader_election(
    component: str, argv: Sequence[str], config: dict[str, Any] | None
) -> tuple[bool, str]:
    """(elected, Lease name): flags win over the config file, which wins
    over the defaults, as in kube-scheduler and kube-controller-manager."""
    section = (config or {}).get("leaderElection") or {}
    elect = flag_value(argv, "leader-elect")
    if elect is not None:
        elected = elect.lower() != "false"
    else:
        elected = section.get("leaderElect", True) is not False
    lease = flag_value(argv, "leader-elect-resource-name")
    return elected, lease or section.get("resourceName") or component


def instance_of(
    component: str,
    node: str,
    where: str,
    argv: Sequence[str],
    config: dict[str, Any] | None = None,
) -> Instance:
    elected, lease = leader_election(component, argv, config)
    return Instance(component, node, where, elected, lease)


def active_findings(component: str, instances: list[Instance]) -> list[str]:
    """More than one active instance of ``component`` is a finding."""
    mine = [i for i in instances if i.component == component]
    unelected = [i for i in mine if not i.elected]
    elected = [i for i in mine if i.elected and i.lease == component]
    active = len(unelected) + (1 if elected else 0)
    if active <= 1:
        return []
    named = [i.described for i in unelected]
    if elected:
        named.append(
            f"the leader of {len(elected)} elected on "
            + ", ".join(sorted({i.node for i in elected}))
        )
    return [f"{component} has {active} active instances: {', '.join(named)}"]


def holder_findings(
    component: str,
    holder: str,
    instances: list[Instance],
    seen_nodes: Collection[str],
) -> list[str]:
    """The Lease holder ``<host>_<uuid>`` must run an elected instance on
    its host, when that host is a node whose instances were read."""
    host = holder.split("_", 1)[0]
    if not holder or host not in seen_nodes:
        return []
    if any(
        i.component == component and i.elected and i.node == host
        for i in instances
    ):
        return []
    return [
        f"Lease {NAMESPACE}/{component} holder {holder}: no elected "
        f"{component} runs on {host}"
    ]


def process_instances(
    nodes: NodeAccess, node: str, wanted: Collection[str]
) -> list[Instance]:
    """The wanted components running on ``node`` as processes."""
    found = []
    for comp in components(nodes, node):
        if comp.name not in wanted:
            continue
        found.append(
            instance_of(
                comp.name,
                node,
                f"{comp.name} pid {comp.pid} on {node}",
                comp.argv,
                _config(nodes, comp),
            )
        )
    return found


def pod_instances(
    pods: list[client.V1Pod], wanted: Collection[str], skip_nodes: set[str]
) -> list[Instance]:
    """Running pods of the wanted components (by a container's program or
    the ``component`` label), one instance per pod, off the ``skip_nodes``
    (whose processes were read: a static pod is a process there too)."""
    found = []
    for pod in pods:
        node = objects.node_name(pod)
        if objects.phase(pod) != "Running" or node in skip_nodes:
            continue
        spec = pod.spec or client.V1PodSpec(containers=[])
        argvs = [[*(c.command or []), *(c.args or [])] for c in spec.containers]
        label = objects.labels(pod).get("component", "")
        named = [
            (posixpath.basename(a[0]), a)
            for a in argvs
            if a and posixpath.basename(a[0]) in wanted
        ]
        if not named and label in wanted and argvs:
            named = [(label, argvs[0])]
        for name, argv in named[:1]:
            where = f"pod {NAMESPACE}/{objects.name(pod)} on {node or '?'}"
            found.append(instance_of(name, node, where, argv))
    return found


def survey(
    ctx: CheckContext, wanted: Sequence[str], holder_hosts: Collection[str]
) -> tuple[list[Instance], set[str]]:
    """Every instance of the ``wanted`` components, and the nodes whose
    instances are all known (processes read, or static pods). Each
    component with no instance found is reported unobserved.

    Raises:
        CheckSkipped: no instance of any component was found.
        NodeAccessError: node access became impossible (the part is
            unobserved).
    """
    known = {n.name for n in ctx.topology.nodes}
    scanned: set[str] = set()
    instances: list[Instance] = []
    if ctx.nodes is not None:
        scanned = {n.name for n in ctx.topology.control_planes}
        scanned |= {h for h in holder_hosts if h in known}
        for node in sorted(scanned):
            instances += process_instances(ctx.nodes, node, wanted)
    pods = ctx.cluster.core().list_namespaced_pod(NAMESPACE).items
    instances += pod_instances(pods, wanted, scanned)
    if scanned:
        looked = (
            f"pods in {NAMESPACE} or processes on {', '.join(sorted(scanned))}"
        )
    elif ctx.nodes is None:
        looked = (
            f"pods in {NAMESPACE} (no node access: {ctx.nodes_unavailable})"
        )
    else:
        looked = f"pods in {NAMESPACE} ({NO_CONTROL_PLANE_NODE})"
    absent = [c for c in wanted if not any(i.component == c for i in instances)]
    if len(absent) == len(wanted):
        raise CheckSkipped(f"no {' or '.join(wanted)} in {looked}")
    for component in absent:
        ctx.unobserved(f"{component} instances", f"no {component} in {looked}")
    if ctx.topology.control_plane_mode == "static-pods":
        return instances, known  # every node's static pods are visible
    return instances, scanned


def _config(nodes: NodeAccess, comp: Component) -> dict[str, Any] | None:
    path = comp.flag("config")
    if path is None:
        return None
    loaded = yaml.safe_load(read_process_file(nodes, comp, path))
    return loaded if isinstance(loaded, dict) else None
