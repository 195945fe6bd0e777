"""ARCH-02 catches anonymous users bound to cluster-admin."""

import pytest
from kubernetes import client

from gauntlet import progress
from gauntlet.checks.arch.front_door import (
    ANONYMOUS_PATH,
    anonymous_pool,
    check_api_server_is_the_front_door,
)
from gauntlet.checks.chaos._support import apiserver_urls
from gauntlet.errors import GuaranteeViolated

BINDING = "kg-sabotage-anonymous-admin"
RBAC_GROUP = "rbac.authorization.k8s.io"


def test_anonymous_cluster_admin_is_reported(cluster, lab_check, restore):
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
    _wait_anonymous_answered(lab_check, {200})

    with pytest.raises(GuaranteeViolated) as caught:
        check_api_server_is_the_front_door(lab_check)

    message = str(caught.value)
    read = "anonymous GET /api/v1/namespaces/default/pods answered HTTP 200"
    assert read in message, message
    assert f"ClusterRoleBinding {BINDING} -> cluster-admin" in message, message

    restore.close()
    _wait_anonymous_answered(lab_check, {401, 403})
    check_api_server_is_the_front_door(lab_check)


def _wait_anonymous_answered(ctx, statuses: set[int]) -> None:
    """Every API server applies RBAC changes from its own cache, a moment
    after the write: wait until each answers the anonymous read so."""
    servers = apiserver_urls(ctx).values()

    def answered() -> bool:
        with anonymous_pool(ctx.cluster) as pool:
            return all(
                pool.request("GET", url + ANONYMOUS_PATH).status in statuses
                for url in servers
            )

    progress.wait_until(
        f"anonymous reads answered {sorted(statuses)}", answered, 30, 0.5
    )
