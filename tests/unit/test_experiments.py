"""Every shipped experiment is valid for chaoslib and tied to a guarantee."""

import json
from pathlib import Path

import pytest
from chaoslib.experiment import ensure_experiment_is_valid

from gauntlet.catalogue import load_catalogue

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
FILES = sorted(EXPERIMENTS.glob("*.json"))
EXPECTED = [f"RES-{i:02d}" for i in range(1, 11)] + [
    f"PART-{i:02d}" for i in range(1, 5)
]


def load(path):
    return json.loads(path.read_text())


def guarantee_tag(experiment):
    known = set(load_catalogue().ids)
    return [t for t in experiment["tags"] if t in known]


def test_there_is_one_experiment_per_resilience_and_partition_guarantee():
    tags = sorted(tuple(guarantee_tag(load(p))) for p in FILES)
    assert tags == sorted((gid,) for gid in EXPECTED)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_experiment_passes_chaoslib_validation(path):
    ensure_experiment_is_valid(load(path))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_experiment_runs_anywhere_through_env_configuration(path):
    experiment = load(path)
    config = experiment["configuration"]
    assert config["gauntlet_node_access"] == {
        "type": "env",
        "key": "KUBE_GAUNTLET_NODE_ACCESS",
        "default": "lab",
    }
    assert config["gauntlet_run_id"]["key"] == "KUBE_GAUNTLET_RUN_ID"
    probes = experiment["steady-state-hypothesis"]["probes"]
    assert probes and all("tolerance" in p for p in probes)
    last = experiment["rollbacks"][-1]["provider"]
    assert (last["module"], last["func"]) == (
        "gauntlet.chaos.faults.rollbacks",
        "rollback_faults",
    )
