"""RES-06: Existing pods survive the loss of the masters."""

import pytest

from gauntlet.checks.chaos.control_plane import check_control_plane_blackout

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("RES-06")
@pytest.mark.faults(
    "stop every control-plane component on every control-plane node for 20 s"
)
def test_workload_keeps_serving_with_every_master_component_stopped(
    check, ledger, settled
):
    """Guarantee: with every control-plane component stopped the API MUST be
    unavailable while workload pods keep answering through their Service (at
    least 95 %) and none restarts; after the restore pod UIDs and restart
    counts MUST be unchanged."""
    check_control_plane_blackout(check, ledger, settled)
