"""What "healthy" looked like before an upgrade, and what changed since.

Pure data: the snapshot UPG-05 saves as ``baseline.json`` (with a schema
name and version, read back with a clear error on a bad file), and
``compare``, which the post-upgrade run judges by. Pods are matched by
their workload, not their name: a drain recreates pods under new names,
and what counts is whether each workload is back to its ready count.
Restarts are compared only for pods that kept their uid (a recreated pod
starts from zero).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gauntlet.errors import UsageError
from gauntlet.reporting.parts import PartResult

__all__ = [
    "LATENCY",
    "NODES",
    "RESTARTS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "WORKLOADS",
    "Baseline",
    "BaselineError",
    "Change",
    "Latency",
    "LatencyBound",
    "PodState",
    "Snapshot",
    "compare",
    "coverage",
    "load_baseline",
]

SCHEMA = "kube-gauntlet/baseline"
SCHEMA_VERSION = 1
RESTARTS = "container restarts"
WORKLOADS = "workloads back"
NODES = "nodes Ready"
LATENCY = "API latency"
HOW = (
    "pass the baseline.json a preupgrade run wrote: "
    "--baseline reports/<run id>/baseline.json"
)


class BaselineError(UsageError):
    """A baseline file that cannot be read as one."""


@dataclass(frozen=True)
class PodState:
    """One pod as the snapshot saw it."""

    namespace: str
    name: str
    uid: str
    node: str
    workload: str
    """``Deployment ns/name``, ``static ns/name``, ``Pod ns/name``..."""
    ready: bool
    restarts: Mapping[str, int] = field(default_factory=dict)
    """Container name -> restartCount."""

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name} on node {self.node or '-'}"


@dataclass(frozen=True)
class Latency:
    """Timed requests through the front door (the kubeconfig's server)."""

    samples: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Snapshot:
    """Pods, nodes and API latency at one moment."""

    taken: str
    """UTC, ISO 8601."""
    server: str
    """The API server's version (``/version`` gitVersion)."""
    pods: tuple[PodState, ...]
    nodes: Mapping[str, bool]
    """Node -> Ready."""
    latency: Latency


@dataclass(frozen=True)
class Baseline:
    """A snapshot and the gate's verdicts when it was taken."""

    snapshot: Snapshot
    gate: tuple[PartResult, ...] = ()
    """ARCH-11..14's parts, as UPG-05 judged them."""

    @property
    def green(self) -> bool:
        return not any(p.status == "violated" for p in self.gate)

    def to_json(self) -> str:
        snap = self.snapshot
        return json.dumps(
            {
                "schema": SCHEMA,
                "version": SCHEMA_VERSION,
                "green": self.green,
                "gate": [p.to_dict() for p in self.gate],
                "taken": snap.taken,
                "server": snap.server,
                "nodes": dict(snap.nodes),
                "latency": vars(snap.latency),
                "pods": [
                    {**vars(p), "restarts": dict(p.restarts)} for p in snap.pods
                ],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, source: str) -> Baseline:
        """Raises:
        BaselineError: not JSON, another schema or version, or a field
            missing or of the wrong type (named)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BaselineError(
                f"baseline {source}: not JSON ({exc}); {HOW}"
            ) from None
        try:
            return _parse(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(
                f"baseline {source}: {_why(exc)}; {HOW}"
            ) from None


def load_baseline(path: Path) -> Baseline:
    """Raises:
    BaselineError: the file is missing, unreadable or not a baseline."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(
            f"baseline {path}: {exc.strerror or exc}; {HOW}"
        ) from None
    return Baseline.from_json(text, str(path))


@dataclass(frozen=True)
class LatencyBound:
    """How much slower the API may answer after the upgrade.

    p99 over a few dozen requests is noisy, and a fast cluster doubles on
    a hiccup: a change needs both the ratio and the absolute slack, i.e.
    more than 2x the baseline's p99 and more than 100 ms over it.
    """

    ratio: float = 2.0
    slack_ms: float = 100.0

    def allowed_ms(self, before_ms: float) -> float:
        """The slowest p99 that is not a change."""
        return max(before_ms * self.ratio, before_ms + self.slack_ms)


@dataclass(frozen=True)
class Change:
    """One difference from the baseline that matters."""

    part: str
    """``RESTARTS``, ``WORKLOADS``, ``NODES`` or ``LATENCY``."""
    text: str


def compare(
    before: Snapshot, after: Snapshot, bound: LatencyBound = LatencyBound()
) -> list[Change]:
    """New restarts, workloads short of ready pods, nodes no longer Ready,
    and API latency worse than ``bound``."""
    changes = [Change(RESTARTS, t) for t in _new_restarts(before, after)]
    ready_before, ready_after = _ready(before), _ready(after)
    present = {p.workload for p in after.pods}
    for workload, count in ready_before.items():
        now = ready_after.get(workload, 0)
        if now >= count:
            continue
        state = f"{now} ready pod(s)" if workload in present else "no pod"
        changes.append(
            Change(
                WORKLOADS,
                f"{workload} has {state}, {count} ready at the baseline",
            )
        )
    for node, was_ready in before.nodes.items():
        if not was_ready or after.nodes.get(node):
            continue
        now_ = "is gone" if node not in after.nodes else "is not Ready now"
        changes.append(
            Change(NODES, f"node {node} was Ready at the baseline and {now_}")
        )
    allowed = bound.allowed_ms(before.latency.p99_ms)
    if after.latency.p99_ms > allowed:
        changes.append(
            Change(
                LATENCY,
                f"API latency p99 {after.latency.p99_ms:.0f} ms, "
                f"{before.latency.p99_ms:.0f} ms at the baseline (bound "
                f"{allowed:.0f} ms: {bound.ratio:g}x and +"
                f"{bound.slack_ms:.0f} ms)",
            )
        )
    return changes


def coverage(before: Snapshot, after: Snapshot) -> dict[str, int]:
    """How much each part compared: zero means nothing was observed."""
    uids = {p.uid for p in after.pods}
    return {
        RESTARTS: sum(1 for p in before.pods if p.uid in uids),
        WORKLOADS: len(_ready(before)),
        NODES: sum(1 for ready in before.nodes.values() if ready),
        LATENCY: min(before.latency.samples, after.latency.samples),
    }


def _new_restarts(before: Snapshot, after: Snapshot) -> list[str]:
    earlier = {p.uid: p for p in before.pods}
    found = []
    for pod in after.pods:
        was = earlier.get(pod.uid)
        if was is None:
            continue
        for container, count in pod.restarts.items():
            old = was.restarts.get(container, 0)
            if count > old:
                found.append(
                    f"pod {pod.label}: container {container} restarted "
                    f"{count - old} time(s) since the baseline "
                    f"({old} -> {count})"
                )
    return found


def _ready(snapshot: Snapshot) -> Counter[str]:
    return Counter(p.workload for p in snapshot.pods if p.ready)


def _why(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc)


def _parse(data: Any) -> Baseline:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if data.get("schema") != SCHEMA:
        raise ValueError(f"schema {data.get('schema')!r}, not {SCHEMA!r}")
    version = data.get("version")
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"schema version {version!r}; this kube-gauntlet reads version "
            f"{SCHEMA_VERSION}"
        )
    latency = _obj(data["latency"], "latency")
    samples = int(latency["samples"])
    if samples < 1:
        raise ValueError("latency has no sample")
    nodes = _obj(data["nodes"], "nodes")
    return Baseline(
        snapshot=Snapshot(
            taken=_str(data["taken"], "taken"),
            server=_str(data["server"], "server"),
            pods=tuple(_pod(p) for p in _list(data["pods"], "pods")),
            nodes={str(n): _bool(r, f"nodes.{n}") for n, r in nodes.items()},
            latency=Latency(
                samples=samples,
                p50_ms=float(latency["p50_ms"]),
                p99_ms=float(latency["p99_ms"]),
            ),
        ),
        gate=tuple(
            PartResult.from_dict(_obj(p, "gate part"))
            for p in _list(data.get("gate", []), "gate")
        ),
    )


def _pod(raw: Any) -> PodState:
    pod = _obj(raw, "pod")
    restarts = _obj(pod.get("restarts", {}), "pod restarts")
    return PodState(
        namespace=_str(pod["namespace"], "pod namespace"),
        name=_str(pod["name"], "pod name"),
        uid=_str(pod["uid"], "pod uid"),
        node=_str(pod["node"], "pod node"),
        workload=_str(pod["workload"], "pod workload"),
        ready=_bool(pod["ready"], "pod ready"),
        restarts={str(c): int(n) for c, n in restarts.items()},
    )


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{what} is not a list")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} is not a string")
    return value


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} is not true or false")
    return value
