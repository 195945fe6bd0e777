"""PART-03 catches a StatefulSet pod run twice: a "fencing" remediation
force-deletes the pods of every NotReady node (``kubectl delete pod
--force --grace-period=0``, the step the StatefulSet documentation warns
against). The cut-off worker keeps running the pod it cannot hear about,
while the StatefulSet starts its replacement on the other worker."""

from __future__ import annotations

import pytest
import urllib3
from arch_sabotage import RogueClient
from kubernetes.client.exceptions import ApiException

from gauntlet.checks.chaos.worker_partition import check_worker_partition
from gauntlet.cluster.client import Cluster
from gauntlet.cluster.workloads import node_is_ready
from gauntlet.errors import GuaranteeViolated

POLL_S = 1.0


class Fencer(RogueClient):
    """Force-deletes the namespace's pods on NotReady nodes, once a second."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        super().__init__(cluster, namespace)
        self.deleted: list[str] = []

    def _not_ready(self) -> set[str]:
        nodes = self.core.list_node().items
        return {n.metadata.name for n in nodes if not node_is_ready(n)}

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


@pytest.mark.full_matrix(
    ci=(
        "the partition family: the PART-02 and RES-05 split-brain "
        "sabotages; PART-03 passes in the gameday run"
    )
)
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
