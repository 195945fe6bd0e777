"""The cluster profile file: checked strictly, overridden by the environment,
and in step with every variable the code reads."""

import re
from pathlib import Path

import pytest

from gauntlet.backends import KINDS
from gauntlet.checks.arch.ha import TOPOLOGIES
from gauntlet.checks.arch.pod_flow import STARTUP_SLO_ENV, startup_slo_p99_s
from gauntlet.cli.main import main
from gauntlet.cli.run_cmd import requested_node_access
from gauntlet.config import (
    INTERNAL_ENV,
    SETTINGS,
    load_profile,
    parse_profile,
    profile_environment,
)
from gauntlet.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "gauntlet.yaml"
DOCS = ROOT / "docs" / "config.md"
ENV_NAME = re.compile(r"\bKUBE_GAUNTLET_[A-Z0-9_]*[A-Z0-9]\b")


def _read_by_the_code() -> set[str]:
    """Every ``KUBE_GAUNTLET_*`` name spelled in src/, conftest.py, suites/."""
    files = [ROOT / "conftest.py", *(ROOT / "src").rglob("*.py")]
    files += (ROOT / "suites").rglob("*.py")
    return {name for f in files for name in ENV_NAME.findall(f.read_text())}


def test_every_variable_the_code_reads_is_in_the_schema_or_internal():
    known = {s.env for s in SETTINGS} | set(INTERNAL_ENV)
    missing = sorted(_read_by_the_code() - known)
    assert not missing, (
        "add to gauntlet.config.SETTINGS (and docs/config.md), or to "
        f"INTERNAL_ENV with the reason: {missing}"
    )


def test_the_schema_names_no_variable_the_code_does_not_read():
    stale = sorted({s.env for s in SETTINGS} - _read_by_the_code())
    assert not stale, f"read by nothing: {stale}"


def test_no_variable_is_both_a_setting_and_internal():
    assert not {s.env for s in SETTINGS} & set(INTERNAL_ENV)


def test_docs_describe_every_key_and_variable():
    text = DOCS.read_text()
    for setting in SETTINGS:
        assert f"`{setting.key}`" in text, setting.key
        assert f"`{setting.env}`" in text, setting.env
    for name in INTERNAL_ENV:
        assert f"`{name}`" in text, name


def test_the_example_file_is_valid_and_sets_every_key():
    values = load_profile(EXAMPLE)
    assert set(values) == {s.env for s in SETTINGS}


def test_choices_match_what_the_code_accepts():
    by_env = {s.env: s for s in SETTINGS}
    assert by_env["KUBE_GAUNTLET_HA_PROFILE"].choices == TOPOLOGIES
    assert by_env["KUBE_GAUNTLET_NODE_ACCESS"].choices == tuple(KINDS)


def test_values_become_the_variables_the_code_reads():
    values = parse_profile(
        "topology: {ha: dev}\n"
        "thresholds: {etcd_fsync_p99_ms: 12.5, pod_startup_p99_s: 8}\n"
        "load: {users: 4}\n",
        "gauntlet.yaml",
    )
    assert values == {
        "KUBE_GAUNTLET_HA_PROFILE": "dev",
        "KUBE_GAUNTLET_ETCD_FSYNC_P99_MS": "12.5",
        "KUBE_GAUNTLET_STARTUP_SLO_P99_S": "8",
        "KUBE_GAUNTLET_LOAD_USERS": "4",
    }


