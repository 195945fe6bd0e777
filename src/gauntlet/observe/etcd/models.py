"""What etcd says about its members, as typed records.

Parsed from etcdctl's ``-w json`` output by ``gauntlet.observe.etcd``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["EtcdHash", "Member", "MemberStatus", "member", "member_status"]


@dataclass(frozen=True)
class MemberStatus:
    """One member's view of itself (``etcdctl endpoint status``)."""

    endpoint: str
    member_id: str
    leader_id: str
    """``0`` when the member knows no leader (cut off, pre-voting)."""
    revision: int
    raft_term: int
    db_size: int
    version: str = ""
    """The server's release (``3.7.3``); empty when it does not say."""

    @property
    def is_leader(self) -> bool:
        return self.member_id == self.leader_id

    @property
    def host(self) -> str:
        """The endpoint's address without scheme and port."""
        return self.endpoint.split("://", 1)[-1].rsplit(":", 1)[0]


def member_status(row: Mapping[str, Any]) -> MemberStatus:
    """One row of ``etcdctl endpoint status -w json``.

    Raises:
        KeyError, TypeError, ValueError: the row is not a status.
    """
    status = row["Status"]
    header = status["header"]
    return MemberStatus(
        endpoint=str(row["Endpoint"]),
        member_id=f"{int(header['member_id']):x}",
        leader_id=f"{int(status.get('leader', 0)):x}",
        revision=int(header["revision"]),
        raft_term=int(header["raft_term"]),
        db_size=int(status.get("dbSize", 0)),
        version=str(status.get("version") or ""),
    )


@dataclass(frozen=True)
class EtcdHash:
    """One member's KV hash at ``hash_revision`` (``endpoint hashkv``)."""

    endpoint: str
    revision: int
    """The member's current revision when it answered."""
    hash_revision: int
    hash: int
    compact_revision: int


@dataclass(frozen=True)
class Member:
    """One etcd member with its health and the leader it follows."""

    member_id: str
    name: str
    client_urls: tuple[str, ...]
    peer_urls: tuple[str, ...]
    learner: bool
    node: str | None
    healthy: bool
    error: str
    leader_id: str | None
    """The leader this member reports, None when it did not answer."""
    db_size: int | None
    quota: int | None

    @property
    def label(self) -> str:
        where = self.node or self.name or "unstarted"
        url = self.client_urls[0] if self.client_urls else self.peer_urls[0]
        return f"{where} ({self.member_id}, {url})"


def member(
    listed: dict[str, Any],
    health: dict[str, dict[str, Any]],
    status: dict[str, dict[str, Any]],
    by_ip: dict[str | None, str],
) -> Member:
    client_urls = tuple(listed.get("clientURLs") or ())
    peer_urls = tuple(listed.get("peerURLs") or ())
    url = (client_urls or peer_urls or ("",))[0]
    checked = [health[u] for u in client_urls if u in health]
    st = next((status[u] for u in client_urls if u in status), None)
    healthy = bool(checked) and all(h.get("health") for h in checked)
    error = "; ".join(
        str(h.get("error")) for h in checked if h.get("error")
    ) or ("never started (no client URL)" if not client_urls else "")
    return Member(
        member_id=f"{int(listed.get('ID', 0)):x}",
        name=str(listed.get("name") or ""),
        client_urls=client_urls,
        peer_urls=peer_urls,
        learner=bool(listed.get("isLearner")),
        node=by_ip.get(urlsplit(url).hostname),
        healthy=healthy,
        error=error if not healthy else "",
        leader_id=f"{int(st['leader']):x}" if st and st.get("leader") else None,
        db_size=int(st["dbSize"]) if st and "dbSize" in st else None,
        quota=int(st["dbSizeQuota"]) if st and st.get("dbSizeQuota") else None,
    )
