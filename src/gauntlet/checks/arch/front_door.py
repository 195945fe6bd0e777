"""ARCH-02: the API server is the front door and validates everything.

Four parts, the first three asked of every API server at its own address
and of the front door (the kubeconfig's server): an anonymous read of
pods is refused (401/403, with the CA verified); an invalid object is
rejected with 422 and not stored; a ServiceAccount without any RBAC is
denied a write (its token comes from the TokenRequest API). The fourth
needs node access: every node's kubelet and kube-proxy kubeconfig points
at an API server endpoint, never at etcd.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.checks.arch import _node_agents
from gauntlet.checks.arch._apiservers import (
    Answer,
    ApiServer,
    api_pool,
    api_servers,
    ask,
    front_door,
    labels,
    sort_answers,
)
from gauntlet.checks.context import CheckContext, CheckSkipped, Part
from gauntlet.cluster import workloads
from gauntlet.cluster.client import Cluster
from gauntlet.observe.endpoints import endpoint_client

STEP = "the API server is the front door"
ANONYMOUS_PART = "anonymous requests"
INVALID_PART = "invalid object"
WRITE_PART = "write without RBAC"
AGENTS_PART = _node_agents.PART
ANONYMOUS_PATH = "/api/v1/namespaces/default/pods"
INVALID_DEPLOYMENT = "kg-invalid-replicas"
NO_RBAC_ACCOUNT = "kg-no-rbac"
NO_RBAC_CONFIGMAP = "kg-written-without-rbac"
TOKEN_LIFETIME_S = 600
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
REFUSED_ANONYMOUS = frozenset({401, 403})
ANONYMOUS_SUBJECTS = frozenset(
    {("User", "system:anonymous"), ("Group", "system:unauthenticated")}
)


def check_api_server_is_the_front_door(ctx: CheckContext) -> None:
    """Anonymous and unprivileged writes are refused and invalid objects
    rejected unstored by every API server; node agents talk to the API
    server only.

    Raises:
        GuaranteeViolated: naming the request, the API servers (node and
            URL) that answered it and the bindings that grant it, or the
            node, agent and server.
        CheckSkipped: no part could be observed.
    """
    servers = front_door(ctx.cluster, api_servers(ctx.cluster, ctx.topology))
    with ctx.part(ANONYMOUS_PART) as part:
        _anonymous_read(ctx, part, servers)
    with ctx.part(INVALID_PART) as part:
        _invalid_object(ctx, part, servers)
    with ctx.part(WRITE_PART) as part:
        _unprivileged_write(ctx, part, servers)
    with ctx.part(AGENTS_PART) as part:
        _node_agents.judge_node_agents(ctx, part)
    breaches = sum(len(p.findings) for p in ctx.parts)
    ctx.measure("front-door breaches", breaches, "breaches", bound=0)
    ctx.conclude(STEP)


def anonymous_pool(cluster: Cluster) -> urllib3.PoolManager:
    """HTTPS without any credential, verifying the cluster's CA."""
    return api_pool(cluster, credentials=False)


def judge_answers(
    ctx: CheckContext,
    part: Part,
    what: str,
    answers: Mapping[ApiServer, Answer],
    expected: frozenset[int],
    explain: Callable[[], str],
) -> None:
    """One finding per unexpected status naming the servers that gave it;
    a server without an answer is an unobserved part of its own.

    Raises:
        CheckSkipped: no server answered at all.
    """
    found = sort_answers(answers, expected)
    silent = sorted(found.unanswered.items(), key=lambda kv: kv[0].url)
    if not found.expected and not found.unexpected:
        raise CheckSkipped(
            f"{what}: no API server answered: "
            + "; ".join(f"{s.label}: {why}" for s, why in silent)
        )
    for server, why in silent:
        ctx.unobserved(f"{part.name} at {server.name}", f"no answer: {why}")
    if found.unexpected:
        why = explain()
        for status, servers in sorted(found.unexpected.items()):
            part.finding(
                f"{what} answered HTTP {status} at {labels(servers)} ({why})"
            )


