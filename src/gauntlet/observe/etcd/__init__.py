"""The project's one etcd client: etcdctl where the cluster keeps it.

Checks, chaos activities and the project's own tests all read etcd
through ``EtcdClient``, built from the cluster, its topology and node
access (or none). etcdctl is found, in order:

* on a control-plane node through node access: the ``etcdctl`` next to
  the running ``etcd`` binary, inside that process's root (a container),
  or on the PATH, with the member's own ``--trusted-ca-file`` and the
  ``healthcheck-client`` pair kubeadm and the lab keep beside it (else
  the API server's etcd client pair);
* inside a running ``component=etcd`` static pod in kube-system, with
  kubeadm's certificate paths (no node access needed).

No etcd client credential ever leaves the cluster's nodes. Placements
live in ``placement``, the records in ``models``; ``snapshot`` saves a
member's snapshot and fetches it, ``scratch`` restores one into a
member on the runner, ``keyspace`` reads keys page by page from either.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

from gauntlet.cluster.client import Cluster
from gauntlet.cluster.discovery import ClusterTopology, not_visible
from gauntlet.errors import (
    ClusterOperationFailed,
    GauntletError,
    NodeAccessError,
    Unobservable,
)
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.etcd.models import (
    EtcdHash,
    Member,
    MemberStatus,
    member,
    member_status,
)
from gauntlet.observe.etcd.placement import (
    ETCDCTL_TIMEOUT_S,
    HostEtcdCtl,
    Placement,
    etcd_processes,
    host_placements,
    pod_placement,
)

__all__ = [
    "ETCDCTL_TIMEOUT_S",
    "EtcdClient",
    "EtcdHash",
    "HostEtcdCtl",
    "Member",
    "MemberStatus",
    "etcd_processes",
]

_UNREACHED = -1
"""The exit ``_run_at`` gives a placement it could not reach."""
_NOT_FOUND = (126, 127)
"""etcdctl's exit when its binary is gone (its container restarted)."""


