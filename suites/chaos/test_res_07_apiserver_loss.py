"""RES-07: One API server down in HA changes nothing for clients."""

import pytest

from gauntlet.checks.chaos.control_plane import check_apiserver_loss

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("RES-07")
@pytest.mark.faults("stop one kube-apiserver for 8 s")
def test_api_stays_writable_with_one_api_server_down(check, ledger, settled):
    """Guarantee: with one kube-apiserver of several down the API MUST stay
    writable through the load balancer (no gap over 2 s) and through each
    remaining API server."""
    check_apiserver_loss(check, ledger, settled)
