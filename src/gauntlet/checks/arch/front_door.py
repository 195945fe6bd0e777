"""ARCH-02: the API server is the front door and validates everything.

Four views: an anonymous read of pods is refused (401/403, with the CA
verified); an invalid object is rejected with 422 and not stored; a
ServiceAccount without any RBAC is denied a write (its token comes from
the TokenRequest API); every node's kubelet and kube-proxy kubeconfig
points at an API server endpoint, never at etcd (node access).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import workloads
from gauntlet.cluster.client import Cluster
from gauntlet.observe.host import (
    ETCD_CLIENT_PORT,
    ETCD_PEER_PORT,
    component_kubeconfig,
    components,
)

STEP = "the API server is the front door"
ANONYMOUS_PATH = "/api/v1/namespaces/default/pods"
INVALID_DEPLOYMENT = "kg-invalid-replicas"
NO_RBAC_ACCOUNT = "kg-no-rbac"
TOKEN_LIFETIME_S = 600
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
REQUEST_TIMEOUT_S = 10.0
API_PORTS = frozenset({443, 6443})
ANONYMOUS_SUBJECTS = frozenset(
    {("User", "system:anonymous"), ("Group", "system:unauthenticated")}
)
_KUBECONFIGS = (
    ("kubelet", "/etc/kubernetes/kubelet.conf"),
    ("kube-proxy", "/etc/kubernetes/kube-proxy.conf"),
)


def check_api_server_is_the_front_door(ctx: CheckContext) -> None:
    """Anonymous and unprivileged writes are refused, invalid objects are
    rejected unstored, and node agents talk to the API server only.

    Raises:
        GuaranteeViolated: naming the request and its answer, the
            bindings that grant it, or the node, agent and server.
        CheckSkipped: after the API views passed, when the kubeconfig
            view needs node access that is missing.
    """
    problems = _anonymous_read(ctx)
    problems += _invalid_object(ctx)
    problems += _unprivileged_write(ctx)
    problems += _node_kubeconfigs(ctx)
    ctx.measure("front-door breaches", len(problems), "breaches", bound=0)
    if problems:
        raise violated(STEP, "; ".join(problems))
    if ctx.nodes is None:
        raise CheckSkipped(
            f"{STEP}: the API refused what it must, but the nodes' "
            f"kubeconfigs cannot be read: {ctx.nodes_unavailable}"
        )


def anonymous_pool(cluster: Cluster) -> urllib3.PoolManager:
    """HTTP without any credential, verifying the cluster's CA."""
    cfg = cluster.api.configuration
    kwargs: dict[str, Any] = {"cert_reqs": "CERT_NONE"}
    if cfg.verify_ssl:
        kwargs = {"cert_reqs": "CERT_REQUIRED", "ca_certs": cfg.ssl_ca_cert}
        if cfg.tls_server_name:
            kwargs["server_hostname"] = cfg.tls_server_name
    return urllib3.PoolManager(
        timeout=REQUEST_TIMEOUT_S, retries=False, **kwargs
    )


def _anonymous_read(ctx: CheckContext) -> list[str]:
    with anonymous_pool(ctx.cluster) as pool:
        resp = pool.request("GET", ctx.cluster.server + ANONYMOUS_PATH)
    ctx.evidence(
        "anonymous request", f"GET {ANONYMOUS_PATH} -> HTTP {resp.status}"
    )
    if resp.status in (401, 403):
        return []
    granted = _bindings_for(ctx, ANONYMOUS_SUBJECTS)
    return [
        f"anonymous GET {ANONYMOUS_PATH} answered HTTP {resp.status} "
        f"(granted by {', '.join(granted) or 'no binding found'})"
    ]


def _bindings_for(
    ctx: CheckContext, subjects: frozenset[tuple[str, str]]
) -> list[str]:
    """RoleBindings and ClusterRoleBindings naming any of ``subjects``."""
    rbac = ctx.cluster.rbac()
    found = []
    for crb in rbac.list_cluster_role_binding().items:
        labels = (crb.metadata.labels if crb.metadata else None) or {}
        if labels.get(BOOTSTRAP_LABEL) == "rbac-defaults":
            continue  # the API server's own defaults (public-info-viewer)
        if _names_any(crb.subjects, subjects):
            role = crb.role_ref.name
            name = crb.metadata.name if crb.metadata else "?"
            found.append(f"ClusterRoleBinding {name} -> {role}")
    for rb in rbac.list_role_binding_for_all_namespaces().items:
        if _names_any(rb.subjects, subjects):
            meta = rb.metadata or client.V1ObjectMeta()
            found.append(
                f"RoleBinding {meta.namespace}/{meta.name} -> "
                f"{rb.role_ref.kind} {rb.role_ref.name}"
            )
    return sorted(found)


