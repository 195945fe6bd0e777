"""What the ARCH checks observe with: watches, events and leader leases.

A ``Watcher`` lists, then watches from the list's resourceVersion in a
thread, and keeps every version it saw with the wall-clock time it arrived,
so a check can ask when something first became true with sub-second
resolution and without polling the API. The note helpers turn a stuck
condition into evidence that names the component (a leader Lease nobody
renews, a node Lease gone stale).
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.cluster.client import Cluster

__all__ = [
    "KubeObject",
    "Seen",
    "Watcher",
    "event_reporter",
    "event_time",
    "joined",
    "leader_lease_note",
    "node_lease_note",
    "percentile",
    "pod_events",
    "seconds",
    "unique",
]

KubeObject = Any
"""An API object (``V1Pod``, ``V1Lease``, ...) as the checks read it.

The generated models mark every field optional; a check treats a missing
field that the API always sets as a broken cluster, not as a type case,
so objects are read untyped at this boundary.
"""

WATCH_WINDOW_S = 5
"""Server-side watch timeout; the watcher reconnects from its last RV."""
RETRY_S = 0.5
T = TypeVar("T")


@dataclass(frozen=True)
class Seen:
    """One version of an object and when (``time.time()``) it arrived."""

    at: float
    kind: str
    """``LISTED``, ``ADDED``, ``MODIFIED`` or ``DELETED``."""
    obj: Any


class Watcher:
    """List+watch one resource in a thread; keep every version seen.

    Use as a context manager: entering lists (synchronously, so the
    caller's next create is seen as an event) and starts the watch;
    leaving stops it. ``list_fn`` is a typed list call such as
    ``core.list_namespaced_pod``; ``args``/``kwargs`` go to it.
    """

    def __init__(
        self, list_fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        self._list_fn = list_fn
        self._args = args
        self._kwargs = kwargs
        self._lock = threading.Lock()
        self._history: dict[str, list[Seen]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = 0.0
        """``time.monotonic()`` when the list was taken (0 before)."""
        self.error: str | None = None
        """The last watch error (the watcher keeps retrying)."""

    def __enter__(self) -> Watcher:
        self.started = time.monotonic()
        rv = self._relist()
        self._thread = threading.Thread(
            target=self._run, args=(rv,), daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop watching; the thread ends at its next event or window."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=RETRY_S)

    # -- queries --------------------------------------------------------------

    def history(self, name: str) -> list[Seen]:
        with self._lock:
            return list(self._history.get(name, ()))

    def latest(self) -> dict[str, Any]:
        """Name -> newest version, without objects seen deleted."""
        with self._lock:
            return {
                name: seen[-1].obj
                for name, seen in self._history.items()
                if seen and seen[-1].kind != "DELETED"
            }

    def first(self, name: str, predicate: Callable[[Any], bool]) -> Seen | None:
        """The first version of ``name`` for which ``predicate`` holds."""
        for seen in self.history(name):
            if seen.kind != "DELETED" and predicate(seen.obj):
                return seen
        return None

    def wait(
        self,
        what: str,
        probe: Callable[[], T | None],
        timeout_s: float,
        poll_s: float,
        describe: Callable[[], str] | None = None,
    ) -> T:
        """``progress.wait_until`` over the in-memory state (no API calls).

        Raises:
            GuaranteeTimeout: with ``describe()`` as the last state.
        """

        def described() -> str:
            state = describe() if describe else "not reached"
            if self.error:
                return f"{state}; watch error: {self.error}"
            return state

        return progress.wait_until(
            what, probe, timeout_s, poll_s, described, quiet=True
        )

    # -- the thread -----------------------------------------------------------

    def _record(self, kind: str, obj: Any) -> None:
        name = obj.metadata.name
        with self._lock:
            self._history.setdefault(name, []).append(
                Seen(time.time(), kind, obj)
            )

    def _relist(self) -> str:
        listed = self._list_fn(*self._args, **self._kwargs)
        for item in listed.items:
            self._record("LISTED", item)
        return str(listed.metadata.resource_version)

    def _run(self, rv: str) -> None:
        while not self._stop.is_set():
            stream = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                for event in stream.stream(  # type: ignore[no-untyped-call]
                    self._list_fn,
                    *self._args,
                    resource_version=rv,
                    timeout_seconds=WATCH_WINDOW_S,
                    _request_timeout=WATCH_WINDOW_S + 5,
                    **self._kwargs,
                ):
                    if self._stop.is_set():
                        stream.stop()  # type: ignore[no-untyped-call]
                        break
                    self._record(event["type"], event["object"])
                    rv = str(stream.resource_version or rv)
                rv = str(stream.resource_version or rv)
            except ApiException as exc:
                self.error = _short(f"{exc.status} {exc.reason}")
                if self._stop.is_set():
                    return
                if exc.status == 410:
                    rv = self._relist_quietly(rv)
                else:
                    self._stop.wait(RETRY_S)
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                self.error = _short(f"{type(exc).__name__}: {exc}")
                self._stop.wait(RETRY_S)

    def _relist_quietly(self, rv: str) -> str:
        try:
            return self._relist()
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            self.error = _short(f"relist: {exc}")
            self._stop.wait(RETRY_S)
            return rv


# -- events -------------------------------------------------------------------


def pod_events(
    core: client.CoreV1Api, namespace: str
) -> dict[str, list[KubeObject]]:
    """Pod UID -> the namespace's events about that pod."""
    found: dict[str, list[KubeObject]] = {}
    listed: KubeObject = core.list_namespaced_event(namespace)
    for event in listed.items:
        obj = event.involved_object
        if obj is not None and obj.kind == "Pod" and obj.uid:
            found.setdefault(obj.uid, []).append(event)
    return found


def event_time(event: KubeObject) -> datetime:
    """When the event first happened (events.k8s.io time if present)."""
    when = (
        event.event_time
        or event.first_timestamp
        or event.metadata.creation_timestamp
    )
    return _aware(when)


def event_reporter(event: KubeObject) -> tuple[str, str]:
    """(component, instance): ``("kubelet", "w1")``, ``("default-scheduler",
    "")``; from the reporting fields, else the legacy source."""
    source = event.source or client.V1EventSource()
    component = event.reporting_component or source.component or ""
    instance = event.reporting_instance or source.host or ""
    return str(component), str(instance)


# -- leases -------------------------------------------------------------------


def leader_lease_note(cluster: Cluster, component: str) -> str:
    """Who leads ``component`` (its kube-system Lease) and how fresh it is.

    Returns a short phrase for a violation message, e.g. ``"kube-scheduler:
    no leader renewing (lease held by cp1_3f.., last renewed 41s ago)"``.
    """
    try:
        lease: KubeObject = cluster.coordination().read_namespaced_lease(
            component, "kube-system"
        )
    except ApiException as exc:
        return f"{component}: leader lease unreadable ({exc.status})"
    spec = lease.spec
    holder = spec.holder_identity or "nobody"
    age = _age_s(spec.renew_time)
    duration = spec.lease_duration_seconds or 15
    if age is None:
        return f"{component}: leader lease never renewed (holder {holder})"
    state = "no leader renewing" if age > duration else "leader renewing"
    return (
        f"{component}: {state} (lease held by {holder}, "
        f"last renewed {age:.0f}s ago)"
    )


def node_lease_note(cluster: Cluster, node: str) -> str:
    """How long ago the kubelet on ``node`` last renewed its node Lease."""
    try:
        lease: KubeObject = cluster.coordination().read_namespaced_lease(
            node, "kube-node-lease"
        )
    except ApiException as exc:
        return f"kubelet on {node}: node lease unreadable ({exc.status})"
    age = _age_s(lease.spec.renew_time)
    if age is None:
        return f"kubelet on {node}: node lease never renewed"
    return f"kubelet on {node}: node lease last renewed {age:.0f}s ago"


# -- numbers ------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 10 values is the largest)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def seconds(when: datetime) -> datetime:
    """Truncate to whole seconds (the resolution of most timestamps)."""
    return _aware(when).replace(microsecond=0)


def joined(items: Iterable[str], limit: int = 5) -> str:
    """``a, b, c`` with at most ``limit`` items and a ``+N more`` tail."""
    listed = list(items)
    head = ", ".join(listed[:limit])
    more = len(listed) - limit
    return f"{head} (+{more} more)" if more > 0 else head


def unique(prefix: str) -> str:
    """``prefix-3fa1``: a name that a re-run in the same namespace can
    use again (sabotage tests run a check twice in one namespace)."""
    return f"{prefix}-{secrets.token_hex(2)}"


def _short(text: str, limit: int = 120) -> str:
    """One line of at most ``limit`` characters (for messages)."""
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _age_s(when: datetime | None) -> float | None:
    if when is None:
        return None
    return (datetime.now(UTC) - _aware(when)).total_seconds()
