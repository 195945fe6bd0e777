"""ARCH-09 catches an unready backend that keeps getting traffic because
kube-proxy on the client's node no longer programs the Service."""

import pytest

from gauntlet.checks.arch.services import (
    check_kube_proxy_implements_services,
    check_unready_backend_gets_no_traffic,
    serve_through_cluster_ip,
)
from gauntlet.errors import GuaranteeViolated


def test_unready_backend_still_served_without_kube_proxy_is_reported(
    faults, lab_check, restore
):
    service = serve_through_cluster_ip(lab_check)
    node = service.client_node
    faults.stop(node, "kube-proxy")
    restore.callback(faults.start, node, "kube-proxy")

    with pytest.raises(GuaranteeViolated) as caught:
        check_unready_backend_gets_no_traffic(lab_check, service)

    message = str(caught.value)
    victim = sorted(service.backends)[0]
    assert f"from {node}: traffic only to ready backends" in message, message
    assert f"{victim} on {service.backends[victim]}: " in message, message
    assert "(unexpected)" in message, message
    assert f"kube-proxy on {node} " in message, message
    assert "not answering" in message, message

    restore.close()
    check_kube_proxy_implements_services(lab_check)
