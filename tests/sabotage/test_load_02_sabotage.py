"""LOAD-02 catches an API Priority and Fairness configuration that
starves the system while a tenant is ramped: a FlowSchema placed before
the node and controller schemas sends the kubelets' (``system:nodes``),
the controllers' and every ServiceAccount's traffic (the tenant's ramp
too) to one level with no seat of its own (``nominalConcurrencyShares``
0, no borrowing: one request at a time per server) that rejects what it
cannot serve at once, and a ServiceAccount in that level keeps that one
seat busy with LISTs that wait for a resourceVersion the store has not
reached (each holds the seat for the watch cache's 3 s wait). Node
Leases then stop being renewed (the node lifecycle controller, starved
too, cannot even mark the nodes NotReady): the check must name the
missed leases or the NotReady nodes.

Measured on the lab first: a level of one share (3 seats per server),
or of none, shared with the tenant's ramp alone did not starve the
kubelets: their renewals, retried on 429 by client-go, came every 10 s
while a third to a half of the ramp was shed.
"""

import threading
import time
from pathlib import Path

import pytest
import urllib3
import yaml
from control_plane_sabotage import wait_settled
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.checks.arch._apiservers import api_servers
from gauntlet.checks.load._tenant import as_body, tenant
from gauntlet.checks.load.overload import check_overload_is_shed
from gauntlet.cluster.workloads import node_is_ready
from gauntlet.errors import GuaranteeViolated

NAME = "kg-sabotage-starve-system"
PRECEDENCE = 200
"""After leader election (100): the lab's elected components keep their
leases; before node-high (400), system-nodes (500) and the controllers
(800), which it takes over."""
READY_TIMEOUT_S = 180.0
HOGS_PER_SERVER = 3
FUTURE_RV = "999999999999"
"""A resourceVersion the store has not reached: a LIST waits for it."""


def _level() -> dict:
    return {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": NAME},
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": 0,
                "lendablePercent": 0,
                "borrowingLimitPercent": 0,
                "limitResponse": {"type": "Reject"},
            },
        },
    }


def _schema() -> dict:
    return {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": NAME},
        "spec": {
            "priorityLevelConfiguration": {"name": NAME},
            "matchingPrecedence": PRECEDENCE,
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [
                {
                    "subjects": [
                        {"kind": "Group", "group": {"name": "system:nodes"}},
                        {
                            "kind": "User",
                            "user": {"name": "system:kube-controller-manager"},
                        },
                        {
                            "kind": "Group",
                            "group": {"name": "system:serviceaccounts"},
                        },
                    ],
                    "resourceRules": [
                        {
                            "verbs": ["*"],
                            "apiGroups": ["*"],
                            "resources": ["*"],
                            "clusterScope": True,
                            "namespaces": ["*"],
                        }
                    ],
                    "nonResourceRules": [
                        {"verbs": ["*"], "nonResourceURLs": ["*"]}
                    ],
                }
            ],
        },
    }


def _delete(call, name: str) -> None:
    try:
        call(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def _wait_nodes_ready(cluster) -> None:
    core = cluster.core()

    def ready() -> bool:
        nodes = core.list_node().items
        return bool(nodes) and all(node_is_ready(n) for n in nodes)

    progress.wait_until(
        "every node Ready again", ready, READY_TIMEOUT_S, 2.0, quiet=True
    )


class SeatHogs:
    """Threads that keep each server's one seat of the level busy."""

    def __init__(self, cluster, kubeconfig: Path, namespace: str) -> None:
        user = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]
        self.headers = {"Authorization": f"Bearer {user['token']}"}
        cfg = cluster.api.configuration
        self.pool = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED",
            ca_certs=cfg.ssl_ca_cert,
            assert_hostname=False,
            retries=False,
            timeout=10.0,
            maxsize=HOGS_PER_SERVER,
        )
        self.path = (
            f"/api/v1/namespaces/{namespace}/configmaps?resourceVersion="
            f"{FUTURE_RV}&resourceVersionMatch=NotOlderThan"
        )
        self.stop = threading.Event()
        self.threads = []
        self.sent = 0

    def start(self, urls: list[str]) -> None:
        for url in urls:
            for _ in range(HOGS_PER_SERVER):
                thread = threading.Thread(
                    target=self._run, args=(url,), daemon=True
                )
                thread.start()
                self.threads.append(thread)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=12)
        self.pool.clear()

    def _run(self, url: str) -> None:
        while not self.stop.is_set():
            try:
                self.pool.request("GET", url + self.path, headers=self.headers)
            except urllib3.exceptions.HTTPError:
                self.stop.wait(0.1)
            self.sent += 1


@pytest.mark.disruptive
def test_a_flow_schema_that_starves_nodes_fails_load_02(
    cluster, lab_check, ledger, restore
):
    began = time.monotonic()
    api = client.FlowcontrolApiserverV1Api(cluster.api)
    restore.callback(wait_settled, cluster, lab_check)  # runs last
    restore.callback(_wait_nodes_ready, cluster)
    restore.callback(_delete, api.delete_priority_level_configuration, NAME)
    api.create_priority_level_configuration(as_body(_level()))
    restore.callback(_delete, api.delete_flow_schema, NAME)  # first
    api.create_flow_schema(as_body(_schema()))
    hog = restore.enter_context(
        tenant(
            cluster,
            ledger,
            lab_check.namespace,
            f"{NAME}-{lab_check.namespace}",
            account="kg-sabotage-hog",
        )
    )
    hogs = SeatHogs(cluster, hog.kubeconfig, lab_check.namespace)
    restore.callback(hogs.close)
    hogs.start([s.url for s in api_servers(cluster, lab_check.topology)])

    try:
        check_overload_is_shed(lab_check, ledger)
    except GuaranteeViolated as caught:
        message = str(caught)
        progress.say(f"LOAD-02 under the sabotage: {message}")
        assert "Lease not renewed" in message or "NotReady during" in message, (
            message
        )
    else:
        pytest.fail(
            "a FlowSchema starving node traffic still passed LOAD-02: "
            f"{lab_check.measured}"
        )
    restore.close()
    progress.say(
        f"LOAD-02 sabotage took {time.monotonic() - began:.0f}s "
        f"({hogs.sent} seat-holding LISTs)"
    )
