"""CONF-01 names the upstream specs that fail when the control plane
cannot reach Services: the lab's nodes lose their route for the Service
range (as they had none before the conformance profile), so the API
server never reaches an admission or conversion webhook behind a
Service, while the specs that do not need that still pass."""

from __future__ import annotations

import pytest
from arch_sabotage import fresh

from gauntlet.checks.conformance.specs import (
    MODE_ENV,
    NO_PULL_ENV,
    PROCS_ENV,
    check_conformance,
)
from gauntlet.errors import GuaranteeViolated
from gauntlet.lab import sh
from gauntlet.lab.topology import BRIDGE_IP, SERVICE_CIDR


def _route(netns: str, verb: str) -> None:
    argv = ["ip", "route", verb, SERVICE_CIDR]
    if verb == "replace":
        argv += ["via", BRIDGE_IP]
    sh.run(sh.in_netns(netns, argv))


def test_webhook_specs_fail_when_nodes_cannot_reach_services(
    lab, lab_check, restore, monkeypatch, tmp_path
):
    monkeypatch.setenv(MODE_ENV, "quick")
    monkeypatch.setenv(PROCS_ENV, "2")
    monkeypatch.setenv(NO_PULL_ENV, "1")
    topology = lab.topology()
    assert topology is not None
    for node in topology.control_planes:
        _route(node.netns, "del")
        restore.callback(_route, node.netns, "replace")

    with pytest.raises(GuaranteeViolated) as caught:
        check_conformance(lab_check, tmp_path / "broken", None)

    message = str(caught.value)
    assert "AdmissionWebhook" in message, message
    assert "CustomResourceConversionWebhook" in message, message
    assert "[sig-node] Pods should be submitted and removed" not in message
    parts = {p.name.split(":")[0]: p.status for p in lab_check.parts}
    assert parts["sig-api-machinery"] == "violated", parts
    assert parts["sig-node"] == "checked", parts

    restore.close()
    check_conformance(fresh(lab_check), tmp_path / "restored", None)
