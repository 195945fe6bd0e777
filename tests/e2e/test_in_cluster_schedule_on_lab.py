"""The in-cluster CronJob runs the gate on the lab to completion.

The runner image is built and imported into the lab's nodes; the gate's
manifests come from the builder (``gauntlet schedule print``) and are
applied as they are, then a Job is made from the CronJob's jobTemplate,
as ``kubectl create job --from=cronjob/...`` does, rather than waiting
for the schedule. The Job must complete, its pod's log must end with the
run's summary path, and the summary.json on the reports volume must give
every selected guarantee a pass, for the context the manifest names.

The lab has no storage provisioner, so the test adds what a cluster
admin would: a PersistentVolume (hostPath, on this host's filesystem,
which every lab node shares) that the manifest's claim binds to. The
claim itself is the builder's, unchanged.

CI runs the gate narrowed to three read-only guarantees (``-k``); the
full gate in a pod, node checks through helper pods included, is in the
full matrix. Everything made is in the fault ledger first and removed at
the end; the run's own objects (its ledger mirror, the helper pods'
namespace) are removed by the run.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from gauntlet.cluster import workloads
from gauntlet.cluster.client import Cluster
from gauntlet.cluster.pod_exec import exec_in_pod
from gauntlet.faults.ledger import FaultLedger
from gauntlet.faults.made import make_recorded
from gauntlet.faults.mirror import configmap_name
from gauntlet.images import RUNNER_IMAGE
from gauntlet.lab.runner_import import ensure_runner_image
from gauntlet.profiles import get_profile
from gauntlet.runid import new_run_id
from gauntlet.schedule.manifests import (
    REPORTS_MOUNT,
    ScheduleSpec,
    reader_pod,
    schedule_manifests,
)
from gauntlet.wellknown import MANAGED_BY, RUN_LABEL, label_value

pytestmark = pytest.mark.lab_only

CONTEXT = "lab-in-cluster"
"""The name the manifest gives the cluster (reports, history)."""
CI_KEYWORD = "arch_05 or arch_12 or arch_14"
"""Three read-only guarantees: nodes (ARCH-05), every API server at its
own address (ARCH-12) and the leader leases (ARCH-14)."""
CI_GUARANTEES = {"ARCH-05", "ARCH-12", "ARCH-14"}
CI_JOB_TIMEOUT_S = 180
FULL_JOB_TIMEOUT_S = 1500
POLL_INTERVAL_S = 2.0
DELETE_TIMEOUT_S = 30
READER_START_S = 60
SHARED = "/var/tmp"
HOST_NETWORK = False
"""Pods on the lab reach the kubernetes Service and every API server's
and etcd member's own address (the nodes route the pod network); only a
process on this host cannot answer a pod (the load workers' case)."""


@pytest.fixture
def ledger() -> Iterator[FaultLedger]:
    made = FaultLedger(new_run_id("in-cluster-schedule-"))
    yield made
    made.rollback_all(objects=True)


@pytest.fixture
def reports_dir() -> Iterator[Path]:
    """The volume's directory on the host, writable by the runner's user.

    Under /var/tmp: lab nodes have /tmp and /run of their own, the rest
    of the host's filesystem is theirs too."""
    path = Path(tempfile.mkdtemp(prefix="kg-schedule-reports-", dir=SHARED))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_in_cluster_cronjob_runs_the_gate_to_completion(
    lab, cluster, ledger, reports_dir, record_property
):
    _run_the_gate_in_cluster(
        lab,
        cluster,
        ledger,
        reports_dir,
        record_property,
        keyword=CI_KEYWORD,
        timeout_s=CI_JOB_TIMEOUT_S,
        expected=CI_GUARANTEES,
    )


@pytest.mark.full_matrix(ci="the same CronJob running three guarantees")
def test_the_in_cluster_cronjob_runs_the_whole_gate_to_completion(
    lab, cluster, ledger, reports_dir, record_property
):
    _run_the_gate_in_cluster(
        lab,
        cluster,
        ledger,
        reports_dir,
        record_property,
        keyword=None,
        timeout_s=FULL_JOB_TIMEOUT_S,
        expected={f"ARCH-{i:02d}" for i in range(1, 17)},
    )


def _run_the_gate_in_cluster(
    lab,
    cluster: Cluster,
    ledger: FaultLedger,
    reports_dir: Path,
    record_property,
    *,
    keyword: str | None,
    timeout_s: float,
    expected: set[str],
) -> None:
    started = time.monotonic()
    imported = ensure_runner_image(lab)
    record_property("runner_image_bytes", imported.size_bytes)
    record_property("runner_image_build_s", round(imported.build_s, 1))
    record_property("runner_image_import_s", round(imported.import_s, 1))
    suffix = ledger.run_id[-6:].lower()
    spec = ScheduleSpec(
        get_profile("gate"),
        "0 * * * *",
        RUNNER_IMAGE,
        namespace=f"kg-schedule-{suffix}",
        context=CONTEXT,
        keyword=keyword,
        pull_policy="Never",
        host_network=HOST_NETWORK,
    )
    manifests = schedule_manifests(spec)
    with contextlib.ExitStack() as stack:
        dynamic = DynamicClient(cluster.api)  # type: ignore[no-untyped-call]
        volume = _volume_for(spec, manifests, reports_dir, ledger.run_id)
        make_recorded(stack, ledger, cluster, dynamic, volume, DELETE_TIMEOUT_S)
        for manifest in manifests:
            make_recorded(
                stack, ledger, cluster, dynamic, manifest, DELETE_TIMEOUT_S
            )
        job = _job_from_cronjob(cluster, spec, suffix)
        make_recorded(stack, ledger, cluster, dynamic, job, DELETE_TIMEOUT_S)
        applied = time.monotonic()
        succeeded, log = _wait_job_done(cluster, spec.namespace, job, timeout_s)
        ran = time.monotonic() - applied
        record_property("in_cluster_job_s", round(ran, 1))
        print(
            f"runner image {imported.size_bytes / 1e6:.0f} MB (build "
            f"{imported.build_s:.1f}s, import {imported.import_s:.1f}s into "
            f"{list(imported.imported_into)}); the Job ran {ran:.0f}s"
        )
        assert succeeded, f"the Job did not complete:\n{log}"
        run_id, summary_path = _run_of(log)
        on_volume = reports_dir / Path(summary_path).relative_to(REPORTS_MOUNT)
        summary = json.loads(on_volume.read_text())
        reader = reader_pod(spec)
        make_recorded(stack, ledger, cluster, dynamic, reader, DELETE_TIMEOUT_S)
        read = _read_in(cluster, reader, summary_path)
        assert json.loads(read) == summary, "the reader saw another file"
    print(f"{time.monotonic() - started:.0f}s in all")
    verdicts = {g["guarantee"]: g["verdict"] for g in summary["guarantees"]}
    print(f"verdicts in the pod: {verdicts}")
    assert set(verdicts) == expected, verdicts
    assert set(verdicts.values()) == {"pass"}, (verdicts, log[-3000:])
    assert (summary["run_id"], summary["context"]) == (run_id, CONTEXT)
    assert summary["profile"] == "gate"
    assert (reports_dir / run_id / "junit.xml").is_file()
    _assert_removed(cluster, spec, run_id)


def _volume_for(
    spec: ScheduleSpec,
    manifests: list[dict[str, Any]],
    directory: Path,
    run_id: str,
) -> dict[str, Any]:
    """A PersistentVolume on ``directory`` reserved for the manifest's
    claim (the lab has no provisioner)."""
    claim = next(m for m in manifests if m["kind"] == "PersistentVolumeClaim")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"{spec.namespace}-reports",
            "labels": {**MANAGED_BY, RUN_LABEL: label_value(run_id)},
        },
        "spec": {
            "capacity": claim["spec"]["resources"]["requests"],
            "accessModes": claim["spec"]["accessModes"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "claimRef": {
                "namespace": spec.namespace,
                "name": claim["metadata"]["name"],
            },
            "hostPath": {"path": str(directory), "type": "Directory"},
        },
    }


