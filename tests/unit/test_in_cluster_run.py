"""``gauntlet run --in-cluster``: a run inside a pod, as a CronJob starts it.

The target is the pod's ServiceAccount, never a kubeconfig and never the
lab; ``--context`` only names the cluster (reports, the opt-in). Outside
a pod the run stops with one line before anything else happens.
"""

import argparse

import pytest
from cli_helpers import assert_one_line_error, gauntlet

from gauntlet.cli import run_cmd
from gauntlet.cli.targeting import resolve_target
from gauntlet.cluster.client import ClusterTarget
from gauntlet.errors import UsageError


def args(**kw):
    base = {
        "in_cluster": True,
        "kubeconfig": None,
        "context": None,
        "lab": False,
    }
    return argparse.Namespace(**{**base, **kw})


def test_in_cluster_targets_the_pods_own_cluster_never_the_lab():
    target = resolve_target(args())
    assert target.cluster == ClusterTarget(in_cluster=True)
    assert target.context == "in-cluster"
    assert (target.lab, target.boot) == (False, False)


def test_the_context_names_the_cluster_in_cluster():
    assert resolve_target(args(context="prod-eu")).context == "prod-eu"


@pytest.mark.parametrize("extra", [{"kubeconfig": "/k"}, {"lab": True}])
def test_in_cluster_with_a_kubeconfig_or_the_lab_is_refused(extra):
    with pytest.raises(UsageError, match="--in-cluster uses the pod's"):
        resolve_target(args(**extra))


def test_pytest_is_told_in_cluster_and_given_no_kubeconfig(monkeypatch):
    env = run_cmd._environment(resolve_target(args(context="c")), "r1", "pod")
    assert env["KUBE_GAUNTLET_IN_CLUSTER"] == "1"
    assert env["KUBE_GAUNTLET_CONTEXT"] == "c"
    assert "KUBE_GAUNTLET_KUBECONFIG" not in env
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert ClusterTarget.from_env() == ClusterTarget(in_cluster=True)


def test_a_dry_run_in_cluster_lists_the_gate_without_a_cluster(tmp_path):
    done = gauntlet(
        tmp_path, "run", "--profile", "gate", "--in-cluster", "--dry-run"
    )
    assert done.returncode == 0, done.stderr
    assert (
        "profile gate (non-destructive) on in-cluster: 16 tests" in done.stdout
    )


def test_outside_a_pod_the_run_stops_with_one_line(tmp_path):
    done = gauntlet(tmp_path, "run", "--profile", "gate", "--in-cluster")
    assert_one_line_error(done, "in-cluster configuration unavailable")


def test_a_destructive_opt_in_must_name_the_in_cluster_name(tmp_path):
    done = gauntlet(
        tmp_path,
        "run",
        "--profile",
        "gameday",
        "--in-cluster",
        "--context",
        "prod-eu",
        "--allow-destructive",
        "staging",
    )
    assert_one_line_error(done, "names 'staging' but the target is")
