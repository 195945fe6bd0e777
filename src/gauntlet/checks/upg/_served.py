"""What the cluster serves, and object metadata read cheaply.

Discovery asks for the aggregated document (``apidiscovery.k8s.io/v2``,
one request per root) and falls back to the per-group/version lists of
older servers. Objects are listed as ``PartialObjectMetadataList``: only
``metadata`` comes back (annotations, ``managedFields``), so sweeping
every resource of a cluster costs little more than its names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from gauntlet.cluster.client import Cluster

__all__ = [
    "Served",
    "ServedResource",
    "from_aggregated",
    "get_json",
    "list_metadata",
    "served_apis",
]

REQUEST_TIMEOUT_S = 30.0
PAGE = 500
AGGREGATED = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json"
)
ROOTS = ("/api", "/apis")
METADATA_ONLY = (
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,"
    "application/json"
)


@dataclass(frozen=True)
class ServedResource:
    """One top-level resource of one served group/version."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def listable(self) -> bool:
        return "list" in self.verbs

    @property
    def path(self) -> str:
        root = f"/apis/{self.group}" if self.group else "/api"
        return f"{root}/{self.version}/{self.resource}"

    @property
    def label(self) -> str:
        """``ingresses.v1.networking.k8s.io`` (kubectl's full name)."""
        return ".".join(
            p for p in (self.resource, self.version, self.group) if p
        )


@dataclass(frozen=True)
class Served:
    """Every served resource, each group's preferred version, and the
    group/versions discovery could not describe (with why)."""

    resources: tuple[ServedResource, ...]
    preferred: Mapping[str, str]
    unavailable: Mapping[str, str] = field(default_factory=dict)

    def group_versions(self) -> frozenset[tuple[str, str]]:
        return frozenset((r.group, r.version) for r in self.resources)

    def find(
        self, group: str, version: str, kind: str
    ) -> ServedResource | None:
        for res in self.resources:
            if (res.group, res.version, res.kind) == (group, version, kind):
                return res
        return None

    def preferred_listable(self) -> list[ServedResource]:
        """Each listable resource once, in its group's preferred version."""
        return [
            r
            for r in self.resources
            if r.listable and self.preferred.get(r.group) == r.version
        ]


def get_json(
    cluster: Cluster,
    path: str,
    query: Mapping[str, str | int] | None = None,
    accept: str = "application/json",
) -> dict[str, Any]:
    """One GET through the cluster's client, decoded.

    Raises:
        ApiException: the server answered something other than 2xx.
    """
    api = cluster.api
    request = api.param_serialize(
        "GET",
        path,
        query_params=list(query.items()) if query else None,
        header_params={"Accept": accept},
        auth_settings=["BearerToken"],
    )
    response = api.call_api(*request, _request_timeout=REQUEST_TIMEOUT_S)
    response.read()  # type: ignore[no-untyped-call]
    body = response.data or b""
    if not 200 <= response.status <= 299:
        raise ApiException.from_response(
            http_resp=response,
            body=body.decode(errors="replace"),
            data=None,
        )
    loaded = json.loads(body)
    if not isinstance(loaded, dict):
        raise ApiException(
            status=response.status, reason=f"{path}: not an object"
        )
    return loaded


def list_metadata(
    cluster: Cluster, res: ServedResource, field_selector: str = ""
) -> Iterator[dict[str, Any]]:
    """The ``metadata`` of every object of ``res`` in every namespace,
    page by page (whole objects from a server that cannot send metadata
    alone, such as some aggregated APIs: 406).

    Raises:
        ApiException: a page could not be read (403, 410, 503, ...).
    """
    accept = METADATA_ONLY
    token = ""
    while True:
        query: dict[str, str | int] = {"limit": PAGE}
        if token:
            query["continue"] = token
        if field_selector:
            query["fieldSelector"] = field_selector
        try:
            page = get_json(cluster, res.path, query, accept)
        except ApiException as exc:
            if exc.status != 406 or accept != METADATA_ONLY or token:
                raise
            accept = "application/json"
            continue
        for item in page.get("items") or []:
            meta = item.get("metadata") if isinstance(item, dict) else None
            if isinstance(meta, dict):
                yield meta
        token = str((page.get("metadata") or {}).get("continue") or "")
        if not token:
            return


