"""ARCH-15 on a node with a low pod limit: the check fills it and passes,
then catches a scheduler that binds past the limit.

The gate run finds no low limit (110 per node): it reports the limits
and the filling part is not applicable; here w1 gets ``maxPods: 5`` so
the limit is exercised. The break is a rogue
binder (the real schedulers stopped) placing every pod on w1 regardless:
the kubelet then refuses the surplus (OutOfpods), and the check names the
node, the limit and the pods bound past it.
"""

import contextlib

import pytest
from arch_sabotage import fresh, rogue_scheduler, set_max_pods

from gauntlet.checks.arch.density import check_pod_density_limits
from gauntlet.errors import GuaranteeViolated

LIMITED = "w1"
MEASURED = f"pods over limit {LIMITED}"


def test_scheduler_binding_past_a_low_pod_limit_is_reported(
    lab, faults, cluster, lab_check, restore
):
    set_max_pods(lab, faults, cluster, LIMITED, 5, restore)
    filled = fresh(lab_check)
    check_pod_density_limits(filled)
    assert filled.measured[MEASURED] == 0
    assert filled.measured[f"allocatable pods {LIMITED}"] == 5
    parts = {p.name: p.status for p in filled.parts}
    assert parts["low pod limit enforced"] == "checked", parts

    rogue = contextlib.ExitStack()
    restore.callback(rogue.close)
    rogue_scheduler(faults, cluster, lab_check.namespace, LIMITED, rogue)

    with pytest.raises(GuaranteeViolated) as caught:
        check_pod_density_limits(fresh(lab_check))

    message = str(caught.value)
    assert f"pod limit of {LIMITED} holds: " in message, message
    assert f"test pods bound to {LIMITED} with room for" in message, message
    assert "(limit 5, " in message, message
    assert "OutOfpods" in message, message

    rogue.close()
    again = fresh(lab_check)
    check_pod_density_limits(again)
    assert again.measured[MEASURED] == 0
