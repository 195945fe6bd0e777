"""ARCH-01 catches etcd accepting certless clients and a rogue etcd client."""

import pytest
from etcd_sabotage import (
    fresh_check,
    set_etcd_flags,
    start_rogue_etcd_client,
)

from gauntlet.checks.arch.etcd_access import check_only_apiserver_talks_to_etcd
from gauntlet.errors import GuaranteeViolated


@pytest.mark.full_matrix(ci="the kubeadm lab's ARCH-01 sabotage")
def test_etcd_without_client_cert_auth_is_reported(
    etcd, faults, lab_check, restore
):
    # etcd asks for a client certificate whenever --trusted-ca-file is set,
    # whatever --client-cert-auth says: drop both to accept anyone.
    set_etcd_flags(
        etcd,
        faults,
        "cp2",
        {"client-cert-auth": "false", "trusted-ca-file": None},
        restore,
    )

    with pytest.raises(GuaranteeViolated) as caught:
        check_only_apiserver_talks_to_etcd(fresh_check(lab_check))

    message = str(caught.value)
    url = "cp2 (https://10.250.0.12:2379)"
    assert f"etcd {url} answered no certificate from runner" in message, message
    assert "from pod" in message and "keys under /registry/" in message, message
    assert "kubelet's certificate" in message, message

    restore.close()
    check_only_apiserver_talks_to_etcd(fresh_check(lab_check))


def test_a_non_apiserver_etcd_client_is_reported(faults, lab_check, restore):
    start_rogue_etcd_client(faults, "cp1", restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_only_apiserver_talks_to_etcd(fresh_check(lab_check))

    message = str(caught.value)
    assert "cp1: etcdctl (pid" in message, message
    assert "configured with etcd endpoints" in message, message
    assert "is connected to etcd's client port" in message, message
    assert "(--endpoints=https://10.250.0.11:2379)" in message, message

    restore.close()
    check_only_apiserver_talks_to_etcd(fresh_check(lab_check))