def _job_from_cronjob(
    cluster: Cluster, spec: ScheduleSpec, suffix: str
) -> dict[str, Any]:
    """What ``kubectl create job --from=cronjob/NAME`` makes: the
    CronJob's jobTemplate as the API server stored it, owned by it."""
    batch = client.BatchV1Api(cluster.api)
    stored = batch.read_namespaced_cron_job(spec.name, spec.namespace)
    template = cluster.api.sanitize_for_serialization(stored.spec.job_template)
    meta = template.get("metadata") or {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"{spec.name}-manual-{suffix}",
            "namespace": spec.namespace,
            "labels": meta.get("labels") or {},
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": spec.name,
                    "uid": stored.metadata.uid,
                    "controller": True,
                }
            ],
        },
        "spec": template["spec"],
    }


def _wait_job_done(
    cluster: Cluster, namespace: str, job: dict[str, Any], timeout_s: float
) -> tuple[bool, str]:
    """Whether the Job completed, and its pod's log (with the pod's
    state when it has no log)."""
    batch = client.BatchV1Api(cluster.api)
    name = job["metadata"]["name"]
    deadline = time.monotonic() + timeout_s
    done = False
    while time.monotonic() < deadline:
        status = batch.read_namespaced_job(name, namespace).status
        if status.succeeded or status.failed:
            done = bool(status.succeeded)
            break
        time.sleep(POLL_INTERVAL_S)
    core = cluster.core()
    pods = core.list_namespaced_pod(
        namespace, label_selector=f"job-name={name}"
    ).items
    if not pods:
        return done, f"no pod of Job {name} (timeout {timeout_s:.0f}s)"
    pod = pods[0]
    try:
        log = core.read_namespaced_pod_log(pod.metadata.name, namespace)
    except ApiException as exc:
        log = f"no log ({exc.status} {exc.reason})"
    if done:
        return done, log
    events = core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={pod.metadata.name}"
    ).items
    seen = "\n".join(f"{e.type} {e.reason}: {e.message}" for e in events)
    return done, f"{log}\npod phase {pod.status.phase}; events:\n{seen}"


