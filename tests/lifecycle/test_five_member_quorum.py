"""PART-04 on five etcd members: two stopped members are tolerated, a
third stops writes. Runs before test_small_lab.py, which replaces this
5+1 lab with a 1+1 lab. The lab is replaced here, by ``lab up``:
``gauntlet run`` never rebuilds a lab of another shape."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gauntlet.lab.cluster import LabCluster

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from e2e_cli import gauntlet, summary_of  # noqa: E402

pytestmark = [
    pytest.mark.lab_only,
    pytest.mark.full_matrix(ci="quorum on the 3+2 lab: RES-05 and sabotage"),
]


@pytest.fixture(scope="module")
def five_member_lab() -> LabCluster:
    lab = LabCluster()
    lab.up(control_planes=5, workers=1)
    return lab


def test_five_members_tolerate_two_failures_and_not_three(five_member_lab):
    proc = gauntlet(
        "run",
        "--profile",
        "gameday",
        "--control-planes",
        "5",
        "--workers",
        "1",
        "--allow-destructive",
        "kube-gauntlet-lab",
        "-k",
        "part_04",
        timeout=900,
    )
    summary = summary_of(proc)
    (result,) = summary["guarantees"]
    assert result["guarantee"] == "PART-04"
    assert result["verdict"] == "pass", (proc.stdout + proc.stderr)[-3000:]
    measured = {m["name"]: m["value"] for m in result["measurements"]}
    assert measured["failed writes, 2 of 5 down"] == 0, measured
    assert measured["writes acknowledged, 3 of 5 down"] == 0, measured
    assert proc.returncode == 0
