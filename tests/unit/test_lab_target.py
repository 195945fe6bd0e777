"""``gauntlet run`` boots a lab only when none exists, never rebuilds one.

Issue 10, defect 14: a run with no kubeconfig tore the lab down and
rebuilt it when a node was not Ready, erasing the very state the user
wanted checked. The decision is a pure function of the lab's state.
"""

import json
from pathlib import Path

import pytest

from gauntlet.cli import lab_target
from gauntlet.cli.lab_target import decide, rebuild_command
from gauntlet.errors import UsageError
from gauntlet.lab.cluster import LAB_IMAGES, LabCluster
from gauntlet.lab.paths import LabPaths
from gauntlet.lab.state import LabState

HEALTHY = LabState((3, 2))
REBUILD = "gauntlet lab down && gauntlet lab up"


def test_no_lab_is_booted_in_the_default_shape():
    decision = decide(LabState(None), None)
    assert (decision.action, decision.shape) == ("boot", (3, 2))


def test_no_lab_is_booted_in_the_shape_asked_for():
    decision = decide(LabState(None), (1, 1))
    assert (decision.action, decision.shape) == ("boot", (1, 1))


def test_a_healthy_lab_is_reused():
    decision = decide(HEALTHY, None)
    assert decision.action == "reuse"
    assert decision.message == "a healthy 3+2 lab is up"


def test_a_lab_with_a_node_not_ready_is_checked_as_it_is_not_rebuilt():
    state = LabState((3, 2), not_ready=("w2",))
    decision = decide(state, None)
    assert decision.action == "reuse"
    assert "degraded (not Ready: w2)" in decision.message
    assert "checking it as it is" in decision.message
    assert REBUILD in decision.message


def test_a_lab_with_a_node_process_gone_is_checked_and_named():
    state = LabState((3, 2), not_running=("cp2",), not_ready=("cp2",))
    decision = decide(state, (3, 2))
    assert decision.action == "reuse"
    assert "node process gone: cp2" in decision.message
    assert "not Ready: cp2" in decision.message


def test_a_lab_whose_boot_never_finished_is_not_healthy():
    decision = decide(LabState((3, 2), booted=False), None)
    assert decision.action == "reuse"
    assert "its boot never finished" in decision.message


def test_a_lab_whose_api_is_silent_is_refused_with_the_rebuild_command():
    state = LabState(
        (3, 2),
        not_running=("cp1", "cp2", "cp3", "w1", "w2"),
        api_error="no node is running",
    )
    decision = decide(state, None)
    assert decision.action == "refuse"
    assert "its API does not answer: no node is running" in decision.message
    assert f"`{REBUILD}`" in decision.message


def test_a_lab_of_another_shape_than_asked_is_refused_not_replaced():
    decision = decide(HEALTHY, (5, 1))
    assert decision.action == "refuse"
    assert "a 3+2 lab is up, not the 5+1 asked for" in decision.message
    assert (
        "`gauntlet lab down && gauntlet lab up --control-planes 5 "
        "--workers 1`" in decision.message
    )


def test_any_lab_that_is_up_serves_a_run_that_names_no_shape():
    decision = decide(LabState((1, 1)), None)
    assert (decision.action, decision.shape) == ("reuse", (1, 1))


def test_leftovers_of_a_killed_boot_are_refused_not_cleaned():
    decision = decide(LabState(None, leftovers=(41, 42)), None)
    assert decision.action == "refuse"
    assert "pids 41, 42" in decision.message
    assert REBUILD in decision.message


def test_the_rebuild_command_names_only_a_shape_other_than_the_default():
    assert rebuild_command((3, 2)) == REBUILD
    assert rebuild_command((1, 0)) == (
        f"{REBUILD} --control-planes 1 --workers 0"
    )


def test_state_of_a_lab_whose_nodes_are_all_gone_asks_no_api(tmp_path):
    paths = LabPaths(tmp_path)
    paths.manifest.write_text(
        json.dumps({"control_planes": 1, "workers": 1, "booted": True})
    )
    state = LabCluster(paths).state()
    assert state.shape == (1, 1)
    assert state.not_running == ("cp1", "w1")
    assert state.api_error == "no node is running"
    assert not state.healthy


class _Lab:
    """A stand-in for ``LabCluster`` that records what the run asked."""

    def __init__(self, state, calls):
        self._state = state
        self.calls = calls
        self.paths = LabPaths(Path("/nonexistent"))

    def state(self):
        return self._state

    def up(self, control_planes, workers):
        self.calls.append(("up", control_planes, workers))
        raise AssertionError("up called")

    def down(self):
        self.calls.append(("down",))
        raise AssertionError("down called")


def _patched(monkeypatch, state):
    calls = []
    monkeypatch.setattr(
        "gauntlet.lab.cluster.LabCluster", lambda: _Lab(state, calls)
    )
    return calls


def test_run_on_a_degraded_lab_neither_tears_down_nor_boots(
    monkeypatch, capsys
):
    calls = _patched(monkeypatch, LabState((3, 2), not_ready=("w2",)))
    target = lab_target.boot_or_reuse_lab(None)
    assert calls == []
    assert target.lab and target.context == "kube-gauntlet-lab"
    assert "not Ready: w2" in capsys.readouterr().err


def test_run_on_a_lab_of_another_shape_stops_with_a_usage_error(
    monkeypatch,
):
    calls = _patched(monkeypatch, HEALTHY)
    with pytest.raises(UsageError, match="a 3\\+2 lab is up, not the 1\\+1"):
        lab_target.boot_or_reuse_lab((1, 1))
    assert calls == []


def test_run_with_an_impossible_shape_is_a_usage_error(monkeypatch):
    _patched(monkeypatch, HEALTHY)
    with pytest.raises(UsageError, match="--control-planes must be 1 to"):
        lab_target.boot_or_reuse_lab((9, 2))


def test_a_lab_booted_without_this_versions_images_is_refused():
    missing = ("registry.k8s.io/e2e-test-images/agnhost:2.66.1",)
    decision = decide(LabState((3, 2), missing_images=missing), None)
    assert decision.action == "refuse"
    assert "booted without images this version runs" in decision.message
    assert missing[0] in decision.message
    assert f"`{REBUILD}`" in decision.message


def test_state_names_the_images_the_labs_boot_did_not_import(tmp_path):
    paths = LabPaths(tmp_path)
    manifest = {"control_planes": 1, "workers": 1, "booted": True}
    paths.manifest.write_text(json.dumps(manifest))
    assert LabCluster(paths).state().missing_images == LAB_IMAGES
    manifest["images"] = list(LAB_IMAGES)
    paths.manifest.write_text(json.dumps(manifest))
    assert LabCluster(paths).state().missing_images == ()
    assert LabCluster(LabPaths(tmp_path / "none")).missing_images() == ()
