"""Every API server by itself, at its own address.

An HA control plane has one API server per control-plane node behind a
balancer; a probe through the balancer judges whichever server answers,
so one misconfigured server among three stays invisible. The ARCH checks
ask each server at the address it publishes in the ``kubernetes``
EndpointSlices (and every control-plane node's address on that port, for
a server not published right now), and name it by node and URL.

Servers are addressed by IP: the cluster CA is verified, the host name is
not (a serving certificate need not name every address).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import urllib3

from gauntlet.cluster.client import Cluster
from gauntlet.cluster.discovery import ClusterTopology
from gauntlet.observe import endpoints
from gauntlet.wellknown import APISERVER_PORT

__all__ = [
    "Answer",
    "ApiServer",
    "Sorted",
    "api_pool",
    "api_servers",
    "ask",
    "front_door",
    "labels",
    "sort_answers",
]

REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ApiServer:
    """One API server (or the front door) and the URL it is asked at."""

    name: str
    """The node it runs on (its address when no node has it)."""
    url: str
    """``https://<address>:<port>``."""
    is_front_door: bool = False

    @property
    def label(self) -> str:
        """How a finding names it: node and URL."""
        if self.is_front_door:
            return f"the front door ({self.url})"
        return f"kube-apiserver on {self.name} ({self.url})"

    @property
    def address(self) -> str:
        """``host:port``."""
        return urlsplit(self.url).netloc


@dataclass(frozen=True)
class Answer:
    """What one server answered: an HTTP status, or none (with why)."""

    status: int | None
    body: str = ""

    @property
    def answered(self) -> bool:
        return self.status is not None


@dataclass(frozen=True)
class Sorted:
    """Answers sorted for a judgement."""

    unexpected: dict[int, list[ApiServer]] = field(default_factory=dict)
    """Status -> the servers that answered it (not an expected one)."""
    unanswered: dict[ApiServer, str] = field(default_factory=dict)
    """Server -> why it gave no answer."""
    expected: list[ApiServer] = field(default_factory=list)


def api_servers(cluster: Cluster, topology: ClusterTopology) -> list[ApiServer]:
    """Each API server: the EndpointSlices' addresses and every
    control-plane node's address on the published port.

    Raises:
        ClusterOperationFailed: the EndpointSlices or nodes cannot be read.
    """
    found = endpoints.apiserver_endpoints(cluster)
    port = next(
        (urlsplit(u).port for u in found.values() if urlsplit(u).port),
        APISERVER_PORT,
    )
    for node in topology.control_planes:
        if node.name not in found and node.internal_ip:
            found[node.name] = f"https://{_host(node.internal_ip)}:{port}"
    return [ApiServer(name, url) for name, url in sorted(found.items())]


def front_door(cluster: Cluster, servers: list[ApiServer]) -> list[ApiServer]:
    """The kubeconfig's server (what users reach) and then each server,
    the front door left out when it is one of them."""
    urls = {s.url for s in servers}
    door = cluster.server.rstrip("/")
    if door in urls:
        return list(servers)
    return [ApiServer("front door", door, is_front_door=True), *servers]


def api_pool(cluster: Cluster, credentials: bool) -> urllib3.PoolManager:
    """HTTPS verifying the cluster CA; with ``credentials`` the run's
    client certificate, without them nothing (an anonymous request)."""
    cfg = cluster.api.configuration
    kwargs: dict[str, Any] = {"cert_reqs": "CERT_NONE"}
    if cfg.verify_ssl:
        kwargs = {
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": cfg.ssl_ca_cert,
            "assert_hostname": False,
        }
    if credentials and cfg.cert_file and cfg.key_file:
        kwargs |= {"cert_file": cfg.cert_file, "key_file": cfg.key_file}
    return urllib3.PoolManager(
        timeout=REQUEST_TIMEOUT_S, retries=False, **kwargs
    )


def bearer(cluster: Cluster) -> dict[str, str]:
    """The run's bearer token header, when it authenticates by token.

    The kubernetes client (v31+) keeps a kubeconfig token under
    ``BearerToken`` (``authorization`` is its alias); asking for the alias
    alone answered nothing and every server saw system:anonymous."""
    cfg = cluster.api.configuration
    token = cfg.get_api_key_with_prefix("BearerToken", alias="authorization")
    return {"Authorization": token} if token else {}


def ask(
    pool: urllib3.PoolManager,
    server: ApiServer,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Answer:
    """One request to one server; no answer is an ``Answer`` saying why."""
    try:
        resp = pool.request(
            method, server.url + path, headers=headers, body=body
        )
    except urllib3.exceptions.HTTPError as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:300])
    return Answer(resp.status, resp.data.decode(errors="replace"))


def sort_answers(
    answers: Mapping[ApiServer, Answer], expected: Collection[int]
) -> Sorted:
    """Group the servers by what they answered."""
    result = Sorted()
    for server, answer in answers.items():
        if answer.status is None:
            result.unanswered[server] = answer.body
        elif answer.status in expected:
            result.expected.append(server)
        else:
            result.unexpected.setdefault(answer.status, []).append(server)
    return result


def labels(servers: Collection[ApiServer]) -> str:
    """``kube-apiserver on cp1 (https://...), ...``."""
    return ", ".join(s.label for s in servers)


def _host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip
