"""The preupgrade and postupgrade options: what a run may be asked for,
and the one-line refusals of what it may not."""

import argparse

import pytest

from gauntlet.checks.upg.settings import (
    BASELINE_ENV,
    TARGET_VERSION_ENV,
    UPGRADE_COMMAND_ENV,
)
from gauntlet.cli.upgrade_args import (
    add_upgrade_arguments,
    check_target_against_server,
    upgrade_environment,
    upgrade_profile,
)
from gauntlet.errors import UsageError
from gauntlet.profiles import get_profile


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--allow-destructive")
    add_upgrade_arguments(parser)
    return parser.parse_args(list(argv))


def test_preupgrade_needs_a_target_version():
    with pytest.raises(UsageError, match="needs --target-version"):
        upgrade_profile(get_profile("preupgrade"), parse(), lab=True)


def test_a_target_that_is_no_version_is_refused_before_the_cluster():
    with pytest.raises(UsageError, match="'1.x' is not a Kubernetes version"):
        upgrade_profile(
            get_profile("preupgrade"), parse("--target-version", "1.x"), True
        )


def test_upgrade_options_belong_to_their_profile():
    with pytest.raises(UsageError, match="--target-version: only for"):
        upgrade_profile(
            get_profile("gate"), parse("--target-version", "v1.37.2"), True
        )
    with pytest.raises(UsageError, match="--baseline: only for"):
        upgrade_profile(get_profile("gate"), parse("--baseline", "b"), True)


def test_postupgrade_needs_an_existing_baseline(tmp_path):
    with pytest.raises(UsageError, match="needs --baseline"):
        upgrade_profile(get_profile("postupgrade"), parse(), True)
    with pytest.raises(UsageError, match="no such file"):
        upgrade_profile(
            get_profile("postupgrade"),
            parse("--baseline", str(tmp_path / "none.json")),
            True,
        )


def test_a_file_that_is_no_baseline_stops_the_run_before_it_starts(tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline.write_text("{}")
    args = parse("--baseline", str(baseline))
    with pytest.raises(UsageError, match=str(baseline)):
        upgrade_profile(get_profile("postupgrade"), args, True)
    env = upgrade_environment(args, get_profile("postupgrade"), None)
    assert env == {BASELINE_ENV: str(baseline)}


def test_a_rehearsal_is_destructive_and_needs_the_opt_in():
    args = parse("--target-version", "v1.37.2", "--rehearse")
    with pytest.raises(UsageError, match="--allow-destructive"):
        upgrade_profile(get_profile("preupgrade"), args, lab=True)
    args = parse(
        "--target-version", "v1.37.2", "--rehearse",
        "--allow-destructive", "kube-gauntlet-lab",
    )  # fmt: skip
    profile = upgrade_profile(get_profile("preupgrade"), args, lab=True)
    assert profile.destructive
    assert profile.markers == ""


def test_a_rehearsal_of_another_cluster_needs_its_upgrade_command():
    args = parse(
        "--target-version", "v1.31.0", "--rehearse",
        "--allow-destructive", "prod",
    )  # fmt: skip
    with pytest.raises(UsageError, match="needs --upgrade-command"):
        upgrade_profile(get_profile("preupgrade"), args, lab=False)


def test_the_lab_rehearses_its_own_upgrade_to_a_release_it_can_run():
    args = parse("--target-version", "v1.37.2", "--rehearse")
    env = upgrade_environment(args, get_profile("preupgrade"), ("v1.37.2",))
    assert env[TARGET_VERSION_ENV] == "v1.37.2"
    assert env[UPGRADE_COMMAND_ENV].endswith("lab upgrade --to v1.37.2")
    args = parse("--target-version", "v1.38.0", "--rehearse")
    with pytest.raises(UsageError, match="the lab can run v1.37.2"):
        upgrade_environment(args, get_profile("preupgrade"), ("v1.37.2",))


@pytest.mark.parametrize(
    ("server", "target", "why"),
    [
        ("v1.37.2", "v1.36.3", "is a downgrade"),
        ("v1.37.2", "v1.37.2", "already runs it"),
        ("v1.37.2", "v2.0.0", "within one major version"),
    ],
)
def test_the_target_must_be_an_upgrade_of_the_server(server, target, why):
    args = parse("--target-version", target)
    with pytest.raises(UsageError, match=why):
        check_target_against_server(args, get_profile("preupgrade"), server)


def test_skipping_minors_is_left_to_upg_01():
    args = parse("--target-version", "v1.39.0")
    found = check_target_against_server(
        args, get_profile("preupgrade"), "v1.36.3"
    )
    assert str(found) == "v1.39.0"
