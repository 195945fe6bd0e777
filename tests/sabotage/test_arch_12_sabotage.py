"""ARCH-12 catches a stopped etcd member and its unready API server."""

import pytest
from etcd_sabotage import HEALTHY_TIMEOUT_S, wait_member_healthy

from gauntlet import progress
from gauntlet.checks.arch.health import (
    ApiServer,
    check_health_endpoints_are_green,
    probe_api_server,
)
from gauntlet.errors import GuaranteeViolated

NODE, URL = "cp3", "https://10.250.0.13:6443"


def _wait_api_server_ready(cluster):
    server = ApiServer(NODE, URL)
    progress.wait_until(
        f"kube-apiserver on {NODE} ready",
        lambda: probe_api_server(cluster, server, "/readyz")[0] == 200,
        HEALTHY_TIMEOUT_S,
    )


def test_stopped_etcd_member_is_reported(
    etcd, faults, cluster, lab_check, restore
):
    faults.stop(NODE, "etcd")
    restore.callback(_wait_api_server_ready, cluster)
    restore.callback(wait_member_healthy, etcd, faults, NODE)
    restore.callback(faults.start, NODE, "etcd")

    with pytest.raises(GuaranteeViolated) as caught:
        check_health_endpoints_are_green(lab_check)

    message = str(caught.value)
    # A 500 listing "[-]etcd failed", or no answer while it gives up.
    assert f"kube-apiserver on {NODE} ({URL}) /readyz answered" in message, (
        message
    )
    assert f"etcd member {NODE} (" in message, message
    assert "is unhealthy" in message, message

    restore.close()
    check_health_endpoints_are_green(lab_check)
