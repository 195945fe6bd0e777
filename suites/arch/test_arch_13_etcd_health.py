"""ARCH-13: etcd is healthy on its disk and network."""

import pytest

from gauntlet.checks.arch.etcd_health import check_etcd_is_healthy

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-13")
@pytest.mark.readonly
def test_etcd_disk_latency_leadership_space_and_alarms_are_sound(check):
    """Guarantee: over the observation window every etcd member MUST keep
    WAL fsync p99 under 10 ms and backend commit p99 under 25 ms, see no
    leader change, stay under 80 % of its quota and raise no alarm."""
    check_etcd_is_healthy(check)
