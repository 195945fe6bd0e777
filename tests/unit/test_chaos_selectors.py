"""Node selectors of the chaos extension (no cluster needed)."""

import pytest

from gauntlet.chaos import _select
from gauntlet.errors import UsageError


def test_a_plain_node_name_passes_through_without_the_api():
    config = {"gauntlet_run_id": "sel-1"}
    assert _select.resolve_node("w1", config) == "w1"


@pytest.mark.parametrize("selector", ["", "bogus:thing", "leader:etcd"])
def test_an_unknown_selector_is_refused_with_the_list(selector):
    with pytest.raises(UsageError) as caught:
        _select.resolve_node(selector, {"gauntlet_run_id": "sel-2"})
    assert "etcd-leader" in str(caught.value)


@pytest.mark.parametrize(
    "selector", ["worker-running:onlyns", "worker-running:/app=x"]
)
def test_a_malformed_worker_running_selector_is_refused(selector):
    with pytest.raises(UsageError, match="worker-running:<namespace>/"):
        _select.resolve_node(selector, {"gauntlet_run_id": "sel-3"})


def test_a_selector_resolves_once_per_run(monkeypatch):
    answers = iter(["cp1", "cp2", "cp3"])
    monkeypatch.setattr(_select, "_resolve", lambda *_a: next(answers))
    run_a, run_b = {"gauntlet_run_id": "sel-a"}, {"gauntlet_run_id": "sel-b"}
    assert _select.resolve_node("etcd-leader", run_a) == "cp1"
    assert _select.resolve_node("etcd-leader", run_a) == "cp1"
    assert _select.resolve_node("etcd-leader", run_b) == "cp2"
