"""ARCH-07 catches a scheduler that ignores requests, selectors and
anti-affinity (the real ones stopped, a rogue binder in their place)."""

import pytest
from arch_sabotage import rogue_scheduler

from gauntlet.checks.arch.scheduler import check_scheduler_places_pods
from gauntlet.errors import GuaranteeViolated


def test_rogue_scheduler_binding_everything_to_one_node_is_reported(
    faults, cluster, lab_check, restore
):
    rogue_scheduler(faults, cluster, lab_check.namespace, "w1", restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_scheduler_places_pods(lab_check)

    message = str(caught.value)
    assert "-oversized requesting" in message, message
    assert "was bound to w1 with no Scheduled event" in message, message
    assert "kubernetes.io/hostname=w2 landed on w1" in message, message
    assert "anti-affinity replicas share a node" in message, message

    restore.close()
    check_scheduler_places_pods(lab_check)
