"""Helper pods: only a 404 means "absent", and only a refusal (4xx) means
node access is impossible here; a server error is the cluster failing."""

from types import SimpleNamespace

import pytest
from kubernetes.client.exceptions import ApiException

from gauntlet.errors import (
    ClusterOperationFailed,
    GauntletError,
    NodeAccessError,
)
from gauntlet.nodes.helper_pods import IMPOSSIBLE, HelperPods


class Core:
    """The namespace exists; reading a pod fails with ``status``."""

    def __init__(self, status):
        self.status = status

    def read_namespace(self, name):
        return SimpleNamespace(metadata=SimpleNamespace(name=name))

    def read_namespaced_pod(self, name, namespace):
        raise ApiException(self.status, "failed")


def helper_pods(status):
    core = Core(status)
    return HelperPods(SimpleNamespace(core=lambda: core), "run-1-abcd")


def test_a_helper_pod_that_is_gone_has_no_phase():
    assert helper_pods(404)._phase("kg-node-abcd-w1") is None


@pytest.mark.parametrize("status", [403, 500])
def test_an_unreadable_helper_pod_is_an_error_not_an_absent_pod(status):
    with pytest.raises(ClusterOperationFailed) as caught:
        helper_pods(status)._phase("kg-node-abcd-w1")
    assert str(caught.value) == (
        "read pod kg-node-abcd-w1 in namespace kube-gauntlet-system: "
        f"{status} failed"
    )


def test_a_server_error_on_a_helper_pod_never_makes_node_access_impossible():
    # Caught broadly: an "impossible" NodeAccessError would become a skip.
    with pytest.raises(GauntletError) as caught:
        helper_pods(500).pod_for("w1")
    assert isinstance(caught.value, ClusterOperationFailed), caught.value
    assert str(caught.value) == (
        "reading pod kg-node-abcd-w1 for node access: 500 failed"
    )


def test_a_forbidden_helper_pod_makes_node_access_impossible():
    with pytest.raises(NodeAccessError) as caught:
        helper_pods(403).pod_for("w1")
    assert str(caught.value).startswith(f"{IMPOSSIBLE}: reading pod kg-node-")


class DeletingCore:
    """An earlier run's namespace is terminating for ``reads`` reads."""

    def __init__(self, reads):
        self.reads, self.created = reads, []

    def read_namespace(self, name):
        if self.reads == 0:
            raise ApiException(404, "not found")
        self.reads -= 1
        return SimpleNamespace(status=SimpleNamespace(phase="Terminating"))

    def create_namespace(self, body):
        self.created.append(body.metadata.name)


def test_a_namespace_still_being_deleted_is_waited_out_then_made(monkeypatch):
    # Seen on kubeadm: the gameday's helper namespace was still going when
    # the preupgrade run asked for node access; its refusal of every pod
    # read as "privileged pods are refused" and UPG-03 went unobserved.
    monkeypatch.setattr("gauntlet.nodes.helper_pods.POLL_INTERVAL_S", 0)
    core = DeletingCore(reads=3)
    pods = HelperPods(SimpleNamespace(core=lambda: core), "run-1-abcd")
    pods._ensure_namespace()
    assert core.created == ["kube-gauntlet-system"]


def test_a_namespace_that_never_goes_makes_node_access_impossible(
    monkeypatch,
):
    monkeypatch.setattr("gauntlet.nodes.helper_pods.POLL_INTERVAL_S", 0)
    monkeypatch.setattr("gauntlet.nodes.helper_pods.NAMESPACE_GONE_WAIT_S", 0)
    core = DeletingCore(reads=10**6)
    pods = HelperPods(SimpleNamespace(core=lambda: core), "run-1-abcd")
    with pytest.raises(NodeAccessError, match="still being deleted"):
        pods._ensure_namespace()
    assert core.created == []
