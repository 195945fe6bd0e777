"""LOAD-02: overload is shed, not fatal."""

import pytest

from gauntlet.checks.load._ramp import PLAN
from gauntlet.checks.load.overload import check_overload_is_shed

pytestmark = [pytest.mark.profile("load")]


@pytest.mark.guarantee("LOAD-02")
@pytest.mark.disruptive
@pytest.mark.faults(
    f"API overload as a tenant ServiceAccount in a small priority level "
    f"of its own: {PLAN.describe()}, stopped once shed"
)
def test_overload_is_shed_with_429_and_the_system_keeps_its_heartbeats(
    check, ledger
):
    """Guarantee: a tenant's load ramped past what its API Priority and
    Fairness level can serve MUST be shed with 429 (the API servers'
    rejected-requests count rising) while every API server's /livez and
    /readyz keep answering within 5 s, every node keeps renewing its
    Lease within two renew periods, no node goes NotReady and no API
    server restarts; the rate at which 429s start and the rate at which
    a class's p99 leaves its SLO are reported."""
    check_overload_is_shed(check, ledger)
