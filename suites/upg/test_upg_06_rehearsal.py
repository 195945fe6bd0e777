"""UPG-06: an upgrade rehearsal keeps workloads up."""

import pytest

from gauntlet.checks.upg.rehearsal import check_upgrade_rehearsal

pytestmark = [pytest.mark.profile("preupgrade")]


@pytest.mark.guarantee("UPG-06")
@pytest.mark.disruptive
@pytest.mark.timeout(0)
def test_the_upgrade_keeps_the_workload_serving_and_the_api_writable(
    check, upgrade_settings, target_version, run_dir, say_now
):
    """Guarantee: while the cluster is upgraded to the target, in the
    documented order, a workload behind a Service MUST keep answering
    (failed requests and outage windows within bounds), writes through
    the front door MUST keep succeeding except for bounded gaps, no pod
    that was not evicted MAY restart, and afterwards every API server and
    kubelet MUST run the target with the control plane healthy."""
    command = upgrade_settings.upgrade_command
    if not command:
        pytest.skip("no rehearsal asked for: run with --rehearse")
    check_upgrade_rehearsal(check, command, target_version, run_dir, say_now)
