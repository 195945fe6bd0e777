"""PART-04 catches an API server that keeps acknowledging writes after
etcd lost its quorum (it writes to a lone etcd of its own: ``lone_etcd``)."""

import pytest
from lone_etcd import point_minority_at_lone_etcd

from gauntlet.checks.chaos import _support
from gauntlet.checks.chaos.quorum import check_quorum_math
from gauntlet.errors import GuaranteeViolated


@pytest.mark.disruptive
def test_writes_acknowledged_without_quorum_are_reported(
    lab, faults, lab_check, ledger, run_id, restore
):
    point_minority_at_lone_etcd(lab, faults, lab_check, run_id, restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_quorum_math(lab_check, ledger, 3)

    message = str(caught.value)
    assert message.startswith("quorum math with 3 etcd members:"), message
    assert "writes acknowledged with 2 of 3 down" in message, message
    assert "beyond the 1 a quorum of 3 tolerates" in message, message

    restore.close()
    _support.wait_control_plane_healthy(
        lab_check, _support.chaos_config(lab_check, lab_check.nodes), 3
    )
    check_quorum_math(lab_check, ledger, 3)
