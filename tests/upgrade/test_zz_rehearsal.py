"""The rehearsal: the previous release's lab passes preupgrade for the
current release, is upgraded to it while a workload serves (UPG-06),
then passes the gate and the postupgrade comparison with its baseline.

Last in this directory (by name): it leaves the lab at ``CURRENT``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.versions import CURRENT, PREVIOUS

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))

from e2e_cli import gauntlet, summary_of  # noqa: E402

UPGRADE_BOUND_S = 600.0
"""The issue's bound for the rehearsal on 3+2."""


@pytest.fixture(scope="module")
def rehearsal(old_lab: LabCluster) -> dict:
    """One preupgrade run with the rehearsal, on the old lab."""
    assert old_lab.running_release() == PREVIOUS
    done = gauntlet(
        "run", "--profile", "preupgrade",
        "--target-version", CURRENT.kubernetes,
        "--rehearse", "--allow-destructive", "kube-gauntlet-lab",
        timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = summary_of(done)
    results = [
        ln for ln in done.stdout.splitlines() if ln.startswith("results:")
    ]
    summary["run_dir"] = results[0].split(":", 1)[1].strip()
    return summary


def test_preupgrade_passes_for_the_next_minor_with_every_upg_guarantee(
    rehearsal,
):
    verdicts = {g["guarantee"]: g["verdict"] for g in rehearsal["guarantees"]}
    assert verdicts == {f"UPG-0{n}": "pass" for n in range(1, 7)}


def test_the_rehearsal_measures_downtime_and_steps_within_its_bound(rehearsal):
    (upg06,) = [
        g for g in rehearsal["guarantees"] if g["guarantee"] == "UPG-06"
    ]
    measured = {m["name"]: m["value"] for m in upg06["measurements"]}
    assert measured["upgrade duration"] < UPGRADE_BOUND_S
    assert measured["Service success during the upgrade"] >= 99.0
    assert "longest write gap during the upgrade" in measured
    assert "kube-apiserver steps, total" in measured
    assert LabCluster().running_release() == CURRENT


@pytest.mark.full_matrix(ci="UPG-06 runs ARCH-11, 12 and 14 after the upgrade")
def test_the_upgraded_lab_passes_the_gate(rehearsal):
    done = gauntlet("run", "--profile", "gate")
    assert done.returncode == 0, done.stdout[-4000:]


def test_postupgrade_finds_nothing_worse_than_the_baseline(rehearsal):
    baseline = Path(rehearsal["run_dir"]) / "baseline.json"
    done = gauntlet(
        "run", "--profile", "postupgrade", "--baseline", str(baseline)
    )
    assert done.returncode == 0, done.stdout[-4000:]
    verdicts = {
        g["guarantee"]: g["verdict"] for g in summary_of(done)["guarantees"]
    }
    assert verdicts == {"UPG-05": "pass"}
