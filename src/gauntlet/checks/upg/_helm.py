"""Helm v3 release records, read as ``helm upgrade`` will read them.

Helm keeps each revision of a release in a Secret of type
``helm.sh/release.v1`` named ``sh.helm.release.v1.<release>.v<revision>``;
its ``data.release`` is base64 (the Secret's encoding) of base64 (Helm's)
of gzip of the release JSON, whose ``manifest`` (and each hook's) is the
rendered multi-document YAML. A release whose manifest still names a
removed group/version cannot be upgraded after the cluster stops serving
it (``helm upgrade`` fails to build the old objects). Only the newest
revision of each release is read: it is what the next upgrade starts
from. A record that does not decode is a ``HelmDecodeError`` the caller
reports, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException

from gauntlet.checks.upg._served import ServedResource, list_metadata
from gauntlet.cluster.client import Cluster
from gauntlet.errors import GauntletError

__all__ = [
    "RELEASE_TYPE",
    "HelmDecodeError",
    "HelmRelease",
    "HelmScan",
    "RenderedObject",
    "decode_release",
    "latest_revisions",
    "parse_secret_name",
    "read_releases",
    "rendered_objects",
]

RELEASE_TYPE = "helm.sh/release.v1"
MAX_RELEASE_BYTES = 64 * 1024 * 1024
"""A decompressed release larger than this is refused (not a release)."""
_GZIP_MAGIC = b"\x1f\x8b\x08"
_SECRET_NAME = re.compile(r"^sh\.helm\.release\.v1\.(.+)\.v(\d+)$")


class HelmDecodeError(GauntletError):
    """A Helm release record that cannot be read; says which step failed."""


@dataclass(frozen=True)
class RenderedObject:
    """One object a release renders, as its manifest names it."""

    api_version: str
    kind: str
    name: str
    namespace: str
    """As the manifest gives it; empty: the release's namespace (or a
    cluster-scoped object)."""


@dataclass(frozen=True)
class HelmRelease:
    """One revision of a release and the objects it renders."""

    name: str
    namespace: str
    revision: int
    status: str
    objects: tuple[RenderedObject, ...]

    @property
    def label(self) -> str:
        where = f"{self.namespace}/{self.name}"
        return f"Helm release {where} (revision {self.revision})"


def parse_secret_name(name: str) -> tuple[str, int] | None:
    """(release, revision) from ``sh.helm.release.v1.<release>.v<N>``."""
    found = _SECRET_NAME.match(name)
    if found is None:
        return None
    return found.group(1), int(found.group(2))


def latest_revisions(names: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Of (namespace, Secret name) pairs, the newest revision's Secret of
    each release (what ``helm upgrade`` reads); names that are not Helm's
    are kept, each its own release."""
    newest: dict[tuple[str, str], tuple[int, str]] = {}
    for namespace, secret in names:
        parsed = parse_secret_name(secret)
        release, revision = parsed if parsed else (secret, 0)
        key = (namespace, release)
        if key not in newest or revision > newest[key][0]:
            newest[key] = (revision, secret)
    return sorted((ns, secret) for (ns, _), (_, secret) in newest.items())


def decode_release(data: str | bytes) -> HelmRelease:
    """The release in a Secret's ``data.release`` as the API returns it.

    Raises:
        HelmDecodeError: not base64, not gzip or JSON, too large, or a
            manifest that is not YAML.
    """
    try:
        helm_text = base64.b64decode(data, validate=True)
        raw = base64.b64decode(helm_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HelmDecodeError(f"data.release is not base64: {exc}") from exc
    if raw[:3] == _GZIP_MAGIC:
        raw = _gunzip(raw)
    try:
        release = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HelmDecodeError(f"the release is not JSON: {exc}") from exc
    if not isinstance(release, dict):
        raise HelmDecodeError("the release is not a JSON object")
    return _release(release)


def _gunzip(raw: bytes) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unzipped:
            out = unzipped.read(MAX_RELEASE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise HelmDecodeError(f"the release is not gzip: {exc}") from exc
    if len(out) > MAX_RELEASE_BYTES:
        raise HelmDecodeError(
            f"the release decompresses past {MAX_RELEASE_BYTES} bytes"
        )
    return out


def _release(release: Mapping[str, Any]) -> HelmRelease:
    info = release.get("info")
    status = info.get("status") if isinstance(info, dict) else None
    manifests = [release.get("manifest")]
    hooks = release.get("hooks")
    if isinstance(hooks, list):
        manifests += [h.get("manifest") for h in hooks if isinstance(h, dict)]
    objects: list[RenderedObject] = []
    for manifest in manifests:
        if manifest is None:
            continue
        if not isinstance(manifest, str):
            raise HelmDecodeError("a manifest is not text")
        objects.extend(rendered_objects(manifest))
    version = release.get("version")
    return HelmRelease(
        name=str(release.get("name") or ""),
        namespace=str(release.get("namespace") or ""),
        revision=version if isinstance(version, int) else 0,
        status=str(status or ""),
        objects=tuple(objects),
    )


def rendered_objects(manifest: str) -> list[RenderedObject]:
    """Every object of a multi-document manifest (``List`` items too).

    Raises:
        HelmDecodeError: the manifest is not YAML.
    """
    try:
        documents = list(yaml.safe_load_all(manifest))
    except yaml.YAMLError as exc:
        raise HelmDecodeError(f"a manifest is not YAML: {exc}") from exc
    return [obj for doc in documents for obj in _objects(doc)]


def _objects(doc: object) -> Iterator[RenderedObject]:
    if not isinstance(doc, dict):
        return
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return
    items = doc.get("items")
    if kind.endswith("List") and isinstance(items, list):
        for item in items:
            yield from _objects(item)
        return
    meta = doc.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    yield RenderedObject(
        api_version=api_version,
        kind=kind,
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
    )


@dataclass(frozen=True)
class HelmScan:
    """The newest revision of each release, and the records that could
    not be read (namespace/Secret -> why)."""

    releases: tuple[HelmRelease, ...]
    unreadable: Mapping[str, str]


def read_releases(cluster: Cluster) -> HelmScan:
    """Every release's newest revision, as ``helm upgrade`` reads it.

    Raises:
        ApiException: the release Secrets cannot be listed.
    """
    secrets = ServedResource(
        "", "v1", "secrets", "Secret", True, frozenset({"list", "get"})
    )
    names = [
        (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        for meta in list_metadata(
            cluster, secrets, field_selector=f"type={RELEASE_TYPE}"
        )
    ]
    releases: list[HelmRelease] = []
    unreadable: dict[str, str] = {}
    core = cluster.core()
    for namespace, name in latest_revisions(names):
        where = f"{namespace}/{name}"
        try:
            secret = core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            unreadable[where] = f"read: {exc.status} {exc.reason}"
            continue
        data = (secret.data or {}).get("release")
        if not data:
            unreadable[where] = "no data.release"
            continue
        try:
            releases.append(decode_release(data))
        except HelmDecodeError as exc:
            unreadable[where] = str(exc)
    return HelmScan(tuple(releases), unreadable)