def test_an_empty_file_sets_nothing():
    assert parse_profile("", "gauntlet.yaml") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "thresholds: {etcd_fsync_p99: 10}\n",
            "gauntlet.yaml: unknown key 'thresholds.etcd_fsync_p99' (known: "
            "thresholds.etcd_fsync_p99_ms",
        ),
        ("tresholds: {}\n", "gauntlet.yaml: unknown key 'tresholds'"),
        (
            "thresholds: {etcd_fsync_p99_ms: fast}\n",
            "gauntlet.yaml: thresholds.etcd_fsync_p99_ms: expected a number, "
            "got 'fast'",
        ),
        (
            "load: {users: 2.5}\n",
            "load.users: expected a whole number, got 2.5",
        ),
        ("load: {seconds: true}\n", "load.seconds: expected a number"),
        ("load: {seconds: 0}\n", "load.seconds: expected more than 0"),
        (
            "thresholds: {etcd_db_quota_pct: 120}\n",
            "etcd_db_quota_pct: expected at most 100, got 120",
        ),
        (
            "topology: {ha: ha}\n",
            "topology.ha: expected one of production, dev, got 'ha'",
        ),
        ("images: {workload: 3}\n", "images.workload: expected a string"),
        ("images: quay.io/x\n", "gauntlet.yaml: images: expected a mapping"),
        ("- a\n- b\n", "gauntlet.yaml: expected a mapping of sections"),
        ("topology: [\n", "gauntlet.yaml: not valid YAML"),
    ],
)
def test_a_bad_file_is_one_error_naming_the_key(text, message):
    with pytest.raises(UsageError) as raised:
        parse_profile(text, "gauntlet.yaml")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_environment_overrides_the_file():
    values = {
        "KUBE_GAUNTLET_HA_PROFILE": "dev",
        "KUBE_GAUNTLET_LOAD_USERS": "4",
    }
    env = profile_environment(
        values, {"KUBE_GAUNTLET_HA_PROFILE": "production", "PATH": "/bin"}
    )
    assert env == {"KUBE_GAUNTLET_LOAD_USERS": "4"}


def test_an_empty_variable_counts_as_unset():
    values = {"KUBE_GAUNTLET_HA_PROFILE": "dev"}
    assert profile_environment(values, {"KUBE_GAUNTLET_HA_PROFILE": ""}) == (
        values
    )


def test_node_access_comes_from_the_flag_then_the_environment_then_the_file():
    from_file = {"KUBE_GAUNTLET_NODE_ACCESS": "pod"}
    env = {"KUBE_GAUNTLET_NODE_ACCESS": "lab"}
    assert requested_node_access("pod", from_file, env) == "pod"
    assert requested_node_access(None, from_file, env) == "lab"
    assert requested_node_access(None, from_file, {}) == "pod"
    assert requested_node_access(None, {}, {}) is None
    with pytest.raises(UsageError, match="KUBE_GAUNTLET_NODE_ACCESS='ssh'"):
        requested_node_access(None, {}, {"KUBE_GAUNTLET_NODE_ACCESS": "ssh"})


def test_gauntlet_run_with_a_bad_config_exits_2_before_any_cluster(
    tmp_path, capsys
):
    bad = tmp_path / "gauntlet.yaml"
    bad.write_text("thresholds:\n  etcd_fsync: 10\n")
    code = main(["run", "--profile", "gate", "--config", str(bad)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        f"gauntlet: error: {bad}: unknown key 'thresholds.etcd_fsync' "
        "(known: thresholds.etcd_fsync_p99_ms, thresholds.etcd_commit_p99_ms,"
        " thresholds.etcd_db_quota_pct, thresholds.pod_startup_p99_s)"
    ]


def test_gauntlet_run_with_a_missing_config_exits_2(tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    code = main(["run", "--profile", "gate", "--config", str(missing)])
    assert code == 2
    assert f"config file {missing} does not exist" in capsys.readouterr().err


def test_the_startup_slo_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv(STARTUP_SLO_ENV, raising=False)
    assert startup_slo_p99_s() == 5.0
    monkeypatch.setenv(STARTUP_SLO_ENV, "7.5")
    assert startup_slo_p99_s() == 7.5
    for bad in ("0", "-1", "slow", "nan"):
        monkeypatch.setenv(STARTUP_SLO_ENV, bad)
        with pytest.raises(UsageError, match=STARTUP_SLO_ENV):
            startup_slo_p99_s()
