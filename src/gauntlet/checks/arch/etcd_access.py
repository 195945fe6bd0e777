"""ARCH-01: only kube-apiserver talks to etcd.

Five parts, each able to fail (or go unobserved) on its own:

certificates
    each etcd client URL refuses a client without a certificate, tried
    from the runner (Python ``ssl``);
rogue-client probe
    the same, from inside a plain pod's network namespace on a worker
    (the host's ``curl`` entered into the pod's namespace through node
    access: the workload image need not carry a TLS client, and the
    probe must present TLS the way a real client does);
credentials
    the kubelet's and the controller-manager's client certificates, read
    from their kubeconfigs on the nodes, are refused by etcd (tried from
    the runner, which keeps the keys in a private temporary directory);
configured clients
    no process on any node other than kube-apiserver (and etcd itself)
    is configured with etcd endpoints; without node access the static
    pods' specs are read through the API instead;
live connections
    on every etcd member, the established connections to the client port
    belong to kube-apiserver or etcd, and the peer port only to members.
    With etcd outside the nodes (external etcd) this part is unobserved,
    with the reason: its connections are beyond node access.

A probe that got no answer proves nothing: probes are counted (answered,
unanswered); a probing part in which nothing answered is unobserved,
otherwise the unanswered ones are measured and listed in the evidence.
Configured clients and live connections are sampled twice and only what
persists counts, so another check's short etcdctl call is not mistaken
for a client.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from kubernetes import client

from gauntlet.checks.arch import _etcd_clients as clients
from gauntlet.checks.arch import _tls_probe as probe
from gauntlet.checks.context import CheckContext, CheckSkipped, Part
from gauntlet.cluster import workloads
from gauntlet.cluster.discovery import not_visible
from gauntlet.errors import GauntletError
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.etcd import etcd_processes
from gauntlet.observe.host import (
    Component,
    component_kubeconfig,
    components,
)

STEP = "only kube-apiserver talks to etcd"
CERTIFICATES = "certificates"
ROGUE_CLIENT = "rogue-client probe"
CREDENTIALS = "credentials"
CONFIGURED = "configured clients"
CONNECTIONS = "live connections"
PARTS = (CERTIFICATES, ROGUE_CLIENT, CREDENTIALS, CONFIGURED, CONNECTIONS)
PROBE_POD = "etcd-probe"
POD_READY_TIMEOUT_S = 60.0
MAX_PROBLEMS_SHOWN = 6
_LOOPBACKS = ("127.0.0.1", "localhost", "[::1]")
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
        CheckSkipped: no part could be observed (etcd hidden, no node
            access and no answer from the runner).
    """
    urls = _EtcdUrls(ctx)
    with ctx.part(CERTIFICATES) as part:
        _judge_probes(ctx, part, [probe.from_runner(u) for u in urls()])
    with ctx.part(ROGUE_CLIENT) as part:
        _judge_probes(ctx, part, _probes_from_pod(ctx, urls()))
    with ctx.part(CREDENTIALS) as part:
        _judge_probes(ctx, part, *_probes_with_credentials(ctx, urls()))
    with ctx.part(CONFIGURED) as part:
        found = _configured_clients(ctx, urls)
        ctx.measure(
            "non-apiserver processes configured for etcd",
            len(found),
            "processes",
            bound=0,
        )
        _findings(part, found)
    with ctx.part(CONNECTIONS) as part:
        _findings(part, live_connections(ctx, urls.known()))
    ctx.conclude(STEP)