def _names_any(
    subjects: list[client.RbacV1Subject] | None,
    wanted: frozenset[tuple[str, str]],
) -> bool:
    return any(
        (s.kind, s.name) in wanted
        or (s.kind, f"{s.namespace}:{s.name}") in wanted
        for s in subjects or []
    )


def _invalid_object(ctx: CheckContext) -> list[str]:
    apps, ns = ctx.cluster.apps(), ctx.namespace
    body: Any = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": INVALID_DEPLOYMENT},
        "spec": {
            "replicas": -1,
            "selector": {"matchLabels": {"app": INVALID_DEPLOYMENT}},
            "template": {
                "metadata": {"labels": {"app": INVALID_DEPLOYMENT}},
                "spec": {
                    "containers": [{"name": "c", "image": ctx.images.workload}]
                },
            },
        },
    }
    status: int | str
    try:
        apps.create_namespaced_deployment(ns, body)
        status = "201 Created"
    except ApiException as exc:
        status = int(exc.status or 0)
    problems = []
    if status != 422:
        problems.append(
            f"a Deployment with replicas -1 got {status}, not 422 Invalid"
        )
    try:
        apps.read_namespaced_deployment(INVALID_DEPLOYMENT, ns)
        problems.append(
            f"the invalid Deployment {ns}/{INVALID_DEPLOYMENT} was stored"
        )
    except ApiException as exc:
        if exc.status != 404:
            raise
    ctx.evidence("invalid object", f"create replicas=-1 -> {status}")
    return problems


def _unprivileged_write(ctx: CheckContext) -> list[str]:
    core, ns = ctx.cluster.core(), ctx.namespace
    workloads.ensure_service_account(core, ns, NO_RBAC_ACCOUNT)
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(
            audiences=[], expiration_seconds=TOKEN_LIFETIME_S
        )
    )
    issued = core.create_namespaced_service_account_token(
        NO_RBAC_ACCOUNT, ns, request
    )
    token = issued.status.token if issued.status else ""
    payload = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kg-written-without-rbac"},
    }
    path = f"/api/v1/namespaces/{ns}/configmaps"
    with anonymous_pool(ctx.cluster) as pool:
        resp = pool.request(
            "POST",
            ctx.cluster.server + path,
            body=json.dumps(payload).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
            },
        )
    ctx.evidence(
        "unprivileged write",
        f"ServiceAccount {ns}/{NO_RBAC_ACCOUNT}: POST {path} -> "
        f"HTTP {resp.status}",
    )
    if resp.status == 403:
        return []
    subjects = frozenset(
        {
            ("ServiceAccount", f"{ns}:{NO_RBAC_ACCOUNT}"),
            ("Group", "system:serviceaccounts"),
            ("Group", f"system:serviceaccounts:{ns}"),
            ("Group", "system:authenticated"),
        }
    )
    granted = _bindings_for(ctx, subjects)
    return [
        f"ServiceAccount {ns}/{NO_RBAC_ACCOUNT} without RBAC got HTTP "
        f"{resp.status} for POST {path}, not 403 (bindings that may grant "
        f"it: {', '.join(granted) or 'none found'})"
    ]


def _node_kubeconfigs(ctx: CheckContext) -> list[str]:
    if ctx.nodes is None:
        return []
    api_ports = set(API_PORTS) | _api_ports(ctx)
    etcd = {urlsplit(u).netloc for u in ctx.topology.etcd_members}
    table, problems = [], []
    for info in ctx.topology.nodes:
        running = {c.name: c for c in components(ctx.nodes, info.name)}
        for name, default in _KUBECONFIGS:
            comp = running.get(name)
            if comp is None:
                table.append(f"{info.name}\t{name}\tnot running here")
                continue
            view = component_kubeconfig(ctx.nodes, comp, default)
            server = view.server if view else ""
            table.append(f"{info.name}\t{name}\t{server or 'no kubeconfig'}")
            if view is None:
                continue
            where = urlsplit(server).netloc
            if view.port in (ETCD_CLIENT_PORT, ETCD_PEER_PORT) or (
                where in etcd
            ):
                problems.append(
                    f"{name} on {info.name} points at etcd ({server}, "
                    f"{view.path})"
                )
            elif view.port not in api_ports:
                problems.append(
                    f"{name} on {info.name} points at {server} "
                    f"({view.path}), not an API server port "
                    f"{sorted(api_ports)}"
                )
    ctx.evidence("node kubeconfig servers", "\n".join(table))
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
