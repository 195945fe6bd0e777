"""UPG-04 catches a PodDisruptionBudget that allows no disruption: a
Deployment of two replicas behind ``maxUnavailable: 0`` cannot be drained
from any node, and the server's dry-run eviction says so too."""

from __future__ import annotations

import pytest
from kubernetes import client

from gauntlet import progress
from gauntlet.checks.upg.drain import check_nodes_can_be_drained
from gauntlet.cluster import workloads
from gauntlet.errors import GuaranteeViolated
from gauntlet.wellknown import RUN_LABEL

APP = "kg-undrainable"
BUDGET = "kg-no-disruption"


def test_budget_allowing_no_disruption_blocks_the_drain(old_check, restore):
    namespace = old_check.namespace
    core, apps = old_check.cluster.core(), old_check.cluster.apps()
    policy = old_check.cluster.policy()
    labels = core.read_namespace(namespace).metadata.labels or {}
    assert RUN_LABEL not in labels, (
        f"namespace {namespace} carries {RUN_LABEL}: UPG-04 leaves a run's "
        "own namespaces out, so the sabotage would not be seen"
    )
    workloads.ensure_service_account(core, namespace)
    apps.create_namespaced_deployment(
        namespace,
        workloads.web_deployment(APP, old_check.images.workload, replicas=2),
    )
    restore.callback(remove_deployment, core, apps, namespace)
    policy.create_namespaced_pod_disruption_budget(
        namespace, no_disruption_budget()
    )
    restore.callback(
        policy.delete_namespaced_pod_disruption_budget, BUDGET, namespace
    )
    workloads.wait_deployment_ready(apps, namespace, APP)
    wait_budget_counted(policy, namespace)

    with pytest.raises(GuaranteeViolated) as caught:
        check_nodes_can_be_drained(old_check)

    message = str(caught.value)
    subject = f"PodDisruptionBudget {namespace}/{BUDGET}"
    assert f"{subject} allows no disruption (2 healthy, 2 required)" in (
        message
    ), message
    assert f"dry-run eviction refused by {subject}: pod {namespace}/" in (
        message
    ), message
    for pod in workloads.pods_of(core, namespace, APP):
        assert f"{namespace}/{pod.metadata.name} on node " in message, message

    restore.close()
    check_nodes_can_be_drained(old_check.fresh())


def no_disruption_budget():
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": BUDGET},
        "spec": {
            "maxUnavailable": 0,
            "selector": {"matchLabels": {"app": APP}},
        },
    }


def wait_budget_counted(policy, namespace):
    """The disruption controller has counted the budget's two pods."""

    def counted():
        pdb = policy.read_namespaced_pod_disruption_budget(BUDGET, namespace)
        status = pdb.status
        return (
            status is not None
            and status.observed_generation == pdb.metadata.generation
            and status.expected_pods == 2
        )

    progress.wait_until(
        f"PodDisruptionBudget {namespace}/{BUDGET} counted",
        counted,
        workloads.READY_TIMEOUT_S,
        workloads.POLL_INTERVAL_S,
        quiet=True,
    )


def remove_deployment(core, apps, namespace):
    """Delete the Deployment and wait until its pods are gone (a pod on
    its way out is no drain's business, but the check after the restore
    should see the lab as it was)."""
    try:
        apps.delete_namespaced_deployment(
            APP,
            namespace,
            body=client.V1DeleteOptions(propagation_policy="Foreground"),
        )
    except client.ApiException as exc:
        if exc.status != 404:
            raise
    progress.wait_until(
        f"pods of {APP} gone",
        lambda: not workloads.pods_of(core, namespace, APP),
        workloads.READY_TIMEOUT_S,
        workloads.POLL_INTERVAL_S,
        quiet=True,
    )
