"""A managed cluster (the control plane exists but is no part of the
cluster, as on EKS or GKE): the gate checks everything about the workers
and says "control plane not visible" for what it cannot see; then
`lab down` leaves nothing.

Last of the shapes (scripts/test.sh orders it): it tears the lab down.
"""

from __future__ import annotations

from leftovers import assert_nothing_left
from shape_cli import results, run_as_user

from gauntlet.cluster.discovery import NOT_VISIBLE

FLAVOR = "managed"
CONTROL_PLANE_ONLY = {"ARCH-04", "ARCH-11", "ARCH-13"}
WORKERS = {
    "ARCH-05",
    "ARCH-06",
    "ARCH-07",
    "ARCH-08",
    "ARCH-09",
    "ARCH-10",
    "ARCH-15",
    "ARCH-16",
}


def test_only_the_workers_are_nodes(shaped_cluster):
    names = sorted(
        n.metadata.name for n in shaped_cluster.core().list_node().items
    )
    assert names == ["w1", "w2"]


def test_the_gate_checks_the_workers_and_names_what_it_cannot_see(kubeconfig):
    proc = run_as_user(
        "run", "--profile", "gate", "--kubeconfig", str(kubeconfig)
    )
    found = results(proc)
    verdicts = {k: g["verdict"] for k, g in found.items()}
    assert proc.returncode == 0, verdicts
    assert set(verdicts.values()) <= {"pass", "skip"}, verdicts
    assert {k for k, v in verdicts.items() if v == "skip"} == CONTROL_PLANE_ONLY
    for key in CONTROL_PLANE_ONLY:
        assert NOT_VISIBLE in found[key]["message"], found[key]
    for key in WORKERS:
        assert verdicts[key] == "pass", found[key]
    for key, entry in found.items():
        for part in entry.get("parts", []):
            if part["status"] == "unobserved":
                assert NOT_VISIBLE in part["reason"], (key, part)


def test_preupgrade_passes_and_leaves_the_hidden_etcd_to_its_provider(
    kubeconfig,
):
    proc = run_as_user(
        "run", "--profile", "preupgrade", "--target-version", "v1.38.0",
        "--kubeconfig", str(kubeconfig), "--node-access", "pod",
    )  # fmt: skip
    found = results(proc)
    verdicts = {k: g["verdict"] for k, g in found.items()}
    assert verdicts == {
        "UPG-01": "pass",
        "UPG-02": "pass",
        "UPG-03": "skip",
        "UPG-04": "pass",
        "UPG-05": "pass",
    }, verdicts
    assert "not applicable" in found["UPG-03"]["message"]
    assert "unobserved" in found["UPG-05"]["message"]  # ARCH-11, 13: no etcd


def test_down_leaves_nothing_behind(shaped_lab):
    assert shaped_lab.down() == []
    assert_nothing_left(shaped_lab)
