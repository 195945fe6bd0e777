"""UPG-04: nodes can be drained."""

import pytest

from gauntlet.checks.upg.drain import check_nodes_can_be_drained

pytestmark = [pytest.mark.profile("preupgrade")]


@pytest.mark.guarantee("UPG-04")
@pytest.mark.readonly
def test_every_pod_a_drain_evicts_can_leave_its_node(check):
    """Guarantee: every pod that draining its node evicts MUST be
    evictable: no PodDisruptionBudget allowing no disruption over it, no
    pod without a controller, no volume bound to its node and no
    single-replica workload behind a budget; the API server MUST accept a
    dry-run eviction of each."""
    check_nodes_can_be_drained(check)
