"""What the API servers themselves counted: ``apiserver_request_total``
summed over every API server at its own address, so a load test checks
the load generator's claims against the servers' own books."""

from __future__ import annotations

import re
from collections.abc import Callable

from gauntlet.cluster.client import Cluster
from gauntlet.observe.endpoints import apiserver_endpoints, endpoint_client

_SAMPLE = re.compile(r"^apiserver_request_total\{([^}]*)\}\s+(\S+)")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def successful_requests(
    cluster: Cluster, wanted: Callable[[dict[str, str]], bool]
) -> float:
    """2xx requests whose labels ``wanted`` accepts, over every server."""
    endpoints = apiserver_endpoints(cluster)
    assert len(endpoints) == 3, endpoints
    total = 0.0
    for node, url in endpoints.items():
        api = endpoint_client(cluster, url)
        try:
            resp = api.rest_client.pool_manager.request(
                "GET", f"{url}/metrics", timeout=15.0
            )
        finally:
            api.close()
        assert resp.status == 200, f"{node}: GET /metrics -> {resp.status}"
        for line in resp.data.decode().splitlines():
            match = _SAMPLE.match(line)
            if not match:
                continue
            labels = dict(_LABEL.findall(match.group(1)))
            if labels.get("code", "").startswith("2") and wanted(labels):
                total += float(match.group(2))
    return total
