"""LOAD-03: chaos under load stays within an error budget."""

import pytest

from gauntlet.checks.load.chaos_under_load import check_chaos_under_load

pytestmark = [pytest.mark.profile("load"), pytest.mark.serial]


@pytest.mark.guarantee("LOAD-03")
@pytest.mark.disruptive
@pytest.mark.faults(
    "SIGKILL the etcd leader, then stop one kube-apiserver for 8 s, "
    "under LOAD-01's mix at its fixed rate"
)
def test_etcd_leader_or_api_server_loss_under_load_stays_within_budget(
    check, ledger
):
    """Guarantee: while LOAD-01's mix runs at its fixed rate through the
    kubeconfig's server, killing the etcd leader and losing one API server
    MUST each cost at most 5 % failed requests in the fault's window (from
    the fault to recovery plus 3 s, at least 10 s) and no run of whole
    seconds without a successful request longer than 8 s (leader kill) or
    3 s (API server), and outside the fault windows the run MUST stay
    within 1 % failed requests and no 5xx."""
    members = len(check.topology.etcd_members)
    check_chaos_under_load(check, ledger, members)
