"""RES-09 catches a control plane whose disruption controller is off:
nobody computes what the budget allows, so every eviction is refused and
the drain never ends."""

import pytest
from arch_sabotage import wait_leader_renewing

from gauntlet.checks.chaos.maintenance import check_drain_respects_budgets
from gauntlet.errors import GuaranteeViolated

COMPONENT = "kube-controller-manager"


def without_disruption_controller(faults, cluster, restore):
    topo = faults.lab.topology()
    restore.callback(wait_leader_renewing, cluster, COMPONENT)  # runs last
    for node in (n.name for n in topo.control_planes):
        old = faults.set_flags(
            node, COMPONENT, {"controllers": "*,-disruption,bootstrapsigner"}
        )
        restore.callback(faults.set_argv, node, COMPONENT, old)
    wait_leader_renewing(cluster, COMPONENT)


@pytest.mark.disruptive
def test_a_drain_that_no_budget_lets_through_is_reported(
    faults, cluster, lab_check, lab_check_again, ledger, restore
):
    without_disruption_controller(faults, cluster, restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_drain_respects_budgets(lab_check, ledger, timeout_s=20)

    message = str(caught.value)
    assert message.startswith("draining w"), message
    assert "drain did not finish within 20s" in message, message
    assert "never processed by the disruption controller" in message, message

    restore.close()
    check_drain_respects_budgets(lab_check_again, ledger)
