"""ARCH-02 catches anonymous access: granted to all API servers, allowed
by one API server of three, and also when node access is impossible."""

import pytest
from front_sabotage import allow_anonymous_reads_on, wait_anonymous_answered
from kubernetes import client

from gauntlet.checks.arch._apiservers import api_servers
from gauntlet.checks.arch.front_door import (
    AGENTS_PART,
    check_api_server_is_the_front_door,
)
from gauntlet.checks.context import CheckContext
from gauntlet.errors import GuaranteeViolated, NodeAccessError
from gauntlet.nodes.helper_pods import IMPOSSIBLE

BINDING = "kg-sabotage-anonymous-admin"
RBAC_GROUP = "rbac.authorization.k8s.io"
ANONYMOUS_READ = "anonymous GET /api/v1/namespaces/default/pods answered HTTP"
REFUSED = (
    f"{IMPOSSIBLE}: a privileged pod is refused: 403 Forbidden (violates "
    'PodSecurity "baseline:latest")'
)
"""What the pod backend reports when admission refuses its helper pods."""
ONE_SERVER = "cp2"
NO_PROXY_NODE = "w2"


class RefusedAtFirstUse:
    """Node access that learns on first use that its helper pods are
    refused (the pod backend when a helper pod never starts)."""

    kind = "pod"

    def run(self, node, argv, timeout_s=60.0):
        raise NodeAccessError(f"{REFUSED} (helper pod on {node})")


def bind_anonymous_cluster_admin(cluster, lab_check, restore):
    rbac = cluster.rbac()
    rbac.create_cluster_role_binding(
        client.V1ClusterRoleBinding(
            metadata=client.V1ObjectMeta(name=BINDING),
            role_ref=client.V1RoleRef(
                api_group=RBAC_GROUP, kind="ClusterRole", name="cluster-admin"
            ),
            subjects=[
                client.RbacV1Subject(
                    api_group=RBAC_GROUP, kind="User", name="system:anonymous"
                )
            ],
        )
    )
    restore.callback(rbac.delete_cluster_role_binding, BINDING)
    wait_anonymous_answered(cluster, _servers(lab_check), {200})


@pytest.mark.full_matrix(ci="the kubeadm lab's ARCH-02 sabotage")
def test_anonymous_cluster_admin_is_reported(cluster, lab_check, restore):
    bind_anonymous_cluster_admin(cluster, lab_check, restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_api_server_is_the_front_door(lab_check)

    message = str(caught.value)
    assert f"{ANONYMOUS_READ} 200" in message, message
    assert f"ClusterRoleBinding {BINDING} -> cluster-admin" in message, message
    for server in _servers(lab_check):
        assert server.label in message, message

    restore.close()
    wait_anonymous_answered(cluster, _servers(lab_check), {401, 403})
    check_api_server_is_the_front_door(lab_check)


@pytest.mark.parametrize(
    "nodes",
    [None, RefusedAtFirstUse()],
    ids=["refused-before-the-run", "refused-at-first-use"],
)
def test_anonymous_cluster_admin_fails_even_when_privileged_pods_are_refused(
    cluster, lab_check, restore, nodes
):
    bind_anonymous_cluster_admin(cluster, lab_check, restore)
    ctx = CheckContext(
        cluster=lab_check.cluster,
        topology=lab_check.topology,
        namespace=lab_check.namespace,
        images=lab_check.images,
        nodes=nodes,
        nodes_unavailable=REFUSED,
    )

    with pytest.raises(GuaranteeViolated) as caught:
        check_api_server_is_the_front_door(ctx)

    message = str(caught.value)
    assert f"{ANONYMOUS_READ} 200" in message, message
    assert f"ClusterRoleBinding {BINDING} -> cluster-admin" in message, message
    agents = next(p for p in ctx.parts if p.name == AGENTS_PART)
    assert agents.status == "unobserved", ctx.parts
    assert "privileged pod is refused" in agents.reason, agents


@pytest.mark.full_matrix(
    ci=(
        "anonymous access named per API server: the kubeadm lab's ARCH-02 "
        "sabotage"
    )
)
def test_one_api_server_of_three_allowing_anonymous_is_named(
    faults, cluster, lab_check, restore
):
    servers = {s.name: s for s in _servers(lab_check)}
    server = servers[ONE_SERVER]
    allow_anonymous_reads_on(faults, cluster, server, restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_api_server_is_the_front_door(lab_check)

    message = str(caught.value)
    assert f"{ANONYMOUS_READ} 200 at " in message, message
    assert server.label in message, message
    for name, other in servers.items():
        if name != ONE_SERVER:
            assert other.label not in message, message
    assert "no RBAC binding grants it" in message, message

    restore.close()
    check_api_server_is_the_front_door(lab_check)


@pytest.mark.full_matrix(
    ci="an unobservable part: ARCH-02 with privileged pods refused"
)
def test_a_node_without_kube_proxy_leaves_that_agent_unobserved(
    faults, lab_check, restore
):
    faults.stop(NO_PROXY_NODE, "kube-proxy")
    restore.callback(faults.start, NO_PROXY_NODE, "kube-proxy")

    check_api_server_is_the_front_door(lab_check)  # nothing is breached

    parts = {p.name: p for p in lab_check.parts}
    missing = parts["node agents not found"]
    assert missing.status == "unobserved", parts
    assert f"kube-proxy on {NO_PROXY_NODE}" in missing.reason, missing
    assert parts[AGENTS_PART].status == "checked", parts


def _servers(ctx):
    return api_servers(ctx.cluster, ctx.topology)
