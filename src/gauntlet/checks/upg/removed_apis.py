"""UPG-02: nothing uses an API that the target version removes.

Four views, each its own part, as kubent and Pluto look but against
what the cluster itself reports:

1. every API server's ``apiserver_requested_deprecated_apis`` gauge
   (asked of each server at its own address, read before this check
   lists anything): a series whose ``removed_release`` is at or below the
   target's minor is a client still calling the API (since that server
   started);
2. stored objects of each removed group/version the cluster still
   serves: a kind with no served replacement becomes unreadable, a kind
   with one is reported when a manager still writes through the old
   version (``managedFields[].apiVersion``);
3. last-applied configurations (``kubectl apply``) naming a removed
   group/version, over every listable resource (metadata only);
4. the newest revision of each Helm v3 release rendering one.

The removals come from ``data/removed-apis.json`` (``_removals``): those
after the cluster's version (the oldest API server's) up to the target.
A part that cannot be read (403, no answer) is unobserved with the
reason; resources that could not be listed are named the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from gauntlet.checks.arch._apiservers import api_servers
from gauntlet.checks.context import CheckContext, CheckSkipped, Part
from gauntlet.checks.upg._deprecated_requests import (
    ask_servers,
    current_version,
    judge_requests,
)
from gauntlet.checks.upg._helm import RELEASE_TYPE, read_releases
from gauntlet.checks.upg._removals import (
    Removal,
    RemovalTable,
    load_table,
    removed_between,
    rows,
    split_api_version,
)
from gauntlet.checks.upg._served import (
    Served,
    ServedResource,
    list_metadata,
    served_apis,
)
from gauntlet.errors import ClusterOperationFailed
from gauntlet.kube_version import KubeVersion

__all__ = ["check_no_removed_apis", "object_label"]

STEP = "no removed APIs"
REQUESTS_PART = "deprecated API requests"
STORED_PART = "stored objects of removed APIs"
APPLIED_PART = "last-applied configurations"
HELM_PART = "Helm release records"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_FINDINGS = 25
"""Findings named per part; the rest are counted (all are in evidence)."""


def object_label(kind: str, meta: Mapping[str, Any]) -> str:
    """``Deployment shop/web`` (``ClusterRole admin`` when cluster-scoped)."""
    namespace, name = meta.get("namespace"), meta.get("name")
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def check_no_removed_apis(ctx: CheckContext, target: KubeVersion) -> None:
    """Nothing requests, stores, applies or renders an API the target
    removes.

    Raises:
        GuaranteeViolated: naming each object (kind namespace/name) or
            API server, the removed API and its replacement.
        CheckSkipped: no part could be observed.
        ClusterOperationFailed: discovery failed (an error, not a verdict).
    """
    table = load_table()
    servers = api_servers(ctx.cluster, ctx.topology)
    answers = ask_servers(ctx, servers)  # before this check lists anything
    current = current_version(ctx, answers)
    removals = removed_between(current, target, table)
    ctx.evidence(
        f"APIs removed after {current.minor_name} up to {target.minor_name}",
        rows(removals) or "none: no release in between removes an API",
    )
    if not servers:
        ctx.unobserved(REQUESTS_PART, "no API server found to ask")
    for server in servers:
        with ctx.part(f"{REQUESTS_PART} on {server.name}") as part:
            judge_requests(ctx, server, answers[server][1], target, table, part)
    try:
        served = served_apis(ctx.cluster)
    except ApiException as exc:
        raise ClusterOperationFailed(
            "get",
            "API discovery (/api, /apis)",
            None,
            f"{exc.status} {exc.reason}",
        ) from exc
    with ctx.part(STORED_PART) as part:
        _stored(ctx, served, removals, part)
    with ctx.part(APPLIED_PART) as part:
        _last_applied(ctx, served, removals, table, part)
    with ctx.part(HELM_PART) as part:
        _helm(ctx, removals, part)
    ctx.conclude(STEP)


def _stored(
    ctx: CheckContext, served: Served, removals: list[Removal], part: Part
) -> None:
    """Objects of each removed group/version still served: all of a kind
    with no served replacement (read through the removed version, the
    only way), else those a manager still writes through the old one
    (read through the replacement, which does not count as a request of
    the removed API)."""
    findings: list[str] = []
    unreadable: dict[str, str] = {}
    looked: list[str] = []
    for removal in removals:
        for kind in removal.kinds:
            old = served.find(removal.group, removal.version, kind)
            if old is None or not old.listable:
                continue
            new = _replacement(served, removal, kind)
            source = new or old
            try:
                metas = list(list_metadata(ctx.cluster, source))
            except ApiException as exc:
                unreadable[source.label] = f"{exc.status} {exc.reason}"
                continue
            looked.append(f"{old.label}: {len(metas)} (via {source.label})")
            findings += _stored_findings(kind, metas, removal, new is None)
    ctx.evidence(
        STORED_PART,
        {
            "objects of served removed resources": looked or "none served",
            "findings": findings,
            "unreadable": unreadable,
        },
    )
    observed = bool(looked) or not unreadable
    _report(ctx, part, STORED_PART, findings, unreadable, observed)


def _replacement(
    served: Served, removal: Removal, kind: str
) -> ServedResource | None:
    """The served version that will keep ``kind`` readable: the table's
    replacement, else the group's preferred version when it is another."""
    wanted = []
    if removal.replacement is not None:
        wanted.append(split_api_version(removal.replacement))
    preferred = served.preferred.get(removal.group)
    if preferred and preferred != removal.version:
        wanted.append((removal.group, preferred))
    for group, version in wanted:
        new = served.find(group, version, kind)
        if new is not None and new.listable:
            return new
    return None