def served_apis(cluster: Cluster) -> Served:
    """Everything the cluster serves.

    Raises:
        ApiException: a discovery root (``/api``, ``/apis``) failed.
    """
    docs = [get_json(cluster, root, accept=AGGREGATED) for root in ROOTS]
    if all(d.get("kind") == "APIGroupDiscoveryList" for d in docs):
        return from_aggregated(docs)
    resources: list[ServedResource] = []
    preferred: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    for root, doc in zip(ROOTS, docs, strict=True):
        _legacy(cluster, root, doc, resources, preferred, unavailable)
    return Served(tuple(resources), preferred, unavailable)


def from_aggregated(docs: Iterable[Mapping[str, Any]]) -> Served:
    """What aggregated discovery documents (``APIGroupDiscoveryList`` of
    ``/api`` and ``/apis``) describe: versions come in preference order;
    a stale version (its aggregated server is down) is unavailable."""
    resources: list[ServedResource] = []
    preferred: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    for doc in docs:
        for group_doc in doc.get("items") or []:
            group = str((group_doc.get("metadata") or {}).get("name") or "")
            versions = group_doc.get("versions") or []
            for index, version_doc in enumerate(versions):
                version = str(version_doc.get("version") or "")
                if index == 0:
                    preferred[group] = version
                if version_doc.get("freshness") == "Stale":
                    name = f"{group}/{version}" if group else version
                    unavailable[name] = "stale in aggregated discovery"
                resources += _aggregated_resources(group, version_doc)
    return Served(tuple(resources), preferred, unavailable)


def _aggregated_resources(
    group: str, version_doc: Mapping[str, Any]
) -> list[ServedResource]:
    version = str(version_doc.get("version") or "")
    found = []
    for raw in version_doc.get("resources") or []:
        kind = (raw.get("responseKind") or {}).get("kind")
        if not kind or not raw.get("resource"):
            continue
        found.append(
            ServedResource(
                group=group,
                version=version,
                resource=str(raw["resource"]),
                kind=str(kind),
                namespaced=raw.get("scope") == "Namespaced",
                verbs=frozenset(raw.get("verbs") or ()),
            )
        )
    return found


def _legacy(
    cluster: Cluster,
    root: str,
    doc: Mapping[str, Any],
    resources: list[ServedResource],
    preferred: dict[str, str],
    unavailable: dict[str, str],
) -> None:
    if root == "/api":
        pairs = [("", str(v)) for v in doc.get("versions") or []]
        preferred[""] = pairs[0][1] if pairs else "v1"
    else:
        pairs = []
        for group_doc in doc.get("groups") or []:
            group = str(group_doc.get("name") or "")
            versions = [
                str(v.get("version")) for v in group_doc.get("versions") or []
            ]
            pairs += [(group, v) for v in versions]
            wanted = (group_doc.get("preferredVersion") or {}).get("version")
            preferred[group] = str(wanted or (versions[0] if versions else ""))
    for group, version in pairs:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            listing = get_json(cluster, path)
        except ApiException as exc:
            unavailable[f"{group}/{version}" if group else version] = (
                f"{exc.status} {exc.reason}"
            )
            continue
        for raw in listing.get("resources") or []:
            name = str(raw.get("name") or "")
            if not name or "/" in name:
                continue
            resources.append(
                ServedResource(
                    group=group,
                    version=version,
                    resource=name,
                    kind=str(raw.get("kind") or ""),
                    namespaced=bool(raw.get("namespaced")),
                    verbs=frozenset(raw.get("verbs") or ()),
                )
            )
