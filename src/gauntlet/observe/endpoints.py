"""API server endpoints and per-endpoint clients.

An HA control plane has one API server per control-plane node behind a
load balancer; some checks must talk to each one directly. The endpoints
come from the ``default/kubernetes`` EndpointSlices (what the API servers
publish about themselves), mapped to nodes by address.
"""

from __future__ import annotations

import copy

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.cluster.client import Cluster
from gauntlet.errors import ClusterOperationFailed
from gauntlet.observe import objects

__all__ = ["apiserver_endpoints", "endpoint_client"]


def endpoint_client(cluster: Cluster, endpoint: str | None) -> client.ApiClient:
    """A new client like ``cluster``'s but aimed at ``endpoint``.

    ``endpoint`` is ``https://<address>:<port>``; ``None`` keeps the
    kubeconfig's server. The caller closes the client.
    """
    cfg = copy.deepcopy(cluster.api.configuration)
    if endpoint:
        cfg.host = endpoint
    cfg.retries = 0
    return client.ApiClient(cfg)


def apiserver_endpoints(cluster: Cluster) -> dict[str, str]:
    """Node name (or address when no node has it) -> API server URL.

    Raises:
        ClusterOperationFailed: the EndpointSlices or nodes cannot be read.
    """
    discovery = client.DiscoveryV1Api(cluster.api)
    try:
        slices = discovery.list_namespaced_endpoint_slice(
            "default", label_selector="kubernetes.io/service-name=kubernetes"
        ).items
        nodes = cluster.core().list_node().items
    except ApiException as exc:
        raise ClusterOperationFailed(
            "list",
            "kubernetes EndpointSlices",
            "default",
            f"{exc.status} {exc.reason}",
        ) from exc
    by_address = {
        address: objects.name(n)
        for n in nodes
        for address in objects.addresses(n)
    }
    found: dict[str, str] = {}
    for item in slices:
        port = next(
            (p.port for p in item.ports or [] if p.name == "https"), 443
        )
        for ep in item.endpoints or []:
            for address in ep.addresses or []:
                name = by_address.get(str(address), str(address))
                found[name] = f"https://{address}:{port}"
    return dict(sorted(found.items()))
