"""A 1+1 lab: the gate reports the reduced HA shape as the profile says.

Runs before the teardown test (scripts/test.sh orders the files); it
replaces the 3+2 lab with a 1+1 lab.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gauntlet.lab.cluster import LabCluster

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from e2e_cli import gauntlet, summary_of  # noqa: E402

pytestmark = pytest.mark.lab_only


@pytest.fixture(scope="module")
def small_lab() -> LabCluster:
    lab = LabCluster()
    lab.up(control_planes=1, workers=1)
    return lab


def _gate(ha_profile: str, *keyword: str) -> tuple[int, dict[str, dict]]:
    env = {"KUBE_GAUNTLET_HA_PROFILE": ha_profile}
    proc = gauntlet(
        "run",
        "--profile",
        "gate",
        "--control-planes",
        "1",
        "--workers",
        "1",
        *keyword,
        env=env,
    )
    summary = summary_of(proc)
    return proc.returncode, {g["guarantee"]: g for g in summary["guarantees"]}


def test_production_profile_fails_ha_and_passes_the_rest(small_lab):
    code, results = _gate("production")
    assert code == 1
    ha = results["ARCH-11"]
    assert ha["verdict"] == "fail", ha
    assert "control-plane" in ha["message"], ha["message"]
    others = {k: r["verdict"] for k, r in results.items() if k != "ARCH-11"}
    assert set(others.values()) <= {"pass", "skip"}, others


def test_dev_profile_passes_the_reduced_ha_shape(small_lab):
    """The rest of the gate passed under the production profile; only
    ARCH-11's judgement of the shape depends on the HA profile."""
    code, results = _gate("dev", "-k", "arch_11")
    verdicts = {k: r["verdict"] for k, r in results.items()}
    assert verdicts == {"ARCH-11": "pass"}, verdicts
    assert code == 0, verdicts
