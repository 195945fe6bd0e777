"""Pinned versions of everything the lab builds, and why.

Kubernetes 1.37 is the newest release served here that still runs on a
cgroup v1 host (with ``failCgroupV1: false``); 1.36 is kept buildable for
upgrade rehearsals. etcd follows the release's pinned 3.7 line; containerd
2.x because Kubernetes 1.36+ no longer supports containerd 1.x.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Release:
    """One Kubernetes release and the versions of its companions."""

    kubernetes: str
    etcd: str
    containerd: str
    coredns: str

    @property
    def minor(self) -> int:
        return int(self.kubernetes.split(".")[1])


CURRENT = Release(
    kubernetes="v1.37.2",
    etcd="v3.7.3",
    containerd="v2.4.2",
    coredns="v1.14.6",
)
PREVIOUS = Release(
    kubernetes="v1.36.3",
    etcd="v3.7.3",
    containerd="v2.4.2",
    coredns="v1.14.6",
)
RELEASES = {r.kubernetes: r for r in (CURRENT, PREVIOUS)}
