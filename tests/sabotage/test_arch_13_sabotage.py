"""ARCH-13 catches an etcd member whose database nears its quota, and a
member that is not running.

etcd raises no alarm by hand, so the member is restarted with a quota its
current database already fills to 85 %: over the 80 % margin, with room
left for the lab's writes during the short observation (the restore
disarms a NOSPACE alarm should one be raised anyway).
"""

import pytest
from etcd_sabotage import a_follower, fresh_check, lower_quota, stop_member

from gauntlet.checks.arch.etcd_health import check_etcd_is_healthy
from gauntlet.errors import GuaranteeViolated

RATIO = 0.85
OBSERVE_S = 3.0


@pytest.mark.full_matrix(ci="etcd health: ARCH-12's stopped member")
def test_database_near_its_quota_is_reported(etcd, faults, lab_check, restore):
    node, quota = lower_quota(etcd, faults, RATIO, restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_etcd_is_healthy(fresh_check(lab_check), observe_s=OBSERVE_S)

    message = str(caught.value)
    assert f"etcd on {node}: database" in message, message
    assert f"of its {quota / 2**20:.1f} MiB quota (limit 80%)" in message, (
        message
    )

    restore.close()
    # The gate's full window: in 3 s right after the member's restart,
    # one slow fsync would decide the p99.
    check_etcd_is_healthy(fresh_check(lab_check))


@pytest.mark.full_matrix(ci="a stopped etcd member: ARCH-12's sabotage")
def test_a_member_that_is_not_running_is_reported(
    etcd, faults, lab_check, restore
):
    node, _ = a_follower(etcd, faults)
    stop_member(etcd, faults, node, restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_etcd_is_healthy(fresh_check(lab_check), observe_s=OBSERVE_S)

    message = str(caught.value)
    assert f"etcd on {node}: not running ({node} (" in message, message

    restore.close()
    check_etcd_is_healthy(fresh_check(lab_check))
