"""Which version each Kubernetes component runs, and where that was read.

Works on any cluster, from the best source each one has:

kube-apiserver
    ``GET /version`` of each server at its own address (never the front
    door, which answers for whichever server it picks); only when none
    answers directly, the front door's answer, named so.
kubelet
    the Node's ``status.nodeInfo.kubeletVersion``, which the kubelet
    itself reports.
kube-proxy, kube-controller-manager, kube-scheduler
    through node access the running process's own binary
    (``/proc/<pid>/exe --version``: what runs, not what is on disk), else
    the image tag of its pod in kube-system (a DaemonSet or a static
    pod's mirror), else unread with the reasons. The Node's
    ``nodeInfo.kubeProxyVersion`` is never read: the kubelet filled it
    with its own version, and no longer fills it (KEP-4004).

A hidden (managed) control plane has no controllers to read: the
provider upgrades them. Every version carries its source for the
evidence; every instance that could not be read carries why.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.checks.arch._apiservers import (
    api_pool,
    api_servers,
    ask,
    bearer,
)
from gauntlet.checks.context import CheckContext
from gauntlet.checks.upg._skew_policy import (
    APISERVER,
    KUBE_PROXY,
    KUBELET,
    ObservedVersion,
)
from gauntlet.cluster.discovery import node_info
from gauntlet.errors import ClusterOperationFailed, GauntletError, UsageError
from gauntlet.kube_version import KubeVersion, parse_version
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe import objects
from gauntlet.observe.host import Component, components

__all__ = [
    "ClusterVersions",
    "Unread",
    "image_version",
    "read_versions",
    "version_in",
]

NAMESPACE = "kube-system"
VERSION_TIMEOUT_S = 30.0
BINARY_COMPONENTS = (KUBE_PROXY, "kube-controller-manager", "kube-scheduler")
CONTROLLER_COMPONENTS = ("kube-controller-manager", "kube-scheduler")
_VERSION_WORD = re.compile(r"\bv?\d+\.\d+\.\d+\S*")


@dataclass(frozen=True)
class Unread:
    """An instance whose version could not be read, and why."""

    component: str
    node: str
    reason: str


@dataclass(frozen=True)
class ClusterVersions:
    """Every version read, and every instance that could not be."""

    observed: tuple[ObservedVersion, ...]
    unread: tuple[Unread, ...]
    control_planes: tuple[str, ...]
    workers: tuple[str, ...]
    managed: bool
    """The control plane is hidden: its controllers are the provider's."""

    def of(self, *names: str) -> list[ObservedVersion]:
        return [o for o in self.observed if o.component in names]

    def unread_of(self, *names: str) -> list[Unread]:
        return [u for u in self.unread if u.component in names]


@dataclass
class _Found:
    observed: list[ObservedVersion] = field(default_factory=list)
    unread: list[Unread] = field(default_factory=list)


def read_versions(ctx: CheckContext) -> ClusterVersions:
    """Read every component's version (see the module docstring).

    Raises:
        ClusterOperationFailed: Nodes cannot be listed, or no API server
            answers directly and the front door fails too.
    """
    try:
        nodes = [node_info(n) for n in ctx.cluster.core().list_node().items]
    except ApiException as exc:
        raise ClusterOperationFailed(
            "list", "nodes", None, f"{exc.status} {exc.reason}"
        ) from exc
    cps = tuple(sorted(n.name for n in nodes if n.control_plane))
    workers = tuple(sorted(n.name for n in nodes if not n.control_plane))
    managed = ctx.topology.control_plane_mode == "hidden"
    found = _Found()
    _api_servers(ctx, found)
    for n in nodes:
        src = f"Node {n.name} status.nodeInfo.kubeletVersion"
        _add(found, KUBELET, n.name, n.kubelet_version, src)
    pods, pods_unseen = _system_pods(ctx)
    scans = _Scans(ctx.nodes, ctx.nodes_unavailable)
    for name in (*cps, *workers):
        _binary_or_pod(found, scans, pods, pods_unseen, KUBE_PROXY, name)
    if not managed:
        _controllers(found, scans, pods, pods_unseen, cps)
    return ClusterVersions(
        tuple(found.observed), tuple(found.unread), cps, workers, managed
    )


