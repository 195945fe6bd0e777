"""RES-08's bound: the leader election each component is configured with.

A standby sees the holder's last renewal up to one jittered retry late
and takes the expired Lease at its next jittered try, so the bound is
leaseDuration + retryPeriod as client-go times them. Both are read where
the cluster configures them, best first:

* the component's command line on every control plane (node access):
  ``--leader-elect-lease-duration`` and ``--leader-elect-retry-period``,
  which override a ``--config`` file; the slowest instance counts, since
  any of them may be the standby;
* the Lease's ``spec.leaseDurationSeconds``, which its holder writes
  (a config file's lease duration included; the retry period is not
  published anywhere);
* the upstream defaults, 15 s and 2 s, and the evidence says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.host import components, flag_value

__all__ = [
    "DEFAULT_LEASE_DURATION_S",
    "DEFAULT_RETRY_PERIOD_S",
    "ElectionTiming",
    "component_argvs",
    "election_timing",
    "go_duration_s",
    "lease_duration_of",
]

DEFAULT_LEASE_DURATION_S = 15.0
"""kube-scheduler's and kube-controller-manager's default leaseDuration."""
DEFAULT_RETRY_PERIOD_S = 2.0
"""Their default retryPeriod."""
RETRY_JITTER = 1.2
"""client-go waits retryPeriod * (1 + up to 1.2) between tries."""
LEASE_FLAG = "leader-elect-lease-duration"
RETRY_FLAG = "leader-elect-retry-period"
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
_GO_UNITS |= {"m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


@dataclass(frozen=True)
class ElectionTiming:
    """The leader election a component runs with, and where that was
    read (for the evidence)."""

    lease_duration_s: float
    retry_period_s: float
    source: str

    @property
    def takeover_bound_s(self) -> float:
        """leaseDuration + retryPeriod as client-go times them (about
        24 s with the defaults; a healthy lab measures 15-18 s)."""
        return self.lease_duration_s + 2 * self.retry_period_s * (
            1 + RETRY_JITTER
        )


def go_duration_s(text: str) -> float:
    """Seconds in a Go duration such as ``15s``, ``1m30s`` or ``500ms``.

    Raises:
        ValueError: not a Go duration.
    """
    parts = _GO_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(n) * _GO_UNITS[u] for n, u in parts)


def election_timing(
    argvs: Sequence[Sequence[str]] | None, lease_seconds: int | None
) -> ElectionTiming:
    """The timing from the instances' command lines (None: not readable
    without node access) and the Lease's ``spec.leaseDurationSeconds``.

    Raises:
        ValueError: a flag's value is not a Go duration.
    """
    seen = list(argvs or [])
    if lease_seconds:
        lease_fallback = (float(lease_seconds), "the Lease's spec")
    else:
        lease_fallback = (DEFAULT_LEASE_DURATION_S, "the upstream default")
    lease, lease_from = _slowest(seen, LEASE_FLAG, *lease_fallback)
    retry, retry_from = _slowest(
        seen, RETRY_FLAG, DEFAULT_RETRY_PERIOD_S, "the upstream default"
    )
    where = (
        "command lines not readable (no node access)"
        if argvs is None
        else f"{len(seen)} command lines read"
    )
    return ElectionTiming(
        lease,
        retry,
        f"leaseDuration {lease:g}s from {lease_from}, retryPeriod "
        f"{retry:g}s from {retry_from} ({where})",
    )


def component_argvs(
    access: NodeAccess, nodes: Iterable[str]
) -> dict[str, list[tuple[str, ...]]]:
    """Component name -> the command line of each of its processes on
    ``nodes``."""
    found: dict[str, list[tuple[str, ...]]] = {}
    for node in nodes:
        for comp in components(access, node):
            found.setdefault(comp.name, []).append(comp.argv)
    return found


def lease_duration_of(lease: Any) -> int | None:
    """A Lease's ``spec.leaseDurationSeconds`` (None when unset)."""
    spec = getattr(lease, "spec", None)
    value = getattr(spec, "lease_duration_seconds", None)
    return int(value) if value else None


def _slowest(
    argvs: Sequence[Sequence[str]],
    flag: str,
    fallback: float,
    fallback_from: str,
) -> tuple[float, str]:
    """The largest value of ``--flag`` over ``argvs``; an instance
    without it runs with ``fallback``."""
    values = [flag_value(argv, flag) for argv in argvs]
    flagged = [go_duration_s(v) for v in values if v]
    if not flagged:
        return fallback, f"{fallback_from} (--{flag} not set)"
    unset = len(values) - len(flagged)
    value = max([*flagged, *([fallback] if unset else [])])
    return value, f"--{flag} on {len(flagged)} of {len(values)} instances"
