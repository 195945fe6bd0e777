"""ARCH-01: only kube-apiserver talks to etcd.

Four views, each able to fail on its own:

(a) each etcd client URL refuses a client without a certificate, tried
    from the runner (Python ``ssl``) and from inside a plain pod's network
    namespace on a worker (the host's ``curl`` entered into the pod's
    namespace through node access: the workload image is busybox, which
    cannot present TLS the way a real client does);
(b) the kubelet's and the controller-manager's client certificates, read
    from their kubeconfigs on the nodes, are refused by etcd (tried from
    the runner, which keeps the keys in a private temporary directory);
(c) no process on any node other than kube-apiserver (and etcd itself)
    is configured with etcd endpoints; without node access the static
    pods' specs are read through the API instead;
(d) on every etcd member, the established connections to the client port
    belong to kube-apiserver or etcd, and the peer port only to members.

(c) and (d) are sampled twice and only what persists counts, so another
check's short etcdctl call is not mistaken for a client.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kubernetes import client

from gauntlet.checks.arch import _etcd_clients as clients
from gauntlet.checks.arch import _tls_probe as probe
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import workloads
from gauntlet.errors import GauntletError
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.etcd import etcd_processes
from gauntlet.observe.host import (
    Component,
    component_kubeconfig,
    components,
)

STEP = "only kube-apiserver talks to etcd"
PROBE_POD = "etcd-probe"
POD_READY_TIMEOUT_S = 60.0
MAX_PROBLEMS_SHOWN = 6
_FIND_POD_PROCESS = (
    'for f in /proc/[0-9]*/cgroup; do grep -qE "$1" "$f" 2>/dev/null && '
    '{ p=${f#/proc/}; echo "${p%/cgroup}"; exit 0; }; done; exit 3'
)
_CREDENTIALS = (
    ("kubelet", "/etc/kubernetes/kubelet.conf"),
    ("kube-controller-manager", "/etc/kubernetes/controller-manager.conf"),
)


def check_only_apiserver_talks_to_etcd(ctx: CheckContext) -> None:
    """etcd refuses everyone but the API server, which alone uses it.

    Raises:
        GuaranteeViolated: naming the etcd member, the client (process,
            pod or identity) and the evidence (answer, flag, connection).
        CheckSkipped: etcd is hidden, or after the API-only views passed
            when node access is missing.
    """
    urls = _etcd_urls(ctx)
    nodes = ctx.nodes
    problems: list[str] = []
    unseen: list[str] = []
    if nodes is not None:
        problems += _live_clients(ctx, nodes, urls)
    else:
        problems += _static_pod_flags(ctx)
        unseen.append("process and connection scans need node access")
    probes = [probe.from_runner(u) for u in urls]
    if nodes is not None:
        probes += _probes_from_pod(ctx, nodes, urls, unseen)
        probes += _probes_with_credentials(ctx, nodes, urls, unseen)
    else:
        unseen.append("pod-side and credential probes need node access")
    ctx.evidence("etcd probes", [p.describe() for p in probes])
    accepted = [p for p in probes if p.verdict == "accepted"]
    ctx.measure(
        "etcd requests answered for non-apiserver clients",
        len(accepted),
        "requests",
        bound=0,
    )
    problems += [
        f"etcd {_member(ctx, p.url)} answered {p.identity} from "
        f"{p.source} ({p.detail})"
        for p in accepted
    ]
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        tail = f"; and {more} more" if more > 0 else ""
        raise violated(STEP, "; ".join(shown) + tail)
    if unseen:
        ctx.evidence("not observed", unseen)
        why = ctx.nodes_unavailable if nodes is None else "see evidence"
        raise CheckSkipped(
            f"{STEP}: what could be seen passed, but {'; '.join(unseen)} "
            f"({why})"
        )


def _etcd_urls(ctx: CheckContext) -> list[str]:
    if ctx.topology.etcd_members:
        return list(ctx.topology.etcd_members)
    if ctx.nodes is not None and ctx.topology.control_planes:
        found = set()
        for comp in etcd_processes(ctx.nodes, ctx.topology).values():
            for url in (comp.flag("advertise-client-urls") or "").split(","):
                if url:
                    found.add(url)
        if found:
            return sorted(found)
    raise CheckSkipped(
        f"{STEP}: etcd's client URLs are unknown ({ctx.topology.etcd_source}"
        f", control plane {ctx.topology.control_plane_mode})"
    )


def _member(ctx: CheckContext, url: str) -> str:
    host = urlsplit(url).hostname
    for info in ctx.topology.nodes:
        if info.internal_ip == host:
            return f"{info.name} ({url})"
    return url


def _live_clients(
    ctx: CheckContext, nodes: NodeAccess, urls: list[str]
) -> list[str]:
    """(c) and (d): configured and connected clients that persist."""
    names = [n.name for n in ctx.topology.nodes]
    members = etcd_processes(nodes, ctx.topology)
    member_ips = [urlsplit(u).hostname or "" for u in urls]

    tables: list[str] = []

    def scan() -> list[clients.Finding]:
        found = clients.configured_clients(nodes, names, urls)
        if members:
            etcd = next(iter(members.values()))
            ports = clients.Ports.of(etcd, member_ips)
            sample = clients.ConnectionSample(nodes, ctx)
            found += clients.unexpected_connections(sample, members, ports)
            tables.append(clients.connection_table(sample, members, ports))
        return found

    first, second = clients.sample_twice(scan)
    ctx.evidence(
        "etcd connection table (node, local, remote, client)",
        tables[-1] if tables else "no etcd member on a visible node",
    )
    found = clients.persistent(first, second)
    ctx.measure("non-apiserver etcd clients", len(found), "clients", bound=0)
    return [str(f) for f in found]


def _static_pod_flags(ctx: CheckContext) -> list[str]:
    """(c) without node access: the control-plane pods' specs."""
    if ctx.topology.control_plane_mode != "static-pods":
        return []
    pods = ctx.cluster.core().list_namespaced_pod("kube-system").items
    found = []
    for pod in pods:
        name = str(pod.metadata.name if pod.metadata else "")
        if name.startswith(("kube-apiserver", "etcd")) or pod.spec is None:
            continue
        for container in pod.spec.containers:
            argv = [*(container.command or []), *(container.args or [])]
            if any(a.startswith("--etcd-servers") for a in argv):
                found.append(
                    f"pod kube-system/{name} on {pod.spec.node_name} is "
                    "configured with --etcd-servers"
                )
    return found


