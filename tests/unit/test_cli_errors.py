"""Usage and environment errors: exit 2, one line, no traceback.

Runs the installed ``gauntlet`` script as a subprocess, the way a user or
CI does; none of these cases may need or touch a cluster.
"""

import pytest
from cli_helpers import assert_one_line_error, gauntlet, write_kubeconfig


@pytest.fixture
def kubeconfig(tmp_path):
    return write_kubeconfig(tmp_path)


def test_unknown_profile(tmp_path):
    done = gauntlet(tmp_path, "run", "--profile", "nope")
    assert_one_line_error(
        done,
        "unknown profile 'nope'",
        "gate, gameday, preupgrade, postupgrade, load",
    )


def test_missing_kubeconfig(tmp_path):
    missing = tmp_path / "absent.yaml"
    done = gauntlet(
        tmp_path, "run", "--profile", "gate", "--kubeconfig", str(missing)
    )
    assert_one_line_error(done, f"kubeconfig {missing} does not exist")


def test_malformed_kubeconfig(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters: [\n  - name: a\n")
    done = gauntlet(
        tmp_path, "run", "--profile", "gate", "--kubeconfig", str(bad)
    )
    assert_one_line_error(done, f"kubeconfig {bad} is malformed")


def test_unknown_context(tmp_path, kubeconfig):
    done = gauntlet(
        tmp_path,
        "run",
        "--profile",
        "gate",
        "--kubeconfig",
        str(kubeconfig),
        "--context",
        "prod",
    )
    assert_one_line_error(done, "no context 'prod'", "nowhere")


def test_unreachable_api_server(tmp_path, kubeconfig):
    done = gauntlet(
        tmp_path, "run", "--profile", "gate", "--kubeconfig", str(kubeconfig)
    )
    assert_one_line_error(
        done, "cannot reach the API server at https://127.0.0.1:1"
    )


def test_gameday_without_allow_destructive(tmp_path, kubeconfig):
    done = gauntlet(
        tmp_path, "run", "--profile", "gameday", "--kubeconfig", str(kubeconfig)
    )
    assert_one_line_error(
        done, "profile gameday is destructive", "--allow-destructive"
    )


def test_gameday_naming_another_cluster(tmp_path, kubeconfig):
    done = gauntlet(
        tmp_path,
        "run",
        "--profile",
        "gameday",
        "--kubeconfig",
        str(kubeconfig),
        "--allow-destructive",
        "prod",
    )
    assert_one_line_error(done, "'prod'", "'nowhere'")