class EtcdClient:
    """etcdctl against a cluster's members, wherever it can run.

    Placements are found on first use and kept; a placement whose
    etcdctl vanished (an etcd container restarted) is found again.
    """

    def __init__(
        self,
        cluster: Cluster,
        topology: ClusterTopology,
        nodes: NodeAccess | None,
    ) -> None:
        self.cluster = cluster
        self.topology = topology
        self.nodes = nodes
        self._placements: list[Placement] | None = None
        self._why_not_host = ""

    # -- raw ------------------------------------------------------------

    def run(
        self, *args: str, endpoints: Sequence[str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``etcdctl -w json ARGS`` at the first placement where etcdctl
        ran (a placement that cannot be reached is passed over); never
        raises on etcdctl's exit code.

        Raises:
            Unobservable: etcdctl runs nowhere (hidden or external etcd,
                no node access and no etcd static pod).
        """
        return self._first(args, endpoints, _ran)

    def json(self, *args: str, endpoints: Sequence[str] | None = None) -> Any:
        """Parsed output; a failed command with output is still parsed
        (health and status print what they could reach).

        Raises:
            ClusterOperationFailed: no JSON came back.
            Unobservable: etcdctl runs nowhere.
        """
        proc = self.run(*args, endpoints=endpoints)
        return _parsed(proc, args, self._where())

    def rows(
        self, *args: str, endpoints: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Per-endpoint rows (``endpoint status|health|hashkv``) from the
        first placement that gets any member to answer.

        Raises:
            ClusterOperationFailed: no member answered from anywhere.
            Unobservable: etcdctl runs nowhere.
        """
        proc = self._first(args, endpoints, _has_rows)
        found = _parsed(proc, args, self._where())
        if not isinstance(found, list) or not found:
            raise ClusterOperationFailed(
                f"etcdctl {' '.join(args)}",
                "etcd",
                None,
                f"no member answered: {_last_line(proc)}",
            )
        return found

    # -- typed ----------------------------------------------------------

    def statuses(
        self, endpoints: Sequence[str] | None = None
    ) -> list[MemberStatus]:
        """Status of every member (or of ``endpoints``) that answers."""
        rows = self.rows("endpoint", "status", endpoints=endpoints)
        return [member_status(row) for row in rows]

    def hashes(self, revision: int | None = None) -> list[EtcdHash]:
        """Every answering member's KV hash, at ``revision`` if given."""
        args = ["endpoint", "hashkv"]
        if revision is not None:
            args.append(f"--rev={revision}")
        found = []
        for row in self.rows(*args):
            data = row["HashKV"]
            found.append(
                EtcdHash(
                    endpoint=str(row["Endpoint"]),
                    revision=int(data["header"]["revision"]),
                    hash_revision=int(data.get("hash_revision", 0)),
                    hash=int(data["hash"]),
                    compact_revision=int(data.get("compact_revision", -1)),
                )
            )
        return found

    def members(self) -> list[Member]:
        """Every member with health, leader and db size (unstarted too).

        Raises:
            ClusterOperationFailed: the member list cannot be read.
            Unobservable: etcdctl runs nowhere.
        """
        listed = self.json("member", "list").get("members") or []
        urls = [u for m in listed for u in m.get("clientURLs") or []]
        health: dict[str, dict[str, Any]] = {}
        status: dict[str, dict[str, Any]] = {}
        if urls:
            for row in self.json("endpoint", "health", endpoints=urls):
                health[row.get("endpoint", "")] = row
            for row in self.json("endpoint", "status", endpoints=urls):
                status[row.get("Endpoint", "")] = row.get("Status") or {}
        by_ip = {n.internal_ip: n.name for n in self.topology.nodes}
        return [member(m, health, status, by_ip) for m in listed]

    def host_ctl(self) -> HostEtcdCtl:
        """The first placement on a node (for what only a node can do,
        such as scraping a member's metrics with its client pair).

        Raises:
            Unobservable: no etcdctl could be set up on any node.
        """
        for placement in self.placements():
            if isinstance(placement, HostEtcdCtl):
                return placement
        raise Unobservable(
            "etcdctl cannot run on any control-plane node"
            + (f" ({self._why_not_host})" if self._why_not_host else "")
        )

    # -- placements -----------------------------------------------------

    def placements(self) -> list[Placement]:
        """Where etcdctl runs, best first (found once, then kept).

        Raises:
            Unobservable: nowhere, with the reasons.
        """
        if self._placements is None:
            self._placements = self._locate()
        return self._placements

    def _locate(self) -> list[Placement]:
        found: list[Placement] = []
        reasons = []
        if self.nodes is None:
            reasons.append("no node access")
        else:
            try:
                hosts, why = host_placements(self.nodes, self.topology)
            except NodeAccessError as exc:  # no node reachable: try a pod
                hosts, why = [], str(exc)
            found += hosts
            self._why_not_host = why
            if why:
                reasons.append(why)
        pod, why = pod_placement(self.cluster)
        if pod is not None:
            found.append(pod)
        else:
            reasons.append(why)
        if not found:
            why = "etcd cannot be observed: " + "; ".join(
                r for r in reasons if r
            )
            if self.topology.control_plane_mode == "hidden":
                why = not_visible(why)
            raise Unobservable(why)
        return found

    def _where(self) -> str:
        placements = self._placements or []
        return placements[0].where if placements else "nowhere"

    def _first(
        self,
        args: Sequence[str],
        endpoints: Sequence[str] | None,
        good: Callable[[subprocess.CompletedProcess[str]], bool],
    ) -> subprocess.CompletedProcess[str]:
        for attempt in range(2):
            last: subprocess.CompletedProcess[str] | None = None
            vanished = False
            for placement in self.placements():
                proc = _run_at(placement, args, endpoints)
                if good(proc):
                    return proc
                vanished |= proc.returncode in _NOT_FOUND
                last = last or proc
            if not vanished or attempt:
                assert last is not None
                return last
            self._placements = None  # etcdctl moved: find it again
        raise AssertionError("unreachable")


def _run_at(
    placement: Placement, args: Sequence[str], endpoints: Sequence[str] | None
) -> subprocess.CompletedProcess[str]:
    """One placement's answer; a placement that cannot be reached (its
    node cut off, the exec path down) answers as a failed command, so
    the next placement is tried."""
    try:
        return placement.run(args, endpoints)
    except (GauntletError, subprocess.SubprocessError, OSError) as exc:
        return subprocess.CompletedProcess(
            list(args), _UNREACHED, "", f"{placement.where}: {exc}"
        )


def _ran(proc: subprocess.CompletedProcess[str]) -> bool:
    return proc.returncode not in (_UNREACHED, *_NOT_FOUND)


def _has_rows(proc: subprocess.CompletedProcess[str]) -> bool:
    try:
        found = json.loads(proc.stdout or "[]")
    except ValueError:
        return False
    return isinstance(found, list) and bool(found)


def _parsed(
    proc: subprocess.CompletedProcess[str], args: Sequence[str], where: str
) -> Any:
    try:
        return json.loads(proc.stdout)
    except ValueError as exc:
        raise ClusterOperationFailed(
            f"etcdctl {' '.join(args)}",
            f"etcd from {where}",
            None,
            _last_line(proc),
        ) from exc


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr or proc.stdout or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else f"exit {proc.returncode}"
