"""The gameday profile on the lab: every RES/PART guarantee it covers holds,
with measurements. Runs first among the e2e files so that the gate run of
test_cli_on_lab.py shows the lab healthy right after the gameday.
"""

from __future__ import annotations

import pytest
from e2e_cli import gauntlet, images_by_guarantee, summary_of, summary_path

MUST_PASS = {
    "RES-01",
    "RES-02",
    "RES-03",
    "RES-04",
    "RES-05",
    "RES-06",
    "RES-07",
    "RES-08",
    "RES-09",
    "RES-10",
    "PART-01",
    "PART-02",
    "PART-03",
    "PART-04",
}


@pytest.mark.full_matrix(ci="ten here, the other four on the kubeadm lab")
def test_gameday_passes_with_measurements(lab):
    _gameday_passes(MUST_PASS)


ON_KUBEADM_IN_CI = {"RES-01", "RES-04", "RES-07", "PART-01"}
"""One fault per way the pod backend acts on a node, which CI runs on the
kubeadm lab (tests/shapes/test_kubeadm_shape.py)."""


def test_gameday_passes_with_measurements_but_the_pod_backend_faults(lab):
    """Every gameday guarantee but those CI runs on the kubeadm lab
    through the pod backend."""
    _gameday_passes(MUST_PASS - ON_KUBEADM_IN_CI)


def _gameday_passes(wanted: set[str]) -> None:
    args = ["run", "--profile", "gameday", "--screenshot"]
    args += ["--allow-destructive", "kube-gauntlet-lab"]
    if wanted != MUST_PASS:
        args += ["-k", " or ".join(_keyword(g) for g in sorted(wanted))]
    proc = gauntlet(*args, timeout=1500)
    summary = summary_of(proc)
    verdicts = {g["guarantee"]: g["verdict"] for g in summary["guarantees"]}
    failed = {k: v for k, v in verdicts.items() if k in wanted and v != "pass"}
    assert not failed and wanted <= set(verdicts), (
        f"{failed}\n{proc.stdout[-3000:]}"
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    measured = {
        g["guarantee"]: g["measurements"] for g in summary["guarantees"]
    }
    assert all(measured[g] for g in wanted), "a guarantee measured nothing"
    timelines = images_by_guarantee(proc)
    untimed = {g for g in wanted if not timelines.get(g)}
    assert not untimed, f"no timeline plot attached for {sorted(untimed)}"
    run = summary_path(proc).parent
    assert (run / "timelines.html").is_file(), "no timelines page"
    for shot in (run / "report.png", run / "timelines.png"):
        assert shot.is_file() and shot.stat().st_size > 10_000, (
            f"no screenshot {shot.name}: {proc.stderr[-2000:]}"
        )


def _keyword(guarantee: str) -> str:
    """``RES-05`` -> ``res_05``, as the suite files are named."""
    return guarantee.lower().replace("-", "_")


PATH_CUTTING = {
    "RES-01",
    "RES-02",
    "RES-03",
    "RES-04",
    "RES-07",
    "RES-10",
    "PART-01",
    "PART-03",
}
"""Guarantees whose faults cut (or may cut) the pod backend's own exec
path: a kubelet stopped or killed, an etcd member or API server down, a
node cut off."""


@pytest.mark.full_matrix(ci="the kubeadm lab runs them (tests/shapes)")
def test_pod_backend_runs_the_path_cutting_guarantees_like_a_kubeadm_user(
    lab,
):
    """The guarantees whose faults cut the pod backend's own exec path,
    through privileged helper pods instead of the lab's API, with the
    same bounds: each such fault is handed to the node with its planned
    duration and the node ends it itself. The dead man's switch stays at
    its default (600 s), far past every plan: a pass proves the planned
    undo did the work."""
    keyword = " or ".join(_keyword(g) for g in sorted(PATH_CUTTING))
    proc = gauntlet(
        "run",
        "--profile",
        "gameday",
        "--allow-destructive",
        "kube-gauntlet-lab",
        "--node-access",
        "pod",
        "-k",
        keyword,
        timeout=1800,
    )
    summary = summary_of(proc)
    verdicts = {g["guarantee"]: g["verdict"] for g in summary["guarantees"]}
    assert verdicts == dict.fromkeys(PATH_CUTTING, "pass"), proc.stdout[-3000:]
    assert proc.returncode == 0
