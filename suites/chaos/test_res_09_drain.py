"""RES-09: Draining a node respects budgets."""

import pytest

from gauntlet.checks.chaos.maintenance import check_drain_respects_budgets

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("RES-09")
@pytest.mark.faults("cordon and drain the worker running most web pods")
@pytest.mark.usefixtures("workers_settled")
def test_a_drain_keeps_the_budget_and_moves_the_pods(check, ledger):
    """Guarantee: draining a worker MUST keep at least minAvailable (2 of
    3) replicas available, keep their Service answering (95 %) and end
    with every replica ready on another node."""
    check_drain_respects_budgets(check, ledger)
