"""UPG-05: the baseline is green (and saved for the post-upgrade run)."""

import pytest

from gauntlet.checks.upg.baseline import check_baseline_is_green

pytestmark = [pytest.mark.profile("preupgrade")]


@pytest.mark.guarantee("UPG-05")
@pytest.mark.readonly
def test_gate_passes_and_the_healthy_state_is_saved(check, run_dir):
    """Guarantee: before an upgrade ARCH-11 to ARCH-14 MUST pass, and what
    healthy looks like (pods, restarts, Ready nodes, API latency) MUST be
    saved as baseline.json for the post-upgrade comparison."""
    check_baseline_is_green(check, run_dir)
