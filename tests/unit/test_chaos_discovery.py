"""The Chaos Toolkit extension: every exported activity is discovered."""

import importlib
import inspect
from pathlib import Path

import pytest

import gauntlet.chaos
from gauntlet.chaos import ACTIVITY_MODULES, activity_modules, discover

PACKAGE = Path(gauntlet.chaos.__file__).parent


def _modules_on_disk():
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.stem in ACTIVITY_MODULES:
            rel = path.relative_to(PACKAGE).with_suffix("")
            found.append(("gauntlet.chaos." + ".".join(rel.parts), path.stem))
    return sorted(found)


EXPORTED = [
    (module, name, ACTIVITY_MODULES[leaf])
    for module, leaf in _modules_on_disk()
    for name in importlib.import_module(module).__all__
]


@pytest.fixture(scope="module")
def discovered():
    activities = discover(discover_system=False)["activities"]
    return {(a["mod"], a["name"]): a for a in activities}


def test_the_walk_finds_every_activity_module_on_disk():
    on_disk = [(m, ACTIVITY_MODULES[leaf]) for m, leaf in _modules_on_disk()]
    assert activity_modules() == on_disk
    assert len(on_disk) >= 8


@pytest.mark.parametrize(("module", "name", "kind"), EXPORTED)
def test_every_exported_activity_is_discovered_with_its_type(
    discovered, module, name, kind
):
    activity = discovered.get((module, name))
    assert activity is not None, f"{module}.{name} not discovered"
    assert activity["type"] == kind


@pytest.mark.parametrize(("module", "name", "kind"), EXPORTED)
def test_every_activity_documents_itself_and_ends_with_config_and_secrets(
    discovered, module, name, kind
):
    activity = discovered[(module, name)]
    assert activity["doc"], f"{name} has no docstring"
    assert activity.get("return_type") not in (None, "object"), name
    args = [a["name"] for a in activity["arguments"]]
    assert args[-2:] == ["configuration", "secrets"], args
    func = getattr(importlib.import_module(module), name)
    tail = list(inspect.signature(func).parameters.values())[-2:]
    assert all(p.default is None for p in tail)


def test_nothing_is_discovered_that_is_not_exported(discovered):
    assert sorted(discovered) == sorted((m, n) for m, n, _ in EXPORTED)


def test_rollback_modules_yield_actions(discovered):
    activity = discovered[
        ("gauntlet.chaos.faults.rollbacks", "rollback_faults")
    ]
    assert activity["type"] == "action"
