"""PART-01 catches a minority API server that keeps accepting writes
(see ``lone_etcd``)."""

import pytest
from lone_etcd import MINORITY, point_minority_at_lone_etcd

from gauntlet.checks.chaos import _support
from gauntlet.checks.chaos.partition import check_minority_loses_writes
from gauntlet.errors import GuaranteeViolated


@pytest.mark.disruptive
def test_minority_api_server_with_its_own_quorum_is_reported(
    lab, faults, lab_check, ledger, run_id, restore
):
    point_minority_at_lone_etcd(lab, faults, lab_check, run_id, restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_minority_loses_writes(lab_check, ledger, MINORITY)

    message = str(caught.value)
    assert message.startswith("minority partition: cp3 acknowledged"), message
    assert "writes while cut off from cp1, cp2" in message, message

    restore.close()
    _support.wait_control_plane_healthy(
        lab_check, _support.chaos_config(lab_check, lab_check.nodes), 3
    )
    check_minority_loses_writes(lab_check, ledger, MINORITY)
