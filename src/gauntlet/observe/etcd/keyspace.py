"""Keys and values of an etcd keyspace at one revision, page by page.

Written against a runner of ``etcdctl -w json ARGS`` so the same reads
serve a live member (``EtcdClient.run``) and a scratch member restored
from a snapshot (``ScratchEtcd.run``). Every page of one listing is read
at the same revision, so a keyspace that changes while it is read is
still seen as one consistent state.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gauntlet.errors import ClusterOperationFailed

__all__ = [
    "PAGE_SIZE",
    "EtcdctlRun",
    "KeyMeta",
    "KeyPage",
    "RevisionCompacted",
    "list_keys",
    "parse_page",
    "prefix_end",
    "read_value",
]

PAGE_SIZE = 2000
"""Keys per ``get --limit`` (each page is one etcdctl call)."""
COMPACTED = "required revision has been compacted"
"""etcd's error for a read below the compacted revision."""

EtcdctlRun = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]
"""Runs ``etcdctl -w json ARGS`` against one member; never raises on the
exit code."""


class RevisionCompacted(ClusterOperationFailed):
    """The revision asked for is older than the member's compaction: its
    state can no longer be read."""


@dataclass(frozen=True)
class KeyMeta:
    """One key as ``get --keys-only`` shows it."""

    key: str
    create_revision: int
    mod_revision: int
    version: int


@dataclass(frozen=True)
class KeyPage:
    """One ``get --limit`` answer."""

    revision: int
    """The header revision: the store's revision when it answered."""
    kvs: tuple[KeyMeta, ...]
    values: tuple[bytes, ...]
    """The values of ``kvs`` (empty bytes for ``--keys-only``)."""
    more: bool


def prefix_end(prefix: str) -> str:
    """The first key past every key starting with ``prefix`` (etcd's
    range end for a prefix: the last byte plus one)."""
    raw = prefix.encode()
    if not raw or raw[-1] == 0xFF:
        raise ValueError(f"no range end for prefix {prefix!r}")
    return (raw[:-1] + bytes([raw[-1] + 1])).decode(errors="surrogateescape")


def _text(b64: str) -> str:
    return base64.b64decode(b64).decode(errors="surrogateescape")


def parse_page(text: str) -> KeyPage:
    """etcdctl's ``get -w json`` output (keys and values base64).

    Raises:
        ValueError: not such output.
    """
    data: Any = json.loads(text)
    if not isinstance(data, dict) or "header" not in data:
        raise ValueError(f"not an etcdctl get answer: {text[:200]!r}")
    kvs = []
    values = []
    for kv in data.get("kvs") or []:
        kvs.append(
            KeyMeta(
                key=_text(kv["key"]),
                create_revision=int(kv.get("create_revision", 0)),
                mod_revision=int(kv.get("mod_revision", 0)),
                version=int(kv.get("version", 0)),
            )
        )
        values.append(base64.b64decode(kv.get("value", "")))
    return KeyPage(
        revision=int(data["header"].get("revision", 0)),
        kvs=tuple(kvs),
        values=tuple(values),
        more=bool(data.get("more")),
    )


def _get(run: EtcdctlRun, where: str, args: Sequence[str]) -> KeyPage:
    proc = run(["get", *args])
    if proc.returncode != 0:
        last = _last_line(proc)
        if COMPACTED in (proc.stderr or "") + (proc.stdout or ""):
            raise RevisionCompacted("read keys", where, None, last)
        raise ClusterOperationFailed("read keys", where, None, last)
    try:
        return parse_page(proc.stdout)
    except (ValueError, KeyError) as exc:
        raise ClusterOperationFailed(
            "read keys", where, None, f"unreadable answer: {exc}"
        ) from exc


def list_keys(
    run: EtcdctlRun,
    where: str,
    prefix: str,
    revision: int | None = None,
    page_size: int = PAGE_SIZE,
) -> tuple[int, list[KeyMeta]]:
    """Every key under ``prefix`` at ``revision`` (the current one when
    None, then pinned for every later page); returns that revision and
    the keys in key order.

    Raises:
        RevisionCompacted: ``revision`` was compacted away.
        ClusterOperationFailed: a page could not be read.
    """
    end = prefix_end(prefix)
    start = prefix
    found: list[KeyMeta] = []
    while True:
        pinned = [f"--rev={revision}"] if revision is not None else []
        # From the second page on, ``start`` is the last key seen: it
        # comes back first and is dropped (a key cannot be incremented
        # in an argv, which holds no NUL byte).
        limit = page_size + (1 if found else 0)
        page = _get(
            run,
            where,
            ["--keys-only", f"--limit={limit}", *pinned, "--", start, end],
        )
        if revision is None:
            revision = page.revision
        kvs = list(page.kvs)
        if found and kvs and kvs[0].key == start:
            kvs = kvs[1:]
        found += kvs
        if not page.more or not kvs:
            return revision, found
        start = kvs[-1].key


def read_value(
    run: EtcdctlRun, where: str, key: str, revision: int | None = None
) -> tuple[KeyMeta, bytes] | None:
    """One key's metadata and value (at ``revision``), None when absent.

    Raises:
        RevisionCompacted: ``revision`` was compacted away.
        ClusterOperationFailed: the key could not be read.
    """
    pinned = [f"--rev={revision}"] if revision is not None else []
    page = _get(run, where, [*pinned, "--", key])
    for meta, value in zip(page.kvs, page.values, strict=True):
        if meta.key == key:
            return meta, value
    return None


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr or proc.stdout or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else f"exit {proc.returncode}"
