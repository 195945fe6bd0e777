"""UPG-02 catches an object stored through an API that the target removes.

A v1.36 API server serves nothing by default that v1.37 removes (beta
APIs have been off by default since v1.24), so the sabotage does what an
operator does to keep an old beta: one API server of the old lab is
restarted with ``--runtime-config=storage.k8s.io/v1beta1=true`` (one is
enough: an HA control plane mid-change, and faster than all three), and a
VolumeAttributesClass is created through it with
``storage.k8s.io/v1beta1`` (removed in v1.37, replacement
``storage.k8s.io/v1``). The check must name the object, the manager that
wrote it, the removed API and its replacement, and the API server that
served the request; restored, the old lab passes again.
"""

from __future__ import annotations

import json
import os

import pytest
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.checks.arch._apiservers import (
    ApiServer,
    api_pool,
    api_servers,
    ask,
    bearer,
)
from gauntlet.checks.upg.removed_apis import check_no_removed_apis
from gauntlet.cluster.client import Cluster
from gauntlet.errors import GuaranteeViolated
from gauntlet.kube_version import parse_version
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.versions import CURRENT
from gauntlet.observe.endpoints import endpoint_client

TARGET = parse_version(CURRENT.kubernetes)
REMOVED = "storage.k8s.io/v1beta1"
FLAGS: dict[str, str | None] = {"runtime-config": f"{REMOVED}=true"}
MANAGER = "kg-upg02-sabotage"
READY_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 1.0


def test_an_object_stored_through_an_api_the_target_removes_is_reported(
    old_lab, old_cluster, old_topology, old_check, restore
):
    nodes = LabNodeAccess(old_lab)
    servers = api_servers(old_cluster, old_topology)
    assert servers, "no API server found on the old lab"
    server = servers[0]
    old = nodes.set_flags(server.name, "kube-apiserver", FLAGS)
    restore.callback(_restart, nodes, old_cluster, server, old)
    _wait_ready(old_cluster, server, serving=REMOVED)

    name = f"kg-upg02-{os.urandom(3).hex()}"
    through = endpoint_client(old_cluster, server.url)
    restore.callback(through.close)
    _create_volume_attributes_class(through, name)
    restore.callback(_delete_volume_attributes_class, old_cluster, name)

    stored = (
        rf"VolumeAttributesClass {name} is written through "
        rf"storage\.k8s\.io/v1beta1 \(removed in v1\.37, replacement "
        rf"storage\.k8s\.io/v1\) by {MANAGER}"
    )
    with pytest.raises(GuaranteeViolated, match=stored) as caught:
        check_no_removed_apis(old_check, TARGET)
    message = str(caught.value)
    assert (
        "has served volumeattributesclasses through storage.k8s.io/v1beta1"
        " since it started; removed in v1.37 (replacement storage.k8s.io/v1)"
    ) in message, message

    restore.close()
    check_no_removed_apis(old_check.fresh(), TARGET)


def _restart(
    nodes: LabNodeAccess, cluster: Cluster, server: ApiServer, argv: list[str]
) -> None:
    """One API server back on its own command line, ready before the next."""
    nodes.set_argv(server.name, "kube-apiserver", argv)
    _wait_ready(cluster, server)


def _wait_ready(
    cluster: Cluster, server: ApiServer, serving: str | None = None
) -> None:
    """Until ``server`` answers /readyz (and serves ``serving``)."""
    paths = ["/readyz"] + ([f"/apis/{serving}"] if serving else [])

    def answers() -> dict[str, int | None]:
        with api_pool(cluster, credentials=True) as pool:
            return {
                p: ask(pool, server, "GET", p, bearer(cluster)).status
                for p in paths
            }

    progress.wait_until(
        f"{server.label} ready" + (f", serving {serving}" if serving else ""),
        lambda: all(s == 200 for s in answers().values()),
        READY_TIMEOUT_S,
        POLL_INTERVAL_S,
        describe=lambda: str(answers()),
    )
    cluster.reconnect()  # no kept-alive connection to a restarted server


def _create_volume_attributes_class(api: ApiClient, name: str) -> None:
    """Through the removed version, as an old client would."""
    body = {
        "apiVersion": REMOVED,
        "kind": "VolumeAttributesClass",
        "metadata": {"name": name},
        "driverName": "kube-gauntlet.example.com",
        "parameters": {"iops": "100"},
    }
    _call(
        api,
        "POST",
        f"/apis/{REMOVED}/volumeattributesclasses",
        {"fieldManager": MANAGER},
        body,
    )


def _delete_volume_attributes_class(cluster: Cluster, name: str) -> None:
    """Through the replacement: the removed version may be gone by now."""
    try:
        _call(
            cluster.api,
            "DELETE",
            f"/apis/storage.k8s.io/v1/volumeattributesclasses/{name}",
        )
    except ApiException as exc:
        if exc.status != 404:
            raise


def _call(
    api: ApiClient,
    method: str,
    path: str,
    query: dict[str, str] | None = None,
    body: dict[str, object] | None = None,
) -> None:
    request = api.param_serialize(
        method,
        path,
        query_params=list(query.items()) if query else None,
        header_params={
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(*request, _request_timeout=30)
    response.read()
    if not 200 <= response.status <= 299:
        raise ApiException.from_response(
            http_resp=response,
            body=(response.data or b"").decode(errors="replace"),
            data=None,
        )
    json.loads(response.data or b"{}")