class _EtcdUrls:
    """etcd's client URLs, found once when a part first needs them.

    From the topology, else (with node access) from etcd's own
    ``--advertise-client-urls`` and the API servers' ``--etcd-servers``
    on the control-plane nodes (external etcd shows only there).
    """

    def __init__(self, ctx: CheckContext) -> None:
        self._ctx = ctx
        self._urls: list[str] | None = None

    def __call__(self) -> list[str]:
        """The URLs.

        Raises:
            CheckSkipped: they are unknown.
        """
        if self._urls is None:
            self._urls = _etcd_urls(self._ctx)
        if not self._urls:
            topo = self._ctx.topology
            why = (
                f"etcd's client URLs are unknown ({topo.etcd_source}, "
                f"control plane {topo.control_plane_mode})"
            )
            if topo.control_plane_mode == "hidden":
                why = not_visible("etcd's client URLs are unknown")
            raise CheckSkipped(why)
        return self._urls

    def known(self) -> list[str]:
        """The URLs, or none when unknown (for parts that can do
        without)."""
        try:
            return self()
        except CheckSkipped:
            return []


def _etcd_urls(ctx: CheckContext) -> list[str]:
    if ctx.topology.etcd_members:
        return list(ctx.topology.etcd_members)
    if ctx.nodes is None:
        return []
    found: set[str] = set()
    for info in ctx.topology.control_planes:
        for comp in components(ctx.nodes, info.name):
            if comp.name == "etcd":
                found |= _split(comp.flag("advertise-client-urls"))
            elif comp.name == "kube-apiserver":
                servers = _split(comp.flag("etcd-servers"))
                found |= {_on(url, info.internal_ip) for url in servers}
    return sorted(found)


def _on(url: str, host: str | None) -> str:
    """``url`` with a loopback host replaced by the node's address."""
    for loopback in _LOOPBACKS if host else ():
        url = url.replace(f"//{loopback}:", f"//{host}:")
    return url


def _split(urls: str | None) -> set[str]:
    return {u.strip() for u in (urls or "").split(",") if u.strip()}


def _member(ctx: CheckContext, url: str) -> str:
    host = urlsplit(url).hostname
    for info in ctx.topology.nodes:
        if info.internal_ip == host:
            return f"{info.name} ({url})"
    return url


def _findings(part: Part, found: Iterable[str]) -> None:
    """Findings of a part, the first few by name and the rest counted."""
    found = list(found)
    for text in found[:MAX_PROBLEMS_SHOWN]:
        part.finding(text)
    more = len(found) - MAX_PROBLEMS_SHOWN
    if more > 0:
        part.finding(f"and {more} more ({part.name})")


def _judge_probes(
    ctx: CheckContext,
    part: Part,
    probes: list[probe.Probe],
    untried: Iterable[str] = (),
) -> None:
    """Judge one probing part; nothing answered makes it unobserved."""
    untried = list(untried)
    verdict = probe.judge(probes, untried, lambda u: _member(ctx, u))
    ctx.evidence(
        f"etcd probes ({part.name})",
        [p.describe() for p in probes] + untried,
    )
    ctx.measure(
        f"etcd probes answered ({part.name})", verdict.answered, "probes"
    )
    ctx.measure(
        f"etcd probes unanswered ({part.name})",
        len(verdict.unanswered),
        "probes",
    )
    ctx.measure(
        f"etcd requests answered for non-apiserver clients ({part.name})",
        len(verdict.findings),
        "requests",
        bound=0,
    )
    _findings(part, verdict.findings)
    if verdict.unobserved:
        raise CheckSkipped(verdict.unobserved)


def _configured_clients(ctx: CheckContext, urls: _EtcdUrls) -> list[str]:
    """Processes (or, without node access, static pods) other than
    kube-apiserver and etcd configured with etcd endpoints."""
    if ctx.nodes is None:
        return _static_pod_flags(ctx)
    nodes = ctx.nodes
    names = [n.name for n in ctx.topology.nodes]
    known = urls.known()
    first, second = clients.sample_twice(
        lambda: clients.configured_clients(nodes, names, known)
    )
    return [str(f) for f in clients.persistent(first, second)]


