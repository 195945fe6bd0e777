"""ARCH-09 calls the Service from every node and names the one whose
kube-proxy is broken.

The client used to run on a control-plane node only, so a worker whose
kube-proxy was down never was on the path. Here kube-proxy is stopped on
the worker w2 before the Service exists: w2 never gets rules for it (a
stopped kube-proxy leaves old rules in place but programs nothing new),
so the ClusterIP does not answer from w2 and the unready backend is not
dropped there either, while every other node is fine.
"""

import pytest
from arch_sabotage import fresh

from gauntlet.checks.arch.services import check_kube_proxy_implements_services
from gauntlet.errors import GuaranteeViolated

BROKEN = "w2"


@pytest.mark.full_matrix(
    ci="a stopped node component: ARCH-10's stopped kubelet"
)
def test_worker_whose_kube_proxy_is_stopped_is_named(
    faults, lab_check, restore
):
    faults.stop(BROKEN, "kube-proxy")
    restore.callback(faults.start, BROKEN, "kube-proxy")

    with pytest.raises(GuaranteeViolated) as caught:
        check_kube_proxy_implements_services(lab_check)

    message = str(caught.value)
    assert f"from {BROKEN}: both backends not reached" in message, message
    assert f"from {BROKEN}: traffic only to ready backends" in message
    assert f"kube-proxy on {BROKEN} (" in message, message
    assert "not answering" in message, message
    others = [n.name for n in lab_check.topology.nodes if n.name != BROKEN]
    for node in others:
        assert f"from {node}: " not in message, message
    parts = {p.name: p.status for p in lab_check.parts}
    assert parts == {
        **{f"path from {node}": "checked" for node in others},
        f"path from {BROKEN}": "violated",
        "readiness removal": "violated",
    }, parts

    restore.close()
    check_kube_proxy_implements_services(fresh(lab_check))
