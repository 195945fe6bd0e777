"""A lab that refuses writes: said once, read-only checks still run, the
rest are not run with the API's reason (issue 10, defect 11).

The refusal is an admission webhook that cannot be reached with
``failurePolicy: Fail`` on the run's namespaces, so the API answers
their creation with 500, as a broken admission chain does.
"""

from __future__ import annotations

import pytest
from e2e_cli import gauntlet, summary_of
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.lab.topology import BRIDGE_IP

pytestmark = pytest.mark.lab_only

WEBHOOK = "kg-test-refuse-run-namespaces"
RUN_LABEL = "kube-gauntlet.io/run"
ACTIVE_TIMEOUT_S = 30.0


def _webhook() -> dict:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK},
        "webhooks": [
            {
                "name": "refuse.kube-gauntlet.io",
                # Nothing listens on port 1: every call fails.
                "clientConfig": {"url": f"https://{BRIDGE_IP}:1/refuse"},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["namespaces"],
                    }
                ],
                "objectSelector": {
                    "matchExpressions": [
                        {"key": RUN_LABEL, "operator": "Exists"}
                    ]
                },
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 2,
            }
        ],
    }


def _refused(core: client.CoreV1Api) -> bool:
    """A dry-run create of a run's namespace fails in the webhook."""
    body = {"metadata": {"name": "kg-dry", "labels": {RUN_LABEL: "dry"}}}
    try:
        core.create_namespace(body, dry_run="All")
    except ApiException as exc:
        return exc.status >= 500 and "failed calling webhook" in str(exc.body)
    return False


@pytest.fixture
def writes_refused(cluster, defer_cleanup):
    admission = client.AdmissionregistrationV1Api(cluster.api)
    admission.create_validating_webhook_configuration(_webhook())
    defer_cleanup.callback(
        admission.delete_validating_webhook_configuration, WEBHOOK
    )
    progress.wait_until(
        "the API servers to call the refusing webhook",
        lambda: _refused(cluster.core()),
        ACTIVE_TIMEOUT_S,
    )


def test_a_cluster_refusing_writes_runs_read_only_checks_and_names_why(
    lab, writes_refused
):
    proc = gauntlet(
        "run", "--profile", "gate", "-k", "arch_05 or arch_08", timeout=300
    )
    out = (proc.stdout + proc.stderr)[-4000:]
    said = [
        line
        for line in proc.stdout.splitlines()
        if line.startswith("[gauntlet] the cluster refuses writes")
    ]
    assert len(said) == 1, out
    assert "create namespace kg-probe-" in said[0], said
    assert "failed calling webhook" in said[0], said
    assert "Traceback" not in out and "ServiceException" not in out, out
    summary = summary_of(proc)
    results = {g["guarantee"]: g for g in summary["guarantees"]}
    assert results["ARCH-05"]["verdict"] == "pass", results["ARCH-05"]
    arch_08 = results["ARCH-08"]
    assert arch_08["verdict"] == "skip", arch_08
    assert arch_08["message"].startswith(
        "not run: the cluster refuses writes: "
    ), arch_08
    assert "failed calling webhook" in arch_08["message"], arch_08
