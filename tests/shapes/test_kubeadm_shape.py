"""A kubeadm cluster (static pods, stacked etcd, kube-proxy DaemonSet):
the gate and the node-level gameday pass on it through its kubeconfig
and the pod backend alone, with nothing set in the environment."""

from __future__ import annotations

from collections import Counter

import pytest
from e2e_cli import images_by_guarantee
from leftovers import assert_nothing_left
from shape_cli import results, run_as_user

from gauntlet.cluster.discovery import MIRROR_ANNOTATION

FLAVOR = "kubeadm"
BACKEND_FAULTS = ("RES-01", "RES-04", "RES-07", "PART-01")
"""One fault per way the pod backend acts on a kubeadm node: a systemd
unit stopped (the kubelet), a process killed in a static pod (the etcd
leader), a static pod manifest parked (an API server), and a partition."""
FURTHER_FAULTS = ("RES-02", "RES-03", "RES-10", "PART-03")
ALLOWED_SKIPS = {"ARCH-15"}


def test_the_control_plane_is_kubeadms_static_pods(shaped_cluster):
    pods = (
        shaped_cluster.core()
        .list_namespaced_pod("kube-system", label_selector="tier=control-plane")
        .items
    )
    by_component = Counter(p.metadata.labels["component"] for p in pods)
    assert by_component == {
        "kube-apiserver": 3,
        "kube-controller-manager": 3,
        "kube-scheduler": 3,
        "etcd": 3,
    }, by_component
    for pod in pods:
        assert MIRROR_ANNOTATION in (pod.metadata.annotations or {}), pod
        image = pod.spec.containers[0].image
        assert image.startswith("registry.k8s.io/"), image
    daemonsets = shaped_cluster.apps().list_namespaced_daemon_set("kube-system")
    assert [d.metadata.name for d in daemonsets.items] == ["kube-proxy"]


def test_the_gate_passes_by_kubeconfig_and_pod_backend(kubeconfig):
    proc = run_as_user(
        "run",
        "--profile",
        "gate",
        "--kubeconfig",
        str(kubeconfig),
        "--node-access",
        "pod",
    )
    found = results(proc)
    verdicts = {k: g["verdict"] for k, g in found.items()}
    assert len(verdicts) == 16, verdicts
    assert proc.returncode == 0, verdicts
    skipped = {k for k, v in verdicts.items() if v == "skip"}
    assert skipped <= ALLOWED_SKIPS, verdicts
    assert set(verdicts.values()) <= {"pass", "skip"}, verdicts
    for key in skipped:
        assert found[key]["message"], found[key]


def _gameday(kubeconfig, context: str, wanted: tuple[str, ...]) -> None:
    proc = run_as_user(
        "run",
        "--profile",
        "gameday",
        "--kubeconfig",
        str(kubeconfig),
        "--node-access",
        "pod",
        "--allow-destructive",
        context,
        "-k",
        " or ".join(k.lower().replace("-", "_") for k in wanted),
        timeout=1800,
    )
    verdicts = {k: g["verdict"] for k, g in results(proc).items()}
    assert set(verdicts) == set(wanted), verdicts
    assert proc.returncode == 0, verdicts
    assert set(verdicts.values()) == {"pass"}, verdicts
    timelines = images_by_guarantee(proc)
    assert all(timelines.get(g) for g in wanted), f"timelines: {timelines}"


def test_the_gameday_node_faults_pass_through_the_pod_backend(
    kubeconfig, shaped_cluster
):
    _gameday(kubeconfig, shaped_cluster.context, BACKEND_FAULTS)


@pytest.mark.full_matrix(ci="one fault per pod-backend action: the test before")
def test_the_other_gameday_node_faults_pass_through_the_pod_backend(
    kubeconfig, shaped_cluster
):
    _gameday(kubeconfig, shaped_cluster.context, FURTHER_FAULTS)


def test_preupgrade_passes_by_kubeconfig_and_pod_backend(kubeconfig):
    """Static pods read for versions, etcd snapshotted and restored from
    inside its container's root, drains dry-run: all as a kubeadm user."""
    proc = run_as_user(
        "run", "--profile", "preupgrade", "--target-version", "v1.38.0",
        "--kubeconfig", str(kubeconfig), "--node-access", "pod",
    )  # fmt: skip
    found = results(proc)
    verdicts = {k: g["verdict"] for k, g in found.items()}
    assert verdicts == {f"UPG-0{n}": "pass" for n in range(1, 6)}, verdicts
    assert proc.returncode == 0, proc.stdout[-3000:]
    backup = {m["name"] for m in found["UPG-03"]["measurements"]}
    assert {"etcd backup time", "etcd restore time"} <= backup, backup


def test_down_leaves_nothing_behind(shaped_lab):
    """Static pods, kubeadm's files and its containers go with the nodes."""
    assert shaped_lab.down() == []
    assert_nothing_left(shaped_lab)
