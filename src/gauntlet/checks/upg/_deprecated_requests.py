"""UPG-02 part 1: what each API server says its clients still call.

Every API server sets ``apiserver_requested_deprecated_apis`` to 1 for
each deprecated group/version/resource it has served since it started,
with the release that removes it in ``removed_release``. The gauge lives
in each server's memory, so each server is asked at its own address
(``checks/arch/_apiservers``), and before UPG-02 lists anything itself.
A server that refuses ``/metrics`` is an unobserved part, named.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from kubernetes.client.exceptions import ApiException

from gauntlet.checks.arch import _metrics
from gauntlet.checks.arch._apiservers import (
    Answer,
    ApiServer,
    api_pool,
    ask,
    bearer,
)
from gauntlet.checks.context import CheckContext, CheckSkipped, Part
from gauntlet.checks.upg._removals import RemovalTable
from gauntlet.checks.upg._served import get_json
from gauntlet.errors import UsageError
from gauntlet.kube_version import KubeVersion, parse_version

__all__ = [
    "METRIC",
    "DeprecatedRequest",
    "ServerAnswers",
    "ask_servers",
    "current_version",
    "deprecated_requests",
    "judge_requests",
]

METRIC = "apiserver_requested_deprecated_apis"
PROOF = "apiserver_request_total"
"""Present on every API server's /metrics: the page is a server's."""
_LABEL = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"')

ServerAnswers = Mapping[ApiServer, tuple[Answer, Answer]]
"""Each server's (``/version``, ``/metrics``) answers."""


@dataclass(frozen=True)
class DeprecatedRequest:
    """One series of the deprecated-API gauge."""

    group: str
    version: str
    resource: str
    subresource: str
    removed_release: str
    """``1.37``; empty: deprecated without a planned removal."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def what(self) -> str:
        """``deployments`` or ``deployments/scale``."""
        sub = f"/{self.subresource}" if self.subresource else ""
        return self.resource + sub

    def removed_by(self, target: KubeVersion) -> bool:
        """Whether the target (or an earlier release) removes it."""
        if not self.removed_release:
            return False
        try:
            removed = parse_version(self.removed_release, METRIC)
        except UsageError:
            return False
        return (removed.major, removed.minor) <= (target.major, target.minor)


def deprecated_requests(metrics_text: str) -> list[DeprecatedRequest]:
    """Every series of the deprecated-API gauge that is set (value 1)."""
    found = []
    for (name, labels), value in _metrics.parse(metrics_text).items():
        if name != METRIC or value < 1:
            continue
        got = dict(_LABEL.findall(labels))
        found.append(
            DeprecatedRequest(
                group=got.get("group", ""),
                version=got.get("version", ""),
                resource=got.get("resource", ""),
                subresource=got.get("subresource", ""),
                removed_release=got.get("removed_release", ""),
            )
        )
    return sorted(found, key=lambda r: (r.api_version, r.what))


def ask_servers(
    ctx: CheckContext, servers: list[ApiServer]
) -> dict[ApiServer, tuple[Answer, Answer]]:
    """``/version`` and ``/metrics`` of each server, with the run's
    credentials."""
    headers = bearer(ctx.cluster)
    with api_pool(ctx.cluster, credentials=True) as pool:
        return {
            s: (
                ask(pool, s, "GET", "/version", headers),
                ask(pool, s, "GET", "/metrics", headers),
            )
            for s in servers
        }


def current_version(ctx: CheckContext, answers: ServerAnswers) -> KubeVersion:
    """The oldest API server's version (what the cluster still serves);
    the front door's when no server answered by itself.

    Raises:
        CheckSkipped: no version could be read at all.
    """
    found: dict[str, KubeVersion] = {}
    for server, (version, _) in answers.items():
        if version.status == 200:
            found[server.label] = _git_version(version.body, server.label)
    if not found:
        try:
            body = get_json(ctx.cluster, "/version")
        except ApiException as exc:
            raise CheckSkipped(
                f"the cluster's version is unknown: /version answered "
                f"{exc.status} {exc.reason}"
            ) from exc
        found[ctx.cluster.server] = _git_version(json.dumps(body), "/version")
    ctx.evidence("API server versions", {k: str(v) for k, v in found.items()})
    return min(found.values())


def _git_version(body: str, who: str) -> KubeVersion:
    try:
        loaded = json.loads(body)
    except json.JSONDecodeError as exc:
        raise CheckSkipped(f"{who} /version is not JSON: {exc}") from exc
    text = loaded.get("gitVersion") if isinstance(loaded, dict) else None
    try:
        return parse_version(str(text or ""), f"{who} gitVersion")
    except UsageError as exc:
        raise CheckSkipped(str(exc)) from exc


def judge_requests(
    ctx: CheckContext,
    server: ApiServer,
    answer: Answer,
    target: KubeVersion,
    table: RemovalTable,
    part: Part,
) -> None:
    """Findings for each removed API the server has served.

    Raises:
        CheckSkipped: ``/metrics`` refused, unanswered or not a server's.
    """
    if answer.status != 200:
        status = answer.status or "no answer"
        raise CheckSkipped(
            f"{server.label} /metrics answered {status}: "
            f"{answer.body.strip()[:200]}"
        )
    if not _metrics.has(_metrics.parse(answer.body), PROOF):
        raise CheckSkipped(
            f"{server.label} /metrics has no {PROOF}: not an API server's"
        )
    requests = deprecated_requests(answer.body)
    removed = [r for r in requests if r.removed_by(target)]
    ctx.evidence(
        f"deprecated API requests on {server.name}",
        [vars(r) for r in requests] or "none since the server started",
    )
    ctx.measure(
        f"removed APIs requested on {server.name}", len(removed), "", bound=0
    )
    for req in removed:
        entry = table.for_resource(req.group, req.version, req.resource)
        way_out = entry.moves_to if entry else "not in the removed-API table"
        part.finding(
            f"{server.label} has served {req.what} through "
            f"{req.api_version} since it started; removed in "
            f"v{req.removed_release} ({way_out})"
        )
