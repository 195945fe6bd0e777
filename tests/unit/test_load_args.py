"""The load profile's options and settings: what a run may be asked for,
and the one-line refusals (exit 2) of what it may not, before anything
reaches the cluster."""

import argparse

import pytest
from cli_helpers import assert_one_line_error, gauntlet, write_kubeconfig

from gauntlet.cli.load_args import add_load_arguments, load_environment
from gauntlet.config import LOAD_SCENARIOS, SETTINGS
from gauntlet.errors import UsageError
from gauntlet.load.scenarios import SCENARIOS
from gauntlet.load.settings import (
    ENV_RATE,
    ENV_SCENARIO,
    ENV_WORKERS,
    env_rate,
    env_scenario,
    env_workers,
    fixed_rate_plan,
)
from gauntlet.profiles import get_profile

LOAD = get_profile("load")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_load_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_flags_become_the_variables_the_checks_read():
    args = parse(
        "--scenario", "read-heavy", "--load-rate", "120", "--load-workers", "2"
    )

    assert load_environment(args, LOAD) == {
        ENV_SCENARIO: "read-heavy",
        ENV_RATE: "120",
        ENV_WORKERS: "2",
    }
    assert load_environment(parse(), LOAD) == {}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--scenario", "storm"), "--scenario 'storm': unknown; one of"),
        (("--load-rate", "-5"), "--load-rate '-5': not a rate above 0"),
        (("--load-rate", "0"), "not a rate above 0"),
        (("--load-rate", "fast"), "not a rate above 0"),
        (("--load-rate", "nan"), "not a rate above 0"),
        (("--load-workers", "-1"), "not a whole number >= 0"),
        (("--load-workers", "1.5"), "not a whole number >= 0"),
        (("--load-workers", "500"), "more than 64 local processes"),
    ],
)
def test_bad_values_are_refused(argv, message):
    with pytest.raises(UsageError, match=message):
        load_environment(parse(*argv), LOAD)


def test_the_flags_belong_to_the_load_profile():
    with pytest.raises(UsageError, match="--scenario: only for --profile load"):
        load_environment(parse("--scenario", "default"), get_profile("gate"))


def test_the_settings_make_the_load_01_plan(monkeypatch):
    monkeypatch.setenv(ENV_SCENARIO, "write-heavy")
    monkeypatch.setenv(ENV_RATE, "80")
    monkeypatch.setenv(ENV_WORKERS, "2")
    monkeypatch.setenv("KUBE_GAUNTLET_LOAD_SECONDS", "12")

    plan = fixed_rate_plan()

    assert (plan.scenario, plan.rate, plan.workers, plan.seconds) == (
        "write-heavy",
        80.0,
        2,
        12,
    )
    assert plan.users == 10


def test_unset_settings_are_the_defaults(monkeypatch):
    for name in (ENV_SCENARIO, ENV_RATE, ENV_WORKERS):
        monkeypatch.delenv(name, raising=False)

    assert (env_scenario(), env_rate(), env_workers()) == ("default", 50.0, 0)


@pytest.mark.parametrize(
    ("name", "value", "read"),
    [
        (ENV_SCENARIO, "storm", env_scenario),
        (ENV_RATE, "-1", env_rate),
        (ENV_WORKERS, "two", env_workers),
    ],
)
def test_a_bad_setting_names_its_variable(monkeypatch, name, value, read):
    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError, match=name):
        read()


def test_a_bad_scenario_stops_gauntlet_run_with_exit_2(tmp_path):
    done = gauntlet(
        tmp_path,
        "run",
        "--profile",
        "load",
        "--kubeconfig",
        str(write_kubeconfig(tmp_path)),
        "--scenario",
        "storm",
    )

    assert_one_line_error(done, "--scenario 'storm': unknown")


def test_a_negative_rate_stops_gauntlet_run_with_exit_2(tmp_path):
    done = gauntlet(
        tmp_path,
        "run",
        "--profile",
        "load",
        "--kubeconfig",
        str(write_kubeconfig(tmp_path)),
        "--load-rate=-3",
    )

    assert_one_line_error(done, "--load-rate '-3': not a rate above 0")


def test_the_profile_file_offers_exactly_the_scenarios():
    by_key = {s.key: s for s in SETTINGS}

    assert LOAD_SCENARIOS == tuple(SCENARIOS)
    assert by_key["load.scenario"].choices == tuple(SCENARIOS)
    assert by_key["load.workers"].zero
