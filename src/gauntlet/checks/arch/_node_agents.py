"""ARCH-02's node part: kubelet and kube-proxy talk to an API server only.

Every node's kubelet and kube-proxy kubeconfig must point at an API server
endpoint, never at etcd. A node where an agent's process is not found
(an agent built into another binary, as in k3s, or a kube-proxy
replacement) is named as unobserved: absence is never a pass.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from kubernetes import client

from gauntlet.checks.context import CheckContext, CheckSkipped, Part
from gauntlet.observe.host import (
    component_kubeconfig,
    components,
    server_port,
)
from gauntlet.wellknown import ETCD_CLIENT_PORT, ETCD_PEER_PORT

PART = "node agents"
MISSING_PART = "node agents not found"
API_PORTS = frozenset({443, 6443})
AGENTS = (
    ("kubelet", "/etc/kubernetes/kubelet.conf"),
    ("kube-proxy", "/etc/kubernetes/kube-proxy.conf"),
)


@dataclass(frozen=True)
class AgentView:
    """Where one node agent's kubeconfig sends it."""

    node: str
    agent: str
    server: str
    path: str

    @property
    def port(self) -> int:
        return server_port(self.server)


def judge_node_agents(ctx: CheckContext, part: Part) -> None:
    """Read every node's agents and judge where they point.

    Raises:
        CheckSkipped: no node access, or no agent process on any node.
    """
    nodes = ctx.require_nodes(PART)
    views, missing = [], []
    for info in ctx.topology.nodes:
        running = {c.name: c for c in components(nodes, info.name)}
        for agent, default in AGENTS:
            comp = running.get(agent)
            if comp is None:
                missing.append(f"{agent} on {info.name}")
                continue
            view = component_kubeconfig(nodes, comp, default)
            if view is None:
                missing.append(f"{agent} kubeconfig on {info.name}")
                continue
            views.append(AgentView(info.name, agent, view.server, view.path))
    ctx.evidence(
        "node kubeconfig servers",
        "\n".join(f"{v.node}\t{v.agent}\t{v.server}" for v in views)
        + "".join(f"\n{m}\tno process found" for m in missing),
    )
    report_missing(ctx, views, missing)
    etcd = {urlsplit(u).netloc for u in ctx.topology.etcd_members}
    for finding in agent_findings(views, API_PORTS | _api_ports(ctx), etcd):
        part.finding(finding)


def report_missing(
    ctx: CheckContext, views: list[AgentView], missing: list[str]
) -> None:
    """Agents without a process are unobserved, by node.

    Raises:
        CheckSkipped: no agent was found anywhere (nothing observed).
    """
    if not missing:
        return
    reason = "no process found: " + ", ".join(missing)
    if not views:
        raise CheckSkipped(reason)
    ctx.unobserved(MISSING_PART, reason)


def agent_findings(
    views: list[AgentView], api_ports: Collection[int], etcd: Collection[str]
) -> list[str]:
    """Agents pointing at etcd or at a port no API server serves."""
    problems = []
    for v in views:
        where = urlsplit(v.server).netloc
        if not v.server:
            problems.append(f"{v.agent} on {v.node} has no server in {v.path}")
        elif v.port in (ETCD_CLIENT_PORT, ETCD_PEER_PORT) or where in etcd:
            problems.append(
                f"{v.agent} on {v.node} points at etcd ({v.server}, {v.path})"
            )
        elif v.port not in api_ports:
            problems.append(
                f"{v.agent} on {v.node} points at {v.server} ({v.path}), "
                f"not an API server port {sorted(api_ports)}"
            )
    return problems


def _api_ports(ctx: CheckContext) -> set[int]:
    ports = set()
    server = urlsplit(ctx.cluster.server)
    if server.port:
        ports.add(server.port)
    slices = client.DiscoveryV1Api(
        ctx.cluster.api
    ).list_namespaced_endpoint_slice(
        "default", label_selector="kubernetes.io/service-name=kubernetes"
    )
    for item in slices.items:
        for port in item.ports or []:
            if port.port:
                ports.add(int(port.port))
    return ports
