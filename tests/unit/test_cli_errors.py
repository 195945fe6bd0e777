"""Usage and environment errors: exit 2, one line, no traceback.

Runs the installed ``gauntlet`` script as a subprocess, the way a user or
CI does; none of these cases may need or touch a cluster.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GAUNTLET = Path(sys.executable).parent / "gauntlet"
PROJECT = Path(__file__).resolve().parents[2]

UNREACHABLE = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Config
    clusters:
    - name: nowhere
      cluster: {server: "https://127.0.0.1:1"}
    users:
    - name: me
      user: {token: abc}
    contexts:
    - name: nowhere
      context: {cluster: nowhere, user: me}
    current-context: nowhere
    """
)


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(UNREACHABLE)
    return path


def gauntlet(tmp_path, *args):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "KUBE_GAUNTLET_STATE": str(tmp_path / "state"),
        "KUBE_GAUNTLET_PROJECT": str(PROJECT),
    }
    return subprocess.run(
        [str(GAUNTLET), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def assert_one_line_error(done, *fragments):
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gauntlet: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_profile(tmp_path):
    done = gauntlet(tmp_path, "run", "--profile", "nope")
    assert_one_line_error(
        done, "unknown profile 'nope'", "gate, gameday, preupgrade, load"
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
