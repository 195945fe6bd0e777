"""RES-09 catches a control plane whose disruption controller is off:
nobody computes what the budget allows, so every eviction is refused and
the drain never ends."""

import pytest
from control_plane_sabotage import set_flags_on_control_planes

from gauntlet.checks.chaos.maintenance import check_drain_respects_budgets
from gauntlet.errors import GuaranteeViolated

NO_DISRUPTION = {"controllers": "*,-disruption,bootstrapsigner,tokencleaner"}


@pytest.mark.disruptive
def test_a_drain_that_no_budget_lets_through_is_reported(
    faults, cluster, lab_check, ledger, restore
):
    set_flags_on_control_planes(
        faults,
        cluster,
        lab_check,
        "kube-controller-manager",
        NO_DISRUPTION,
        restore,
    )

    with pytest.raises(GuaranteeViolated) as caught:
        check_drain_respects_budgets(lab_check, ledger, timeout_s=20)

    message = str(caught.value)
    assert message.startswith("draining w"), message
    assert "drain did not finish within 20s" in message, message
    assert "never processed by the disruption controller" in message, message
