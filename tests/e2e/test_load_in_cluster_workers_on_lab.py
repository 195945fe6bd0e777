"""In-cluster Locust workers drive the lab's API for the runner's master.

The runner image (this host's Python, Locust and gauntlet) is built and
imported into the lab's nodes; the master runs here with no local worker,
listening on the host end of the lab bridge, and a Job of two pods joins
it as ``locust --worker``. The run must end with both workers' requests
merged into the master's tally, the Job complete, and every object the
test made removed.

The lab does not masquerade pod traffic leaving the pod network (a real
CNI does), so the host could not answer a pod's address: the worker pods
run in their node's network (``host_network``), as traffic from a node.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.checks.load.in_cluster_workers import running_workers
from gauntlet.cluster.client import Cluster
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.images import RUNNER_IMAGE
from gauntlet.lab.runner_import import ensure_runner_image
from gauntlet.lab.topology import BRIDGE_IP
from gauntlet.load.credentials import Source
from gauntlet.load.in_cluster import (
    COMPONENT,
    WorkerJob,
)
from gauntlet.load.plan import LoadPlan
from gauntlet.load.runner import start_load
from gauntlet.runid import new_run_id
from gauntlet.wellknown import MANAGED_BY, RUN_LABEL, label_value

pytestmark = pytest.mark.lab_only

WORKERS = 2
USERS = 4
LOAD_SECONDS = 20
JOB_DONE_TIMEOUT_S = 60
POLL_INTERVAL_S = 1.0
MIN_REQUESTS = 100
"""Hundreds are expected in 20 s from four users; the floor only rules
out a run whose workers never reached the API."""


@pytest.fixture
def ledger() -> Iterator[FaultLedger]:
    made = FaultLedger(new_run_id("in-cluster-"))
    yield made
    made.rollback_all(objects=True)


@pytest.fixture
def load_namespace(cluster: Cluster, ledger: FaultLedger) -> Iterator[str]:
    """A namespace of the run, recorded before it is made."""
    core = cluster.core()
    name = f"kg-load-icw-{ledger.run_id[-6:].lower()}"
    entry = ledger.record_object(
        f"Namespace {name}", kinds.delete_object(cluster, "Namespace", name)
    )
    labels = {**MANAGED_BY, RUN_LABEL: label_value(ledger.run_id)}
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=name, labels=labels)
        )
    )
    yield name
    ledger.remove(entry)


def test_in_cluster_workers_drive_the_load_for_the_runners_master(
    lab, cluster, ledger, load_namespace, record_property
):
    imported = ensure_runner_image(lab)
    record_property("runner_image_bytes", imported.size_bytes)
    record_property("runner_image_build_s", round(imported.build_s, 1))
    record_property("runner_image_import_s", round(imported.import_s, 1))
    plan = LoadPlan(
        users=USERS,
        seconds=LOAD_SECONDS,
        remote_workers=WORKERS,
        master_bind=BRIDGE_IP,
    )
    source = Source(lab.paths.kubeconfig, None)

    with contextlib.ExitStack() as stack:
        running = stack.enter_context(start_load(source, load_namespace, plan))
        job = WorkerJob(
            name="kg-load-workers",
            namespace=load_namespace,
            workers=WORKERS,
            master_host=BRIDGE_IP,
            master_port=running.master_port,
            image=RUNNER_IMAGE,
            run_id=ledger.run_id,
            # DEBUG: each worker logs the users it spawned
            env={**running.worker_env(), "LOCUST_LOGLEVEL": "DEBUG"},
            deadline_s=LOAD_SECONDS + 240,
            cpu="500m",
            memory="384Mi",
            host_network=True,
            pull_policy="Never",
        )
        manifests = stack.enter_context(running_workers(cluster, ledger, job))
        result = running.result()
        record = json.loads(running.run_file.read_text())
        succeeded, logs = _wait_job_done(cluster, job)

    rate = result.achieved_rate
    record_property("in_cluster_requests", result.requests)
    record_property("in_cluster_req_per_s", round(rate, 1))
    print(
        f"runner image {imported.size_bytes / 1e6:.0f} MB, build "
        f"{imported.build_s:.1f}s, import {imported.import_s:.1f}s into "
        f"{list(imported.imported_into)}; {result.requests} requests, "
        f"{rate:.1f} req/s from {WORKERS} in-cluster workers"
    )
    assert succeeded == WORKERS, f"job: {succeeded} pods succeeded\n{logs}"
    assert result.requests >= MIN_REQUESTS, (
        f"{result.requests} requests\n{logs}\n{running.log_tail()}"
    )
    assert len(record["workers"]) == WORKERS, record
    assert record["workers_unreported"] == [], record
    for pod, text in logs.items():
        assert "users spawned" in text, f"{pod} ran no users:\n{text}"
    _assert_removed(cluster, manifests)


def _wait_job_done(
    cluster: Cluster, job: WorkerJob
) -> tuple[int, dict[str, str]]:
    """Pods succeeded once the Job ends, and each worker pod's log."""
    batch = client.BatchV1Api(cluster.api)
    deadline = time.monotonic() + JOB_DONE_TIMEOUT_S
    status = batch.read_namespaced_job(job.name, job.namespace).status
    while time.monotonic() < deadline:
        status = batch.read_namespaced_job(job.name, job.namespace).status
        if (status.succeeded or 0) + (status.failed or 0) >= job.workers:
            break
        time.sleep(POLL_INTERVAL_S)
    core = cluster.core()
    pods = core.list_namespaced_pod(
        job.namespace,
        label_selector=f"app.kubernetes.io/component={COMPONENT}",
    ).items
    logs = {
        p.metadata.name: core.read_namespaced_pod_log(
            p.metadata.name, job.namespace, tail_lines=40
        )
        for p in pods
    }
    return int(status.succeeded or 0), logs


def _assert_removed(cluster: Cluster, manifests: list[dict]) -> None:
    """The cluster-scoped objects are gone (the namespaced ones go with
    the namespace, also removed)."""
    rbac = cluster.rbac()
    name = next(
        m["metadata"]["name"] for m in manifests if m["kind"] == "ClusterRole"
    )
    for read in (rbac.read_cluster_role, rbac.read_cluster_role_binding):
        with pytest.raises(ApiException) as gone:
            read(name)
        assert gone.value.status == 404
