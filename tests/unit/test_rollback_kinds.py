"""Removal kinds: what a ledger records to delete an object a run made."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from gauntlet.cluster.client import ClusterTarget
from gauntlet.faults import kinds
from gauntlet.faults.rollback import Rollback, lookup

TARGET = ClusterTarget(Path("/etc/kg/kubeconfig"), "lab")
CLUSTER = SimpleNamespace(target=TARGET)  # builders read the target only


def test_delete_object_records_what_to_delete_and_on_which_cluster():
    removal = kinds.delete_object(CLUSTER, "ConfigMap", "cm-1", "kg-probes-r1")
    assert removal == Rollback(
        "delete_object",
        {
            "kubeconfig": "/etc/kg/kubeconfig",
            "context": "lab",
            "api_version": "v1",
            "kind": "ConfigMap",
            "name": "cm-1",
            "namespace": "kg-probes-r1",
        },
    )
    assert Rollback.from_dict(removal.to_dict()) == removal


def test_a_cluster_scoped_object_is_recorded_without_a_namespace():
    removal = kinds.delete_object(CLUSTER, "Namespace", "kg-abc123")
    assert "namespace" not in removal.params
    assert removal.params["kind"] == "Namespace"


def test_ledgers_written_with_the_old_kind_name_still_recover():
    assert lookup("kubectl_delete") is lookup("delete_object")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (404, "done"),  # gone already: a replay is idempotent
        (409, "done"),  # a namespace that is terminating already
        (None, "retry"),  # no answer: the API is coming back
        (0, "retry"),
        (429, "retry"),
        (500, "retry"),  # an API server without etcd quorum yet
        (503, "retry"),
        (403, "fail"),  # no permission: retrying cannot help
        (400, "fail"),
    ],
)
def test_a_failed_delete_is_done_retried_or_failed_by_its_status(
    status, outcome
):
    assert kinds.delete_outcome(status) == outcome


def test_helper_pods_are_removed_by_run_whoever_made_them():
    removal = kinds.delete_helper_pods(CLUSTER, "20260101T000000Z-abc123")
    assert removal.kind == "delete_helper_pods"
    assert removal.params == {
        "kubeconfig": "/etc/kg/kubeconfig",
        "context": "lab",
        "run_id": "20260101T000000Z-abc123",
        "namespace": "kube-gauntlet-system",
    }
