"""The gameday profile on the lab: every RES/PART guarantee it covers holds,
with measurements. Runs first among the e2e files so that the gate run of
test_cli_on_lab.py shows the lab healthy right after the gameday.
"""

from __future__ import annotations

from e2e_cli import gauntlet, summary_of

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


def test_gameday_passes_with_measurements(lab):
    proc = gauntlet(
        "run",
        "--profile",
        "gameday",
        "--allow-destructive",
        "kube-gauntlet-lab",
        timeout=1500,
    )
    summary = summary_of(proc)
    verdicts = {g["guarantee"]: g["verdict"] for g in summary["guarantees"]}
    failed = {
        k: v for k, v in verdicts.items() if k in MUST_PASS and v != "pass"
    }
    assert not failed and MUST_PASS <= set(verdicts), (
        f"{failed}\n{proc.stdout[-3000:]}"
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    measured = {
        g["guarantee"]: g["measurements"] for g in summary["guarantees"]
    }
    assert all(measured[g] for g in MUST_PASS), "a guarantee measured nothing"


def test_pod_backend_runs_res_01_and_res_03_like_a_kubeadm_user(lab):
    """RES-01 and RES-03 through privileged helper pods instead of the
    lab's API. Stopping the kubelet cuts the pod backend's own exec path,
    so the host ends that outage itself after KUBE_GAUNTLET_POD_MAX_OUTAGE_S
    (long enough for NotReady, short enough for CI)."""
    proc = gauntlet(
        "run",
        "--profile",
        "gameday",
        "--allow-destructive",
        "kube-gauntlet-lab",
        "--node-access",
        "pod",
        "-k",
        "res_01 or res_03",
        timeout=900,
        env={"KUBE_GAUNTLET_POD_MAX_OUTAGE_S": "100"},
    )
    summary = summary_of(proc)
    verdicts = {g["guarantee"]: g["verdict"] for g in summary["guarantees"]}
    assert verdicts == {"RES-01": "pass", "RES-03": "pass"}, proc.stdout[-3000:]
    assert proc.returncode == 0
