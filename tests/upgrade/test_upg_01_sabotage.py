"""UPG-01 catches a kubelet newer than the API servers (a v1.37.2 kubelet
joined to a v1.36.3 control plane) and a target that skips minors; the
old lab as it stands may go one minor up, in an order naming its nodes."""

from __future__ import annotations

import re

import pytest

from gauntlet import progress
from gauntlet.checks.upg.skew import check_version_skew
from gauntlet.cluster.client import Cluster
from gauntlet.cluster.workloads import node_is_ready
from gauntlet.errors import GuaranteeViolated
from gauntlet.gobuild.build import ensure_built
from gauntlet.kube_version import parse_version
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.build import kubernetes_build
from gauntlet.lab.versions import CURRENT, PREVIOUS

KUBELET_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 1.0
TARGET = parse_version(CURRENT.kubernetes)


def test_the_old_lab_may_go_one_minor_up_in_an_order_naming_its_nodes(
    old_lab, old_check
):
    plan = check_version_skew(old_check, TARGET)

    topo = old_lab.topology()
    text = plan.text
    assert f"upgrade order to {TARGET}:" in text, text
    for node in topo.control_planes:
        assert f"kube-apiserver on {node.name}: {PREVIOUS.kubernetes}" in text
    for node in topo.workers:
        assert f"drain {node.name}, upgrade kubelet" in text, text
    assert text.index("etcd on") < text.index("kube-apiserver on"), text
    assert text.index("kube-scheduler") < text.index("drain"), text


def test_a_target_that_skips_minors_is_refused_naming_each_minor(old_check):
    with pytest.raises(GuaranteeViolated, match=r"skips v1\.37, v1\.38: "):
        check_version_skew(old_check, parse_version("v1.39.0"))


def test_a_kubelet_newer_than_the_api_servers_is_reported(
    old_lab, old_cluster, old_check, restore
):
    nodes = LabNodeAccess(old_lab)
    worker = old_lab.topology().workers[0].name
    newer = ensure_built(kubernetes_build(CURRENT)) / "kubelet"
    old_argv = nodes.argv(worker, "kubelet")

    nodes.set_argv(worker, "kubelet", [str(newer), *old_argv[1:]])
    restore.callback(
        _wait_kubelet_version, old_cluster, worker, PREVIOUS.kubernetes
    )
    restore.callback(nodes.set_argv, worker, "kubelet", old_argv)
    _wait_kubelet_version(old_cluster, worker, CURRENT.kubernetes)

    pattern = (
        rf"kubelet on {re.escape(worker)} is {re.escape(CURRENT.kubernetes)}"
        r", newer than the oldest API server"
    )
    with pytest.raises(GuaranteeViolated, match=pattern):
        check_version_skew(old_check, TARGET)

    restore.close()
    check_version_skew(old_check.fresh(), TARGET)


def _wait_kubelet_version(cluster: Cluster, node: str, version: str) -> None:
    """Until the Node reports ``version`` for its kubelet and is Ready."""
    core = cluster.core()

    def reports() -> bool:
        seen = core.read_node(node)
        info = seen.status.node_info if seen.status else None
        running = info.kubelet_version if info else ""
        return running == version and node_is_ready(seen)

    def state() -> str:
        seen = core.read_node(node)
        info = seen.status.node_info if seen.status else None
        ready = "Ready" if node_is_ready(seen) else "not Ready"
        return f"kubelet {info.kubelet_version if info else '?'}, {ready}"

    progress.wait_until(
        f"kubelet on {node} at {version}",
        reports,
        KUBELET_TIMEOUT_S,
        POLL_INTERVAL_S,
        describe=state,
    )