def live_connections(ctx: CheckContext, known: list[str]) -> list[str]:
    """Connections to etcd's ports that persist, on every member that
    runs on a node.

    Raises:
        CheckSkipped: no node access, or no etcd member on any node.
    """
    nodes = ctx.require_nodes(f"{CONNECTIONS} need node access")
    members = etcd_processes(nodes, ctx.topology)
    if not members:
        where = ", ".join(_member(ctx, u) for u in known) or "unknown hosts"
        why = (
            "no etcd process on any control-plane node: etcd is external "
            f"({where}) and its connections are beyond node access"
        )
        if ctx.topology.control_plane_mode == "hidden":
            why = not_visible(why)
        raise CheckSkipped(why)
    seen_ips = {n.internal_ip for n in ctx.topology.nodes if n.name in members}
    unseen = [u for u in known if urlsplit(u).hostname not in seen_ips]
    ctx.measure(
        "etcd members whose connections were not observed",
        len(unseen),
        "members",
    )
    if unseen:
        ctx.evidence(f"etcd members not observed ({CONNECTIONS})", unseen)
    member_ips = [urlsplit(u).hostname or "" for u in known]
    ports = clients.Ports.of(next(iter(members.values())), member_ips)
    tables: list[str] = []

    def scan() -> list[clients.Finding]:
        sample = clients.ConnectionSample(nodes, ctx)
        found = clients.unexpected_connections(sample, members, ports)
        tables.append(clients.connection_table(sample, members, ports))
        return found

    first, second = clients.sample_twice(scan)
    ctx.evidence(
        "etcd connection table (node, local, remote, client)", tables[-1]
    )
    found = clients.persistent(first, second)
    ctx.measure(
        "non-apiserver connections to etcd", len(found), "connections", 0
    )
    return [str(f) for f in found]


def _static_pod_flags(ctx: CheckContext) -> list[str]:
    """Configured clients without node access: the control-plane pods'
    specs.

    Raises:
        CheckSkipped: the control plane does not run as static pods.
    """
    if ctx.topology.control_plane_mode != "static-pods":
        raise CheckSkipped(
            f"process scans need node access ({ctx.nodes_unavailable}) and "
            f"the control plane runs as {ctx.topology.control_plane_mode}, "
            "not as static pods whose specs the API shows"
        )
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


def _probes_from_pod(ctx: CheckContext, urls: list[str]) -> list[probe.Probe]:
    """The rogue client: a plain pod's network namespace on a worker.

    Raises:
        CheckSkipped: no node access, or no worker to run the pod on.
    """
    nodes = ctx.require_nodes(f"{ROGUE_CLIENT} needs node access")
    if not ctx.topology.workers:
        raise CheckSkipped("there is no worker to start a probe pod on")
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
    ctx: CheckContext, urls: list[str]
) -> tuple[list[probe.Probe], list[str]]:
    """The kubelet's and controller-manager's identities, from the
    runner; with the identities that could not be tried, and why.

    Raises:
        CheckSkipped: no node access to read their kubeconfigs.
    """
    nodes = ctx.require_nodes(f"{CREDENTIALS} need node access")
    order = [n.name for n in ctx.topology.workers] + [
        n.name for n in ctx.topology.control_planes
    ]
    probes: list[probe.Probe] = []
    untried: list[str] = []
    for component, default in _CREDENTIALS:
        comp = _first_component(nodes, order, component)
        if comp is None:
            untried.append(f"no {component} process to take credentials from")
            continue
        view = component_kubeconfig(nodes, comp, default)
        if view is None or not (view.cert_pem and view.key_pem):
            untried.append(f"{component} on {comp.node} has no client cert")
            continue
        identity = f"{component}'s certificate from {comp.node}"
        probes += [
            probe.from_runner(u, identity, view.cert_pem, view.key_pem)
            for u in urls
        ]
    return probes, untried


def _first_component(
    nodes: NodeAccess, order: list[str], name: str
) -> Component | None:
    for node in order:
        for comp in components(nodes, node):
            if comp.name == name:
                return comp
    return None
