"""``gauntlet experiment run``: usage errors and dry runs, no cluster."""

from cli_helpers import PROJECT, assert_one_line_error, write_kubeconfig
from cli_helpers import gauntlet as run_gauntlet

EXPERIMENT = PROJECT / "experiments" / "res-07-apiserver-loss.json"


def gauntlet(tmp_path, *args):
    write_kubeconfig(tmp_path)
    return run_gauntlet(tmp_path, "experiment", "run", *args)


def one_line_error(done, fragment):
    assert_one_line_error(done, fragment, prefix="gauntlet: error: experiment ")


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
