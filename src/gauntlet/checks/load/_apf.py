"""LOAD-02's own API Priority and Fairness level, and what servers say.

Why a level of its own: on a 2-core runner one Locust process cannot
send enough to exhaust what three API servers give the default
``service-accounts`` flow schema (``workload-low``: 100 of about 245
concurrency shares of each server's 600 seats, plus what it borrows),
so the default configuration would never shed and the knee would be
"not reached" on every small runner. The check therefore puts its
tenant ServiceAccount, and only it, into a ``Limited`` level made for
the run: ``NOMINAL_SHARES`` share (a few seats per server), no lending
or borrowing, a short queue. Its FlowSchema's precedence
(``PRECEDENCE``) comes after every system schema (leader election,
nodes, controllers, kube-system service accounts) and before the
suggested ``service-accounts`` schema, so system traffic keeps its own
levels while the tenant is shed. Both objects are named after the run's
namespace, recorded in the fault ledger before they are made and
deleted at the end.

The servers' view: ``apiserver_flowcontrol_rejected_requests_total``
per level (each server counts only what it rejected, so every server is
asked at its own address; the tenant is expected in its own level, and
a level that sheds it instead is named) and ``process_start_time_seconds``
(a server whose start time changed restarted during the run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from gauntlet import progress
from gauntlet.checks.arch import _metrics
from gauntlet.checks.arch._apiservers import (
    Answer,
    ApiServer,
    api_pool,
    ask,
    bearer,
)
from gauntlet.cluster.client import Cluster

__all__ = [
    "API_VERSION",
    "NOMINAL_SHARES",
    "PRECEDENCE",
    "ServerView",
    "describe_level",
    "flow_schema",
    "flowcontrol",
    "level_known",
    "priority_level",
    "read_servers",
    "rejected_by_level",
    "rejected_during",
    "rejected_now",
    "restarted",
    "wait_level_known",
]

API_VERSION = "flowcontrol.apiserver.k8s.io/v1"
NOMINAL_SHARES = 3
"""About 600 * 3 / 248 -> 8 seats per API server with the default
levels (1 share: 3 seats, shed from the first step on the lab)."""
QUEUES = 2
HAND_SIZE = 1
QUEUE_LENGTH = 5
PRECEDENCE = 8000
"""After the system schemas (<= 900), before ``service-accounts``
(9000), which would otherwise take the tenant."""
REJECTED = "apiserver_flowcontrol_rejected_requests_total"
SEATS = "apiserver_flowcontrol_nominal_limit_seats"
LEVEL_POLL_S = 1.0
STARTED = "process_start_time_seconds"
_LEVEL = re.compile(r'priority_level="((?:[^"\\]|\\.)*)"')


def priority_level(name: str) -> dict[str, Any]:
    """The tenant's small ``Limited`` level."""
    return {
        "apiVersion": API_VERSION,
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": name},
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": NOMINAL_SHARES,
                "lendablePercent": 0,
                "borrowingLimitPercent": 0,
                "limitResponse": {
                    "type": "Queue",
                    "queuing": {
                        "queues": QUEUES,
                        "handSize": HAND_SIZE,
                        "queueLengthLimit": QUEUE_LENGTH,
                    },
                },
            },
        },
    }


