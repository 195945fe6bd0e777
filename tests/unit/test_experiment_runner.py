"""The experiment runner's verdict and its file handling (no cluster)."""

import json

import pytest

from gauntlet.chaos.runner import (
    judge,
    load_experiment_file,
    run_experiment_file,
)
from gauntlet.cluster.client import ClusterTarget
from gauntlet.errors import InvalidScenario


def experiment(probe_path, method=None):
    return {
        "title": "t",
        "description": "d",
        "steady-state-hypothesis": {
            "title": "file exists",
            "probes": [
                {
                    "type": "probe",
                    "name": "file-exists",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "os.path",
                        "func": "exists",
                        "arguments": {"path": str(probe_path)},
                    },
                }
            ],
        },
        "method": method or [],
    }


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBE_GAUNTLET_STATE", str(tmp_path / "state"))
    return tmp_path


def run(tmp_path, exp):
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(exp))
    target = ClusterTarget(tmp_path / "kubeconfig", "ctx")
    return run_experiment_file(path, target, "run-1", tmp_path / "r", "lab")


def test_steady_state_not_met_before_the_method_is_a_failure(state):
    marker = state / "never-created"
    touch = {
        "type": "action",
        "name": "touch",
        "provider": {
            "type": "python",
            "module": "os",
            "func": "mkdir",
            "arguments": {"path": str(marker)},
        },
    }
    result = run(state, experiment(marker, [touch]))
    assert result.verdict == "failed"
    assert result.reasons[0].startswith(
        "steady state not met before the method (method skipped): file-exists"
    )
    assert not marker.exists(), "the method must not have run"
    journal = json.loads(result.journal.read_text())
    assert journal["status"] == "completed" and journal["deviated"] is False


def test_a_met_steady_state_passes_and_writes_the_journal(state):
    result = run(state, experiment(state))
    assert result.verdict == "passed" and result.reasons == ()
    assert result.journal == state / "r" / "journal.json"
    assert json.loads(result.journal.read_text())["steady_states"]["before"][
        "steady_state_met"
    ]


def test_a_failed_method_activity_fails_the_run():
    journal = {
        "status": "completed",
        "deviated": False,
        "experiment": {},
        "steady_states": {"before": None},
        "run": [
            {
                "status": "failed",
                "activity": {"name": "minority-refuses-writes"},
                "exception": [
                    "Traceback (most recent call last):\n",
                    "ActivityFailed: write was accepted\n",
                ],
            }
        ],
        "rollbacks": [],
    }
    assert judge(journal) == (
        "failed",
        (
            "method activity minority-refuses-writes: "
            "ActivityFailed: write was accepted",
        ),
    )


def test_a_deviation_and_an_interruption_are_reported():
    base = {
        "experiment": {"steady-state-hypothesis": {"probes": [{}]}},
        "steady_states": {
            "before": {"steady_state_met": True, "probes": []},
            "after": {
                "steady_state_met": False,
                "probes": [
                    {
                        "activity": {"name": "api-writable"},
                        "tolerance_met": False,
                    }
                ],
            },
        },
    }
    verdict, reasons = judge({**base, "status": "completed", "deviated": True})
    assert verdict == "failed"
    assert reasons == ("steady state deviated after the method: api-writable",)
    assert judge({**base, "status": "interrupted"})[0] == "interrupted"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"title": "t"}', "experiment requires a description"),
    ],
)
def test_a_malformed_experiment_is_one_line(tmp_path, text, expected):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InvalidScenario) as caught:
        load_experiment_file(path)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_an_empty_journal_never_passes():
    assert judge({})[0] == "failed"
