"""PART-01, PART-02, PART-04 and RES-05 catch a minority API server with
a quorum of its own.

The sabotage (``lone_etcd``) points cp3's kube-apiserver at a single-member
etcd inside cp3, set up once for this module: cut off from cp1 and cp2,
or with their etcd members stopped, cp3 keeps acknowledging writes and
serves reads the majority never saw. Each check must report it.
"""

import contextlib
from types import SimpleNamespace

import pytest
from lone_etcd import MINORITY, point_minority_at_lone_etcd

from gauntlet import progress
from gauntlet.checks.chaos import _support
from gauntlet.checks.chaos.etcd import check_quorum_loss
from gauntlet.checks.chaos.partition import (
    check_minority_loses_writes,
    check_no_split_brain,
)
from gauntlet.checks.chaos.quorum import check_quorum_math
from gauntlet.errors import GuaranteeViolated
from gauntlet.lab.access import LabNodeAccess

pytestmark = pytest.mark.disruptive


MARKER = "kg-sabotage-majority-side"
"""A ConfigMap only the majority's etcd holds: how the runner knows which
side of the split brain its connection landed on."""


@pytest.fixture(scope="module", autouse=True)
def minority_on_a_lone_etcd(lab, cluster, run_id):
    faults = LabNodeAccess(lab)
    reach = SimpleNamespace(cluster=cluster, nodes=faults)
    core = cluster.core()
    with contextlib.ExitStack() as restore:
        core.create_namespaced_config_map(
            "default", {"metadata": {"name": MARKER}}
        )
        restore.callback(core.delete_namespaced_config_map, MARKER, "default")
        restore.callback(_on_the_majority_side, cluster)
        point_minority_at_lone_etcd(lab, faults, reach, run_id, restore)
        yield


@pytest.fixture(autouse=True)
def runner_on_the_majority_side(cluster):
    """Before each test creates its namespace: with the majority's members
    stopped, the load balancer sent the runner to cp3's lone world, and a
    kept-alive connection stays there until dropped."""
    _on_the_majority_side(cluster)


def _on_the_majority_side(cluster) -> None:
    def majority() -> bool:
        cluster.reconnect()
        cluster.core().read_namespaced_config_map(MARKER, "default")
        return True

    progress.wait_until("the runner back on the majority side", majority, 120)


@pytest.fixture
def sabotaged(lab_check):
    """Each check starts from a settled (if sabotaged) control plane."""
    _support.wait_control_plane_healthy(lab_check, 3)
    return lab_check


@pytest.mark.full_matrix(
    ci="the split-brain family: the PART-02 and RES-05 sabotages"
)
def test_part_01_minority_keeps_accepting_writes(sabotaged, ledger):
    with pytest.raises(GuaranteeViolated) as caught:
        check_minority_loses_writes(sabotaged, ledger, MINORITY)
    message = str(caught.value)
    assert message.startswith("minority partition: cp3 acknowledged"), message
    assert "writes while cut off from cp1, cp2" in message, message


def test_part_02_split_brain_history(sabotaged, ledger):
    with pytest.raises(GuaranteeViolated) as caught:
        check_no_split_brain(sabotaged, ledger, 3, MINORITY)
    assert str(caught.value).startswith("no split brain:"), caught.value


@pytest.mark.full_matrix(
    ci="the split-brain family: the PART-02 and RES-05 sabotages"
)
def test_part_04_writes_beyond_the_quorum(sabotaged, ledger):
    with pytest.raises(GuaranteeViolated) as caught:
        check_quorum_math(sabotaged, ledger, 3)
    message = str(caught.value)
    assert message.startswith("quorum math with 3 etcd members:"), message
    assert "writes acknowledged with 2 of 3 down" in message, message
    assert "beyond the 1 a quorum of 3 tolerates" in message, message


def test_res_05_writes_without_quorum(sabotaged, ledger):
    with pytest.raises(GuaranteeViolated) as caught:
        check_quorum_loss(sabotaged, ledger, 3)
    message = str(caught.value)
    assert message.startswith("etcd quorum lost:"), message
    assert "writes acknowledged with 2 of 3 etcd members down" in message, (
        message
    )
