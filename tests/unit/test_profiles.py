"""Profiles match the catalogue and keep disruptive tests out of safe runs."""

import pytest

from gauntlet.catalogue import PROFILE_NAMES
from gauntlet.errors import UsageError
from gauntlet.profiles import PROFILES, get_profile


def test_profiles_are_the_catalogue_profiles():
    assert tuple(PROFILES) == PROFILE_NAMES


@pytest.mark.parametrize(
    "name", ["gate", "preupgrade", "postupgrade", "conformance"]
)
def test_safe_profiles_exclude_disruptive_tests(name):
    spec = get_profile(name)
    assert not spec.destructive
    assert "not disruptive" in spec.markers


@pytest.mark.parametrize("name", ["gameday", "load"])
def test_breaking_profiles_are_destructive(name):
    assert get_profile(name).destructive


def test_every_profile_runs_suites_only():
    for spec in PROFILES.values():
        assert spec.paths
        assert all(p.startswith("suites/") for p in spec.paths)


def test_unknown_profile_lists_the_profiles():
    with pytest.raises(UsageError) as err:
        get_profile("gamedy")
    assert str(err.value) == (
        "unknown profile 'gamedy': choose one of gate, gameday, preupgrade, "
        "postupgrade, load, conformance"
    )
