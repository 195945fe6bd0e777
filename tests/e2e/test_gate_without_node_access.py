"""Against a cluster that refuses privileged pods, the gate still
completes: the checks that need node access skip with the reason, the
others run and pass.

The refusal is Pod Security admission (``enforce=baseline``) on the pod
backend's namespace, as on a cluster whose admins forbid privileged pods.
"""

from __future__ import annotations

import pytest
from e2e_cli import gauntlet, summary_of
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.nodes.helper_pods import IMPOSSIBLE

NAMESPACE = "kube-gauntlet-system"
ENFORCE = "pod-security.kubernetes.io/enforce"


@pytest.fixture
def privileged_pods_refused(cluster):
    core = cluster.core()
    try:
        core.read_namespace(NAMESPACE)
        created = False
    except ApiException as exc:
        assert exc.status == 404, exc
        core.create_namespace({"metadata": {"name": NAMESPACE}})
        created = True
    core.patch_namespace(
        NAMESPACE, {"metadata": {"labels": {ENFORCE: "baseline"}}}
    )
    yield
    if created:
        core.delete_namespace(NAMESPACE)
        # Gone before the next test (or a rerun) looks: a namespace still
        # terminating would be taken as one the admins made.
        progress.wait_until(
            f"namespace {NAMESPACE} to be deleted",
            lambda: _gone(core),
            120,
            1,
        )
    else:
        core.patch_namespace(
            NAMESPACE, {"metadata": {"labels": {ENFORCE: None}}}
        )


def test_gate_skips_node_checks_with_the_reason_and_runs_the_rest(
    lab, privileged_pods_refused
):
    proc = gauntlet("run", "--profile", "gate", "--node-access", "pod")
    out = (proc.stdout + proc.stderr)[-4000:]
    summary = summary_of(proc)
    results = {g["guarantee"]: g for g in summary["guarantees"]}
    verdicts = {k: g["verdict"] for k, g in results.items()}
    assert len(verdicts) == 16, verdicts
    assert proc.returncode == 0, out
    assert set(verdicts.values()) <= {"pass", "skip"}, verdicts
    refused = {
        k
        for k, g in results.items()
        if g["verdict"] == "skip" and IMPOSSIBLE in g["message"]
    }
    assert refused, f"no check skipped for lack of node access: {verdicts}"
    for key in refused:
        assert "privileged pod is refused" in results[key]["message"], results[
            key
        ]
    passed = {k for k, v in verdicts.items() if v == "pass"}
    assert len(passed) >= 8, (
        f"too few checks ran without node access: {verdicts}"
    )


def _gone(core) -> bool:
    try:
        core.read_namespace(NAMESPACE)
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False
