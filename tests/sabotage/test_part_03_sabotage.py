"""PART-03 catches a StatefulSet pod run twice: a "fencing" remediation
force-deletes the pods of every NotReady node (``kubectl delete pod
--force --grace-period=0``, the step the StatefulSet documentation warns
against). The cut-off worker keeps running the pod it cannot hear about,
while the StatefulSet starts its replacement on the other worker."""

from __future__ import annotations

import threading

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from gauntlet.checks.chaos.nodes import check_worker_partition
from gauntlet.cluster.client import Cluster
from gauntlet.errors import GuaranteeViolated

POLL_S = 1.0


class Fencer:
    """Force-deletes the namespace's pods on NotReady nodes, once a second."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.core = cluster.core()
        self.namespace = namespace
        self.deleted: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Fencer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "the fencer did not stop"

    def _not_ready(self) -> set[str]:
        return {
            node.metadata.name
            for node in self.core.list_node().items
            if not any(
                c.type == "Ready" and c.status == "True"
                for c in node.status.conditions or []
            )
        }

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                down = self._not_ready()
                for pod in self.core.list_namespaced_pod(self.namespace).items:
                    if pod.spec.node_name in down:
                        self.core.delete_namespaced_pod(
                            pod.metadata.name,
                            self.namespace,
                            grace_period_seconds=0,
                        )
                        self.deleted.append(pod.metadata.name)
            except (ApiException, urllib3.exceptions.HTTPError, OSError):
                continue  # gone already, or a broken connection: next round


@pytest.mark.disruptive
def test_a_pod_run_twice_after_a_forced_delete_is_reported(
    cluster, lab_check, ledger, restore
):
    fencer = Fencer(cluster, lab_check.namespace).start()
    restore.callback(fencer.stop)

    with pytest.raises(GuaranteeViolated) as caught:
        check_worker_partition(lab_check, ledger)

    message = str(caught.value)
    assert fencer.deleted, "the fencer deleted nothing"
    assert "running on two workers at once: " in message, message
    assert "StatefulSet pods changed: " in message, message