def _probes_from_pod(
    ctx: CheckContext,
    nodes: NodeAccess,
    urls: list[str],
    unseen: list[str],
) -> list[probe.Probe]:
    """(a) from a plain pod's network namespace on a worker."""
    if not ctx.topology.workers:
        unseen.append("there is no worker to start a probe pod on")
        return []
    worker = ctx.topology.workers[0].name
    core = ctx.cluster.core()
    workloads.ensure_service_account(core, ctx.namespace)
    manifest: Any = workloads.shell_pod(
        PROBE_POD, ctx.images.workload, node_name=worker
    )
    core.create_namespaced_pod(ctx.namespace, manifest)
    try:
        pod = workloads.wait_pod_running(
            core, ctx.namespace, PROBE_POD, POD_READY_TIMEOUT_S
        )
        pid = _pod_process(nodes, worker, pod)
        source = f"pod {ctx.namespace}/{PROBE_POD} on {worker}"
        return [
            probe.from_node(nodes, worker, u, netns_pid=pid, source=source)
            for u in urls
        ]
    finally:
        core.delete_namespaced_pod(
            PROBE_POD, ctx.namespace, grace_period_seconds=0
        )


def _pod_process(nodes: NodeAccess, node: str, pod: client.V1Pod) -> int:
    """A host PID inside ``pod`` (found by the pod UID in its cgroup)."""
    meta = pod.metadata or client.V1ObjectMeta()
    uid = str(meta.uid)
    pattern = f"pod({uid}|{uid.replace('-', '_')})"
    proc = nodes.run(node, ["sh", "-c", _FIND_POD_PROCESS, "sh", pattern])
    if proc.returncode != 0 or not proc.stdout.strip().isdigit():
        raise GauntletError(
            f"{STEP}: no process of pod {meta.name} found on {node} "
            "by its cgroup"
        )
    return int(proc.stdout.strip())


def _probes_with_credentials(
    ctx: CheckContext,
    nodes: NodeAccess,
    urls: list[str],
    unseen: list[str],
) -> list[probe.Probe]:
    """(b) the kubelet's and controller-manager's identities, from the
    runner."""
    order = [n.name for n in ctx.topology.workers] + [
        n.name for n in ctx.topology.control_planes
    ]
    probes = []
    for component, default in _CREDENTIALS:
        comp = _first_component(nodes, order, component)
        if comp is None:
            unseen.append(f"no {component} process to take credentials from")
            continue
        view = component_kubeconfig(nodes, comp, default)
        if view is None or not (view.cert_pem and view.key_pem):
            unseen.append(f"{component} on {comp.node} has no client cert")
            continue
        identity = f"{component}'s certificate from {comp.node}"
        tried = [
            probe.from_runner(u, identity, view.cert_pem, view.key_pem)
            for u in urls
        ]
        if all(p.verdict == "unreachable" for p in tried):
            unseen.append(f"etcd is unreachable from the runner ({identity})")
        probes += tried
    return probes


def _first_component(
    nodes: NodeAccess, order: list[str], name: str
) -> Component | None:
    for node in order:
        for comp in components(nodes, node):
            if comp.name == name:
                return comp
    return None