def _read_in(cluster: Cluster, pod: dict[str, Any], path: str) -> str:
    """``path`` as the reports reader pod reads it (``kubectl exec``)."""
    name, namespace = pod["metadata"]["name"], pod["metadata"]["namespace"]
    workloads.wait_pod_running(cluster.core(), namespace, name, READER_START_S)
    script = f"print(open({path!r}).read(), end='')"
    result = exec_in_pod(
        cluster.core(), namespace, name, ["python3", "-c", script]
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _run_of(log: str) -> tuple[str, str]:
    """The run id and the summary path the run printed."""
    run = re.search(r"\brun (\S+): profile gate on ", log)
    summary = re.search(r"^summary: (\S+)$", log, re.MULTILINE)
    assert run and summary, f"no run id or summary in the log:\n{log}"
    return run.group(1), summary.group(1)


def _assert_removed(cluster: Cluster, spec: ScheduleSpec, run_id: str) -> None:
    """The run removed its ledger mirror; the block removed the
    cluster-scoped objects. The namespace and the volume are going:
    a PersistentVolume waits for its claim, the claim for its namespace."""
    core, rbac = cluster.core(), cluster.rbac()
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map(configmap_name(run_id), "kube-system")
    assert gone.value.status == 404
    for read in (rbac.read_cluster_role, rbac.read_cluster_role_binding):
        with pytest.raises(ApiException) as gone:
            read(spec.name)
        assert gone.value.status == 404
    for read, name in (
        (core.read_persistent_volume, f"{spec.namespace}-reports"),
        (core.read_namespace, spec.namespace),
    ):
        try:
            left = read(name)
        except ApiException as exc:
            assert exc.status == 404, exc
            continue
        assert left.metadata.deletion_timestamp is not None, name
