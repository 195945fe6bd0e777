"""ARCH-12: health endpoints are green.

``/readyz?verbose`` and ``/livez?verbose`` are asked of every API server
directly (the ``kubernetes`` EndpointSlice's addresses and every
control-plane node's address on that port), with the run's credentials
and the cluster CA (host names are not checked: the servers are addressed
by IP). etcd health comes from etcdctl on a control-plane node, for every
member of the member list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from kubernetes import client

from gauntlet.checks.arch._support import etcd_members_or_fail
from gauntlet.checks.context import CheckContext, violated
from gauntlet.cluster.client import Cluster

STEP = "health endpoints are green"
ENDPOINTS = ("/readyz?verbose", "/livez?verbose")
REQUEST_TIMEOUT_S = 5.0
DEFAULT_API_PORT = 6443


@dataclass(frozen=True)
class ApiServer:
    """One API server address, named after its node when known."""

    name: str
    address: str
    """``host:port``."""


def check_health_endpoints_are_green(ctx: CheckContext) -> None:
    """Every API server is ready and live; every etcd member healthy.

    Raises:
        GuaranteeViolated: naming the API server (node, address), the
            endpoint and its failing checks, or the etcd member and its
            error.
        CheckSkipped: after the API servers passed, when etcd cannot be
            observed (no node access, hidden or external etcd).
    """
    servers = api_servers(ctx)
    problems, report = [], {}
    with _pool(ctx.cluster) as pool:
        for server in servers:
            for path in ENDPOINTS:
                status, body = _get(pool, ctx.cluster, server, path)
                report[f"{server.name} {path}"] = f"{status}\n{body}"
                if status != 200:
                    failing = [
                        line.strip()
                        for line in body.splitlines()
                        if line.startswith("[-]")
                    ]
                    detail = ", ".join(failing) or body.strip()[:200]
                    problems.append(
                        f"{server.name} ({server.address}) "
                        f"{path.split('?')[0]} answered {status}: {detail}"
                    )
    ctx.evidence("API server health", report)
    ctx.measure("API server health failures", len(problems), "", bound=0)
    members = etcd_members_or_fail(ctx, STEP, problems)
    ctx.evidence(
        "etcd health",
        {m.label: m.error or "healthy" for m in members},
    )
    sick = [m for m in members if not m.healthy]
    ctx.measure("unhealthy etcd members", len(sick), "members", bound=0)
    problems += [f"etcd member {m.label} is unhealthy: {m.error}" for m in sick]
    if problems:
        raise violated(STEP, "; ".join(problems))


def api_servers(ctx: CheckContext) -> list[ApiServer]:
    """The EndpointSlice's addresses and every control-plane node's."""
    slices = client.DiscoveryV1Api(
        ctx.cluster.api
    ).list_namespaced_endpoint_slice(
        "default", label_selector="kubernetes.io/service-name=kubernetes"
    )
    port, addresses = DEFAULT_API_PORT, set()
    for item in slices.items:
        for p in item.ports or []:
            port = int(p.port or port)
        for endpoint in item.endpoints or []:
            addresses |= set(endpoint.addresses or [])
    addresses |= {
        n.internal_ip for n in ctx.topology.control_planes if n.internal_ip
    }
    if not addresses:
        server = urlsplit(ctx.cluster.server)
        return [ApiServer("the API server", str(server.netloc))]
    names = {n.internal_ip: n.name for n in ctx.topology.nodes}
    return [
        ApiServer(names.get(ip, ip), f"{_host(ip)}:{port}")
        for ip in sorted(addresses)
    ]


def probe_api_server(
    cluster: Cluster, server: ApiServer, path: str
) -> tuple[int | str, str]:
    """One health request to one API server: (status, body)."""
    with _pool(cluster) as pool:
        return _get(pool, cluster, server, path)


def _host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def _pool(cluster: Cluster) -> urllib3.PoolManager:
    cfg = cluster.api.configuration
    kwargs: dict[str, Any] = {"cert_reqs": "CERT_NONE"}
    if cfg.verify_ssl:
        kwargs = {
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": cfg.ssl_ca_cert,
            "assert_hostname": False,
        }
    if cfg.cert_file and cfg.key_file:
        kwargs |= {"cert_file": cfg.cert_file, "key_file": cfg.key_file}
    return urllib3.PoolManager(
        timeout=REQUEST_TIMEOUT_S, retries=False, **kwargs
    )


def _get(
    pool: urllib3.PoolManager, cluster: Cluster, server: ApiServer, path: str
) -> tuple[int | str, str]:
    headers = {}
    token = cluster.api.configuration.get_api_key_with_prefix("authorization")
    if token:
        headers["Authorization"] = token
    try:
        resp = pool.request(
            "GET", f"https://{server.address}{path}", headers=headers
        )
    except urllib3.exceptions.HTTPError as exc:
        return "no answer", f"{type(exc).__name__}: {exc}"[:300]
    return resp.status, resp.data.decode(errors="replace")
