"""RES-07 catches an HA control plane that its clients reach through one
API server only (a kubeconfig without a load balancer or failover, as in
a kubeadm cluster set up without ``controlPlaneEndpoint``)."""

import dataclasses

import pytest
import yaml

from gauntlet.checks.chaos.control_plane import check_apiserver_loss
from gauntlet.cluster.client import ClusterTarget, connect
from gauntlet.errors import GuaranteeViolated

FIRST = "https://10.250.0.11:6443"
"""cp1's API server: the one the check stops (lowest node name)."""


@pytest.mark.disruptive
def test_clients_without_failover_are_reported(
    lab, lab_check, ledger, tmp_path
):
    config = yaml.safe_load(lab.paths.kubeconfig.read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = FIRST
    kubeconfig = tmp_path / "one-api-server.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    single = connect(ClusterTarget(kubeconfig))
    try:
        with pytest.raises(GuaranteeViolated) as caught:
            check_apiserver_loss(
                dataclasses.replace(lab_check, cluster=single), ledger, 3
            )
    finally:
        single.close()

    message = str(caught.value)
    assert message.startswith("kube-apiserver on cp1 down:"), message
    assert "no write succeeded for" in message, message
