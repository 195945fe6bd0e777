"""Trends on the lab: three gate runs of ARCH-08, then a fourth with the
controller-manager slowed; that run passes, and `gauntlet report trend`
flags what got slower.

The runs write into a project of their own (``$KUBE_GAUNTLET_PROJECT``
with the checkout's suites, pytest.ini and conftest.py linked in), so
their history never mixes with the user's ``reports/history``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from e2e_cli import PROJECT, gauntlet, summary_of
from slowed_controller_manager import slow_controller_managers

from gauntlet.lab.access import LabNodeAccess

SELECTION = "arch_08"
"""One guarantee keeps each run short (about 20 s)."""
GUARANTEE = "ARCH-08"
MEASURED = ("deleted pod replaced", "scale 2 -> 4", "scale 4 -> 1")
FLAGGED = ("scale 2 -> 4", "scale 4 -> 1")
"""Each takes several round trips through the controller-manager: 1 s
each way made them 11.9 s and 6.1 s (1.4-2.2 s and 0.1-0.2 s normally),
well past the 3 s floor (a tenth of the 30 s bound) and well within the
bound. The pod replacement, one round trip, went 1.6 s to 4.0 s: under
the floor, so it may or may not be flagged."""
DELAY_S = 1.0
NORMAL_RUNS = 3
LINKED = ("suites", "pytest.ini", "conftest.py")


@pytest.fixture
def own_reports(tmp_path: Path) -> dict[str, str]:
    """The environment for a project whose reports/ is ``tmp_path``'s."""
    for name in LINKED:
        (tmp_path / name).symlink_to(PROJECT / name)
    return {"KUBE_GAUNTLET_PROJECT": str(tmp_path)}


def test_trend_flags_a_controller_manager_slowed_in_a_passing_run(
    lab, faults: LabNodeAccess, own_reports, defer_cleanup
):
    for _ in range(NORMAL_RUNS):
        _gate_passes(own_reports)

    steady = _trend(own_reports, "--fail-on-regression")
    assert steady.returncode == 0, steady.stdout + steady.stderr
    for name in MEASURED:
        values = _row(steady.stdout, name)
        assert len(values) == NORMAL_RUNS, steady.stdout
    series = _series(own_reports)
    assert {s["status"] for s in series.values()} == {"ok"}, series

    slow_controller_managers(faults, DELAY_S, defer_cleanup)
    slowed = _gate_passes(own_reports)
    defer_cleanup.close()  # the lab as it was before the trend is read

    proc = _trend(own_reports, "--fail-on-regression")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    print(proc.stdout)  # the values, normal then slowed
    for name in MEASURED:
        values = _row(proc.stdout, name, judgement=None)
        assert len(values) == NORMAL_RUNS + 1, proc.stdout
    series = _series(own_reports)
    for name in FLAGGED:
        assert series[name]["status"] == "regression", series[name]
        assert f"regression: {GUARANTEE} {name}: " in proc.stderr, proc.stderr
        row = _row(proc.stdout, name, judgement="REGRESSION")
        assert len(row) == NORMAL_RUNS + 1, proc.stdout
    page = Path(own_reports["KUBE_GAUNTLET_PROJECT"], "reports", slowed)
    assert 'class="regression"' in (page / "trend.html").read_text()


def _gate_passes(env: dict[str, str]) -> str:
    """One gate run of the selection, which must pass; its run id."""
    proc = gauntlet("run", "--profile", "gate", "-k", SELECTION, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    summary = summary_of(proc)
    verdicts = {g["guarantee"]: g["verdict"] for g in summary["guarantees"]}
    assert verdicts == {GUARANTEE: "pass"}, verdicts
    return str(summary["run_id"])


def _row(out: str, name: str, judgement: str | None = "ok") -> list[float]:
    """The values of ARCH-08 ``name`` in the trend table, whose row must
    end in ``judgement`` (any, with ``None``)."""
    for line in out.splitlines():
        if line.startswith(GUARANTEE) and f" {name} " in line:
            cells = line.split()
            assert judgement in (None, cells[-1]), line
            start = 1 + len(name.split()) + 2  # id, name, unit, bound
            return [float(c) for c in cells[start:-1]]
    raise AssertionError(f"no row for {GUARANTEE} {name}:\n{out}")


def _trend(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return gauntlet("report", "trend", *args, env=env)


def _series(env: dict[str, str]) -> dict[str, dict]:
    """The ARCH-08 series of ``gauntlet report trend --json``, by name."""
    proc = _trend(env, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    series = json.loads(proc.stdout)["series"]
    return {s["name"]: s for s in series if s["guarantee"] == GUARANTEE}