def flow_schema(
    name: str, level: str, account: str, namespace: str
) -> dict[str, Any]:
    """Every request of one ServiceAccount, and nothing else, to
    ``level``."""
    return {
        "apiVersion": API_VERSION,
        "kind": "FlowSchema",
        "metadata": {"name": name},
        "spec": {
            "priorityLevelConfiguration": {"name": level},
            "matchingPrecedence": PRECEDENCE,
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [
                {
                    "subjects": [
                        {
                            "kind": "ServiceAccount",
                            "serviceAccount": {
                                "name": account,
                                "namespace": namespace,
                            },
                        }
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


def describe_level() -> str:
    """The level's settings, for the report next to the knee."""
    return (
        f"nominalConcurrencyShares {NOMINAL_SHARES}, lendablePercent 0, "
        f"borrowingLimitPercent 0, {QUEUES} queues, handSize {HAND_SIZE}, "
        f"queueLengthLimit {QUEUE_LENGTH}, FlowSchema precedence {PRECEDENCE}"
    )


@dataclass(frozen=True)
class ServerView:
    """One server's /metrics, read once; None: not readable (``why``)."""

    server: ApiServer
    samples: _metrics.Samples | None
    why: str = ""

    def started(self) -> float | None:
        """``process_start_time_seconds``, or None without it."""
        if self.samples is None or not _metrics.has(self.samples, STARTED):
            return None
        return _metrics.value(self.samples, STARTED)


def rejected_by_level(samples: _metrics.Samples) -> dict[str, float]:
    """Requests this server rejected so far (any reason), per level."""
    found: dict[str, float] = {}
    for (name, labels), value in samples.items():
        level = _level_of(labels) if name == REJECTED else None
        if level is not None:
            found[level] = found.get(level, 0.0) + value
    return found


def rejected_during(
    before: list[ServerView], after: list[ServerView]
) -> dict[str, float] | None:
    """Rejections per level during the run, over the servers read both
    times (a server that restarted counts from zero); None when none
    was."""
    found: dict[str, float] = {}
    read = False
    for first, last in zip(before, after, strict=True):
        if first.samples is None or last.samples is None:
            continue
        read = True
        was = rejected_by_level(first.samples)
        for level, n in rejected_by_level(last.samples).items():
            delta = n - was.get(level, 0.0)
            delta = n if delta < 0 else delta
            if delta > 0:
                found[level] = found.get(level, 0.0) + delta
    return found if read else None


def restarted(before: ServerView, after: ServerView) -> str | None:
    """Why ``after`` shows a restart, or None (also when unreadable)."""
    first, last = before.started(), after.started()
    if first is None or last is None:
        return None
    if abs(last - first) > 0.5:
        return (
            f"{after.server.label}: process started again "
            f"({first:.0f} -> {last:.0f})"
        )
    return None


def read_servers(
    cluster: Cluster, servers: list[ApiServer]
) -> list[ServerView]:
    """Every server's /metrics at its own address, with the run's
    credentials (exempt from APF: the reading is not shed)."""
    headers = bearer(cluster)
    with api_pool(cluster, credentials=True) as pool:
        return [
            _view(s, ask(pool, s, "GET", "/metrics", headers)) for s in servers
        ]


def rejected_now(cluster: Cluster, servers: list[ApiServer]) -> float:
    """Rejections of every level summed over the servers that answered
    (read during the ramp: only the metric's lines are parsed)."""
    headers = bearer(cluster)
    total = 0.0
    with api_pool(cluster, credentials=True) as pool:
        for server in servers:
            answer = ask(pool, server, "GET", "/metrics", headers)
            if answer.status == 200:
                samples = _lines_of(answer.body, REJECTED)
                total += sum(rejected_by_level(samples).values())
    return total


def level_known(samples: _metrics.Samples, level: str) -> bool:
    """Whether a server has taken up ``level`` (it publishes its seats)."""
    return any(
        name == SEATS and _level_of(labels) == level for name, labels in samples
    )


def wait_level_known(
    cluster: Cluster, servers: list[ApiServer], level: str, timeout_s: float
) -> None:
    """Until every server that serves /metrics publishes ``level``'s
    seats: each server reads FlowSchemas from its own informer, and a
    ramp started before would be judged by the schema it replaced.

    Raises:
        GuaranteeTimeout: a server did not take it up in ``timeout_s``.
    """

    def known() -> bool | None:
        views = read_servers(cluster, servers)
        readable = [v for v in views if v.samples is not None]
        ok = all(level_known(v.samples or {}, level) for v in readable)
        return True if ok else None

    progress.wait_until(
        f"every API server takes up priority level {level}",
        known,
        timeout_s,
        LEVEL_POLL_S,
        lambda: "a server does not publish its seats yet",
        quiet=True,
    )


def flowcontrol(cluster: Cluster) -> client.FlowcontrolApiserverV1Api:
    return client.FlowcontrolApiserverV1Api(cluster.api)


def _lines_of(text: str, metric: str) -> _metrics.Samples:
    return _metrics.parse(
        "\n".join(line for line in text.splitlines() if line.startswith(metric))
    )


def _view(server: ApiServer, answer: Answer) -> ServerView:
    if answer.status != 200:
        why = f"HTTP {answer.status}" if answer.answered else answer.body
        return ServerView(server, None, f"{server.label}: /metrics: {why}")
    return ServerView(server, _metrics.parse(answer.body))


def _level_of(labels: str) -> str | None:
    found = _LEVEL.search(labels)
    return found.group(1) if found else None
