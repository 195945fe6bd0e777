"""``gauntlet experiment run``: usage errors and dry runs, no cluster."""

import subprocess
import sys
from pathlib import Path

GAUNTLET = Path(sys.executable).parent / "gauntlet"
PROJECT = Path(__file__).resolve().parents[2]
EXPERIMENT = PROJECT / "experiments" / "res-07-apiserver-loss.json"
KUBECONFIG = """\
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


def gauntlet(tmp_path, *args):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "KUBE_GAUNTLET_STATE": str(tmp_path / "state"),
        "KUBE_GAUNTLET_PROJECT": str(PROJECT),
    }
    return subprocess.run(
        [str(GAUNTLET), "experiment", "run", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def one_line_error(done, fragment):
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gauntlet: error: experiment ")
    assert fragment in lines[0]


def test_a_file_that_is_not_json_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "x"')
    one_line_error(gauntlet(tmp_path, str(bad)), "not JSON")


def test_an_invalid_experiment_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "x", "description": "y"}')
    one_line_error(gauntlet(tmp_path, str(bad)), "requires a method")


def test_a_dry_run_lists_the_activities_without_a_cluster(tmp_path):
    done = gauntlet(
        tmp_path,
        str(EXPERIMENT),
        "--kubeconfig",
        str(tmp_path / "kubeconfig"),
        "--dry-run",
    )
    assert done.returncode == 0, done.stderr
    assert "(valid) on nowhere" in done.stdout
    assert "stop_component" in done.stdout
    assert "rollback_faults" in done.stdout


def test_a_real_run_needs_the_destructive_opt_in(tmp_path):
    done = gauntlet(
        tmp_path, str(EXPERIMENT), "--kubeconfig", str(tmp_path / "kubeconfig")
    )
    assert done.returncode == 2
    assert "--allow-destructive" in done.stderr
    assert "Traceback" not in done.stderr
