"""ARCH-16 catches a pod network cut between two workers.

Partitioning w1 from w2's node IP alone does not do it: pod packets carry
pod IPs, so the cut is made on w2's pod range.
"""

import pytest
from arch_sabotage import fresh

from gauntlet.checks.arch.pod_network import check_pods_talk_across_nodes
from gauntlet.errors import GuaranteeViolated


def test_workers_cut_off_from_each_others_pods_are_reported(
    lab, faults, lab_check, restore
):
    w2_pods = lab.topology().node("w2").pod_cidr
    faults.partition("w1", [w2_pods])
    restore.callback(faults.heal, "w1")

    with pytest.raises(GuaranteeViolated) as caught:
        check_pods_talk_across_nodes(lab_check)

    message = str(caught.value)
    assert "-w1 on w1 (10.251." in message, message
    assert "cannot reach peer-" in message, message
    assert "-w2 on w2 at 10.251." in message, message
    assert "-w2 on w2 (10.251." in message, message
    assert "-w1 on w1 at 10.251." in message, message

    parts = {p.name: p.status for p in lab_check.parts}
    assert parts["pod network from w1"] == "violated", parts
    assert parts["pod network from w2"] == "violated", parts

    restore.close()
    check_pods_talk_across_nodes(fresh(lab_check))