def version_in(text: str) -> KubeVersion | None:
    """The first ``vX.Y.Z`` in ``text`` (``Kubernetes v1.37.2``)."""
    for word in _VERSION_WORD.findall(text):
        try:
            return parse_version(word)
        except UsageError:
            continue
    return None


def image_version(image: str) -> KubeVersion | None:
    """The version an image's tag names (``.../kube-proxy:v1.36.3``);
    None for a digest only or a tag that is no version."""
    ref = image.split("@", 1)[0]
    _name, colon, tag = ref.rpartition(":")
    if not colon or "/" in tag:
        return None
    return version_in(tag)


def _add(found: _Found, component: str, node: str, text: str, src: str) -> None:
    version = version_in(text)
    if version is None:
        reason = f"{src} gives no version ({text!r})"
        found.unread.append(Unread(component, node, reason))
        return
    reported = text.strip() if text.strip() != str(version) else ""
    found.observed.append(
        ObservedVersion(component, node, version, src, reported)
    )


def _api_servers(ctx: CheckContext, found: _Found) -> None:
    direct = _Found()
    with api_pool(ctx.cluster, credentials=True) as pool:
        for server in api_servers(ctx.cluster, ctx.topology):
            answer = ask(pool, server, "GET", "/version", bearer(ctx.cluster))
            where = f"GET /version at {server.url}"
            if answer.status != 200:
                reason = f"{where}: {answer.status or 'no answer'}"
                detail = answer.body.strip()[:200]
                direct.unread.append(
                    Unread(APISERVER, server.name, f"{reason} {detail}")
                )
                continue
            _add(direct, APISERVER, server.name, _git(answer.body), where)
    found.observed += direct.observed
    found.unread += direct.unread
    if not direct.observed:
        _front_door(ctx, found)


def _front_door(ctx: CheckContext, found: _Found) -> None:
    try:
        info = client.VersionApi(ctx.cluster.api).get_code()
    except ApiException as exc:
        raise ClusterOperationFailed(
            "get", "/version", None, f"{exc.status} {exc.reason}"
        ) from exc
    where = (
        f"GET /version through the front door {ctx.cluster.server} "
        "(whichever API server answered; none answered directly)"
    )
    _add(found, APISERVER, "the front door", str(info.git_version), where)


def _git(body: str) -> str:
    try:
        loaded = json.loads(body)
    except ValueError:
        return body[:100]
    return str(loaded.get("gitVersion", "")) if isinstance(loaded, dict) else ""


class _Scans:
    """Each node's component processes, listed once: the components, or
    why they could not be listed."""

    def __init__(self, nodes: NodeAccess | None, unavailable: str) -> None:
        self.nodes = nodes
        self.unavailable = unavailable
        self._done: dict[str, list[Component] | str] = {}

    def on(self, node: str) -> list[Component] | str:
        if self.nodes is None:
            return f"no node access ({self.unavailable})"
        if node not in self._done:
            try:
                self._done[node] = components(self.nodes, node)
            except GauntletError as exc:
                self._done[node] = f"processes on {node} not listed: {exc}"
        return self._done[node]


def _binary_or_pod(
    found: _Found,
    scans: _Scans,
    pods: Sequence[client.V1Pod],
    pods_unseen: str,
    component: str,
    node: str,
    absent_ok: bool = False,
) -> None:
    """One component on one node: its process's binary, else its pod.
    ``absent_ok``: a node whose processes were listed and that runs no
    such process or pod is no loss (a controller runs on some nodes)."""
    why: list[str] = []
    before = len(found.observed)
    scanned = scans.on(node)
    absent = False
    if isinstance(scanned, str):
        why.append(scanned)
    else:
        mine = [c for c in scanned if c.name == component]
        absent = not mine
        if absent:
            why.append(f"no {component} process on {node}")
        for comp in mine:
            _binary(found, scans, comp, why)
    if len(found.observed) > before:
        return
    tags_why: list[str] = []
    _pod_tags(found, pods, component, lambda n: n == node, tags_why)
    if len(found.observed) > before or (absent and absent_ok and not tags_why):
        return
    why += tags_why or [
        pods_unseen or f"no running {component} pod in {NAMESPACE} on {node}"
    ]
    found.unread.append(Unread(component, node, "; ".join(why)))