def _anonymous_read(
    ctx: CheckContext, part: Part, servers: list[ApiServer]
) -> None:
    with anonymous_pool(ctx.cluster) as pool:
        answers = {s: ask(pool, s, "GET", ANONYMOUS_PATH) for s in servers}
    ctx.evidence(
        "anonymous request",
        {
            s.label: f"GET {ANONYMOUS_PATH} -> {a.status}"
            for s, a in answers.items()
        },
    )

    def granted() -> str:
        found = _bindings_for(ctx, ANONYMOUS_SUBJECTS)
        if not found:
            return "no RBAC binding grants it"
        return f"granted by {', '.join(found)}"

    judge_answers(
        ctx,
        part,
        f"anonymous GET {ANONYMOUS_PATH}",
        answers,
        REFUSED_ANONYMOUS,
        granted,
    )


def _bindings_for(
    ctx: CheckContext, subjects: frozenset[tuple[str, str]]
) -> list[str]:
    """RoleBindings and ClusterRoleBindings naming any of ``subjects``."""
    rbac = ctx.cluster.rbac()
    found = []
    for crb in rbac.list_cluster_role_binding().items:
        labels_ = (crb.metadata.labels if crb.metadata else None) or {}
        if labels_.get(BOOTSTRAP_LABEL) == "rbac-defaults":
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


def invalid_deployment(name: str, image: str) -> dict[str, Any]:
    """A Deployment with ``replicas: -1``: validation must refuse it."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": -1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }


def _invalid_object(
    ctx: CheckContext, part: Part, servers: list[ApiServer]
) -> None:
    ns = ctx.namespace
    names = {s: f"{INVALID_DEPLOYMENT}-{i}" for i, s in enumerate(servers)}
    answers = {
        s: _create_through(ctx.cluster, s, ns, names[s], ctx.images.workload)
        for s in servers
    }
    ctx.evidence(
        "invalid object",
        {
            s.label: f"create replicas=-1 -> {a.status}"
            for s, a in answers.items()
        },
    )
    judge_answers(
        ctx,
        part,
        "a Deployment with replicas -1",
        answers,
        frozenset({422}),
        lambda: "not 422 Invalid",
    )
    apps = ctx.cluster.apps()
    for server, name in names.items():
        try:
            apps.read_namespaced_deployment(name, ns)
        except ApiException as exc:
            if exc.status != 404:
                raise
            continue
        part.finding(
            f"the invalid Deployment {ns}/{name} sent to {server.label} "
            "was stored"
        )


def _create_through(
    cluster: Cluster, server: ApiServer, ns: str, name: str, image: str
) -> Answer:
    body: Any = invalid_deployment(name, image)  # a dict, not a model
    with endpoint_client(cluster, server.url) as api:
        try:
            client.AppsV1Api(api).create_namespaced_deployment(ns, body)
        except ApiException as exc:
            return Answer(int(exc.status or 0), str(exc.reason))
        except urllib3.exceptions.HTTPError as exc:
            return Answer(None, f"{type(exc).__name__}: {exc}"[:300])
    return Answer(201, "Created")


def _unprivileged_write(
    ctx: CheckContext, part: Part, servers: list[ApiServer]
) -> None:
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
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
    }
    path = f"/api/v1/namespaces/{ns}/configmaps"
    answers = {}
    with anonymous_pool(ctx.cluster) as pool:
        for i, server in enumerate(servers):
            payload = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{NO_RBAC_CONFIGMAP}-{i}"},
            }
            body = json.dumps(payload).encode()
            answers[server] = ask(pool, server, "POST", path, headers, body)
    ctx.evidence(
        "unprivileged write",
        {
            s.label: f"ServiceAccount {ns}/{NO_RBAC_ACCOUNT}: POST {path} "
            f"-> {a.status}"
            for s, a in answers.items()
        },
    )
    subjects = frozenset(
        {
            ("ServiceAccount", f"{ns}:{NO_RBAC_ACCOUNT}"),
            ("Group", "system:serviceaccounts"),
            ("Group", f"system:serviceaccounts:{ns}"),
            ("Group", "system:authenticated"),
        }
    )

    def granted() -> str:
        found = _bindings_for(ctx, subjects)
        return "not 403; bindings that may grant it: " + (
            ", ".join(found) or "none found"
        )

    judge_answers(
        ctx,
        part,
        f"POST {path} by ServiceAccount {ns}/{NO_RBAC_ACCOUNT} without RBAC",
        answers,
        frozenset({403}),
        granted,
    )
