"""UPG-05 after the upgrade: the cluster matches its baseline."""

import pytest

from gauntlet.checks.upg.baseline import check_cluster_matches_baseline
from gauntlet.checks.upg.settings import BASELINE_ENV
from gauntlet.errors import UsageError

pytestmark = [pytest.mark.profile("postupgrade")]


@pytest.mark.guarantee("UPG-05")
@pytest.mark.readonly
def test_no_new_restarts_every_workload_back_and_latency_within_bound(
    check, upgrade_settings
):
    """Guarantee: after the upgrade no container of a pod that kept its uid
    MUST have restarted, every workload MUST have its ready pods back,
    every node Ready before MUST be Ready, and API latency p99 MUST stay
    within 2x and +100 ms of the baseline's."""
    if upgrade_settings.baseline is None:
        pytest.fail(
            "no baseline: run with --baseline reports/<run id>/baseline.json "
            f"(the file a preupgrade run wrote; or set {BASELINE_ENV})",
            pytrace=False,
        )
    try:
        check_cluster_matches_baseline(check, upgrade_settings.baseline)
        return
    except UsageError as exc:  # a bad baseline file: one line, no traceback
        bad_baseline = str(exc)
    pytest.fail(bad_baseline, pytrace=False)