def _binary(
    found: _Found, scans: _Scans, comp: Component, why: list[str]
) -> None:
    assert scans.nodes is not None  # a Component came from a scan
    exe = f"/proc/{comp.pid}/exe"
    try:
        proc = scans.nodes.run(
            comp.node, [exe, "--version"], timeout_s=VERSION_TIMEOUT_S
        )
    except GauntletError as exc:
        why.append(f"{exe} --version on {comp.node}: {exc}")
        return
    version = version_in(proc.stdout) if proc.returncode == 0 else None
    if version is None:
        out = (proc.stdout + proc.stderr).strip()[:200]
        why.append(
            f"{exe} --version on {comp.node} exited {proc.returncode}: {out}"
        )
        return
    where = f"{comp.name} pid {comp.pid}: {exe} --version"
    found.observed.append(ObservedVersion(comp.name, comp.node, version, where))


def _controllers(
    found: _Found,
    scans: _Scans,
    pods: Sequence[client.V1Pod],
    pods_unseen: str,
    control_planes: Sequence[str],
) -> None:
    """The controller-manager and scheduler on each control-plane node
    (processes, else static pods), and their pods on any other node."""
    for component in CONTROLLER_COMPONENTS:
        before = (len(found.observed), len(found.unread))
        for node in control_planes:
            _binary_or_pod(
                found, scans, pods, pods_unseen, component, node, True
            )
        elsewhere: list[str] = []
        _pod_tags(
            found, pods, component, lambda n: n not in control_planes, elsewhere
        )
        found.unread += [
            Unread(component, "a node off the control plane", why)
            for why in elsewhere
        ]
        if (len(found.observed), len(found.unread)) != before:
            continue
        where = ", ".join(control_planes) or "no control-plane node"
        reason = f"no {component} process on {where}"
        reason += f"; {pods_unseen}" if pods_unseen else ""
        reason += f"; no running {component} pod in {NAMESPACE}"
        found.unread.append(Unread(component, where, reason))


def _pod_tags(
    found: _Found,
    pods: Sequence[client.V1Pod],
    component: str,
    on: Callable[[str], bool],
    why: list[str],
) -> None:
    for pod in pods:
        node = objects.node_name(pod)
        if objects.phase(pod) != "Running" or not on(node):
            continue
        container = _container_of(pod, component)
        if container is None:
            continue
        image = _running_image(pod, container)
        version = image_version(image)
        where = f"pod {NAMESPACE}/{objects.name(pod)}"
        if version is None:
            where += f" on {node}"
            why.append(f"{where}: image {image!r} has no version tag")
            continue
        found.observed.append(
            ObservedVersion(
                component, node, version, f"image tag of {where}: {image}"
            )
        )


def _container_of(
    pod: client.V1Pod, component: str
) -> client.V1Container | None:
    """The pod's container running ``component``: by program or name, or
    the first one when the pod is labelled as the component."""
    spec = pod.spec or client.V1PodSpec(containers=[])
    for c in spec.containers:
        program = [*(c.command or []), *(c.args or [])][:1]
        if c.name == component or (
            program and posixpath.basename(program[0]) == component
        ):
            return c
    labels = objects.labels(pod)
    labelled = component in (labels.get("component"), labels.get("k8s-app"))
    return spec.containers[0] if labelled and spec.containers else None


def _running_image(pod: client.V1Pod, container: client.V1Container) -> str:
    """The image the container runs when its status names a tag, else the
    one its spec asks for."""
    statuses = (pod.status.container_statuses or []) if pod.status else []
    for status in statuses:
        if status.name == container.name and image_version(status.image or ""):
            return str(status.image)
    return str(container.image or "")


def _system_pods(ctx: CheckContext) -> tuple[list[client.V1Pod], str]:
    """kube-system's pods, or none and why (a 403)."""
    try:
        return ctx.cluster.core().list_namespaced_pod(NAMESPACE).items, ""
    except ApiException as exc:
        if exc.status != 403:
            raise ClusterOperationFailed(
                "list", "pods", NAMESPACE, f"{exc.status} {exc.reason}"
            ) from exc
        return [], f"pods in {NAMESPACE} not readable: 403 Forbidden"
