"""RES-06 catches a data plane that needs the control plane: a cluster-wide
MutatingAdmissionPolicy (what a policy engine injecting "health checks"
does) gives every web pod a liveness probe on the API server's ``/livez``.
With the masters gone the kubelets restart every pod, so they do not
survive the loss of the masters."""

import pytest
from kubernetes import client

from gauntlet import progress
from gauntlet.checks.chaos.control_plane import check_control_plane_blackout
from gauntlet.checks.context import Images
from gauntlet.cluster import workloads
from gauntlet.errors import GuaranteeViolated
from gauntlet.lab.topology import BRIDGE_IP  # the balancer
from gauntlet.wellknown import APISERVER_PORT

POLICY = "kg-sabotage-api-liveness"
PROBE = "Object.spec.containers.livenessProbe"
PATCH = (
    f"[JSONPatch{{op: 'add', path: '/spec/containers/0/livenessProbe', "
    f"value: {PROBE}{{httpGet: {PROBE}.httpGet{{host: '{BRIDGE_IP}', "
    f"port: {APISERVER_PORT}, path: '/livez', scheme: 'HTTPS'}}, "
    "periodSeconds: 1, failureThreshold: 2}}]"
)


def _policy() -> dict:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": POLICY},
        "spec": {
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ]
            },
            "mutations": [
                {
                    "patchType": "JSONPatch",
                    "jsonPatch": {"expression": PATCH},
                }
            ],
        },
    }


def _binding(namespace: str) -> dict:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY},
        "spec": {
            "policyName": POLICY,
            "matchResources": {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": namespace}
                },
                "objectSelector": {"matchLabels": {"app": "web"}},
            },
        },
    }


def _wait_mutating(cluster, namespace: str) -> None:
    """Until a (dry-run) web pod comes back with the injected probe: the
    API servers load policies asynchronously."""
    pod = workloads.shell_pod(
        "probe", Images.from_env().workload, labels={"app": "web"}
    )

    def mutated() -> bool | None:
        made = cluster.core().create_namespaced_pod(
            namespace, pod, dry_run="All"
        )
        return made.spec.containers[0].liveness_probe is not None or None

    progress.wait_until("the probe policy in force", mutated, 30.0, 0.5)


@pytest.mark.disruptive
def test_pods_whose_liveness_needs_the_api_are_reported(
    cluster, lab_check, ledger, restore
):
    admission = client.AdmissionregistrationV1Api(cluster.api)
    admission.create_mutating_admission_policy(_policy())
    restore.callback(admission.delete_mutating_admission_policy, POLICY)
    admission.create_mutating_admission_policy_binding(
        _binding(lab_check.namespace)
    )
    restore.callback(admission.delete_mutating_admission_policy_binding, POLICY)

    _wait_mutating(cluster, lab_check.namespace)

    with pytest.raises(GuaranteeViolated) as caught:
        check_control_plane_blackout(lab_check, ledger, 3)

    message = str(caught.value)
    assert message.startswith("control plane stopped: "), message
    assert "pods changed: " in message, message  # restart counts went up