def _stored_findings(
    kind: str,
    metas: Iterable[Mapping[str, Any]],
    removal: Removal,
    unreadable_after: bool,
) -> list[str]:
    found = []
    for meta in metas:
        label = object_label(kind, meta)
        if unreadable_after:
            found.append(
                f"{label} is stored through {removal.describe()} and no "
                "served version replaces it: unreadable after the upgrade"
            )
            continue
        managers = sorted(
            {
                str(m.get("manager") or "unknown manager")
                for m in meta.get("managedFields") or []
                if isinstance(m, dict)
                and m.get("apiVersion") == removal.api_version
            }
        )
        if managers:
            found.append(
                f"{label} is written through {removal.describe()} by "
                + ", ".join(managers)
            )
    return found


def _last_applied(
    ctx: CheckContext,
    served: Served,
    removals: list[Removal],
    table: RemovalTable,
    part: Part,
) -> None:
    removed_gvs = table.group_versions()
    resources = [
        r
        for r in served.preferred_listable()
        if (r.group, r.version) not in removed_gvs
    ]
    findings: list[str] = []
    unreadable = dict(served.unavailable)
    malformed: list[str] = []
    objects = listed = 0
    for res in resources:
        try:
            metas = list(list_metadata(ctx.cluster, res))
        except ApiException as exc:
            unreadable[res.label] = f"{exc.status} {exc.reason}"
            continue
        listed += 1
        objects += len(metas)
        for meta in metas:
            text = (meta.get("annotations") or {}).get(LAST_APPLIED)
            if not text:
                continue
            applied = _applied(text)
            if applied is None:
                malformed.append(object_label(res.kind, meta))
                continue
            group, version = split_api_version(applied[0])
            removal = _match(removals, group, version, applied[1])
            if removal is not None:
                findings.append(
                    f"{object_label(res.kind, meta)} was last applied "
                    f"(kubectl apply) as {applied[0]} {applied[1]}, "
                    f"{removal.fate}"
                )
    ctx.evidence(
        APPLIED_PART,
        {
            "resources listed": listed,
            "objects read": objects,
            "findings": findings,
            "unparsable last-applied annotations": malformed,
            "unreadable": unreadable,
        },
    )
    ctx.measure("objects read for last-applied", objects, "objects")
    _report(ctx, part, APPLIED_PART, findings, unreadable, listed > 0)


def _applied(text: str) -> tuple[str, str] | None:
    """(apiVersion, kind) of a last-applied configuration, if readable."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    return api_version, kind


def _match(
    removals: Iterable[Removal], group: str, version: str, kind: str
) -> Removal | None:
    for removal in removals:
        if (removal.group, removal.version) == (group, version) and (
            kind in removal.kinds
        ):
            return removal
    return None


def _helm(ctx: CheckContext, removals: list[Removal], part: Part) -> None:
    """The newest revision of each Helm release; a record that cannot be
    read is said so (evidence and an unobserved part), never a finding."""
    try:
        scan = read_releases(ctx.cluster)
    except ApiException as exc:
        raise CheckSkipped(
            f"cannot list Secrets of type {RELEASE_TYPE}: "
            f"{exc.status} {exc.reason}"
        ) from exc
    findings = []
    for release in scan.releases:
        for obj in release.objects:
            group, version = split_api_version(obj.api_version)
            removal = _match(removals, group, version, obj.kind)
            if removal is not None:
                rendered = object_label(
                    obj.kind, {"namespace": obj.namespace, "name": obj.name}
                )
                findings.append(
                    f"{release.label} renders {rendered} as "
                    f"{obj.api_version}, {removal.fate}"
                )
    ctx.evidence(
        HELM_PART,
        {
            "releases read (newest revision)": [r.label for r in scan.releases],
            "could not read": dict(scan.unreadable),
            "findings": findings,
        },
    )
    ctx.measure("Helm releases read", len(scan.releases), "releases")
    _report(ctx, part, HELM_PART, findings, {}, True)
    if scan.unreadable:
        ctx.unobserved(
            f"{HELM_PART} (could not read)",
            "; ".join(f"{k}: {v}" for k, v in sorted(scan.unreadable.items())),
        )


def _report(
    ctx: CheckContext,
    part: Part,
    name: str,
    findings: list[str],
    unreadable: Mapping[str, str],
    observed: bool,
) -> None:
    """Findings (the first ``MAX_FINDINGS`` named), the count measured,
    and what could not be read: the part's reason when nothing was, else
    an unobserved part of its own beside it."""
    ctx.measure(f"{name}: findings", len(findings), "", bound=0)
    for text in findings[:MAX_FINDINGS]:
        part.finding(text)
    if len(findings) > MAX_FINDINGS:
        part.finding(
            f"and {len(findings) - MAX_FINDINGS} more (see the evidence)"
        )
    if not unreadable:
        return
    reasons = "; ".join(f"{k}: {v}" for k, v in sorted(unreadable.items()))
    if not observed and not findings:
        raise CheckSkipped(f"could not list {reasons}")
    ctx.unobserved(f"{name} (unreadable)", f"could not list {reasons}")
