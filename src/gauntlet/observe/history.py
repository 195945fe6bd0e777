"""A client-side history of writes and reads through each API server.

Concurrent clients, one per API server endpoint (the servers themselves,
never the load balancer), write unique values to a few ConfigMap keys and
read them back, each request with a short timeout. Every operation is
kept with its interval (monotonic and UTC), its result and the
resourceVersion it saw; the judgement lives with the checks
(``gauntlet.checks.chaos.split_brain``).

A write that timed out (or got a 5xx) is indeterminate: it may or may
not have been applied, and either outcome is accepted.

``setup`` makes the keys' namespace exist through every endpoint: an API
server with a store of its own (a split brain) knows only the namespaces
made through it, and must be able to acknowledge the writes the checks
exist to catch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.cluster.client import Cluster
from gauntlet.errors import ClusterOperationFailed, GauntletError
from gauntlet.observe import endpoints
from gauntlet.observe.etcd import EtcdClient
from gauntlet.reporting.measurements import utc_iso, utc_now

__all__ = [
    "FINAL_CLIENT",
    "EtcdState",
    "HistoryRecorder",
    "OpKind",
    "OpResult",
    "Operation",
    "PartitionWindow",
    "collect_etcd_states",
    "ensure_namespace",
]

OpKind = Literal["write", "read"]
OpResult = Literal["ok", "fail", "timeout"]
FINAL_CLIENT = "final"
SETUP_CLIENT = "setup"
FIELD = "value"
NAMESPACE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Operation:
    """One request of the history, as the client saw it."""

    client: str
    """Client id; each client issues its operations one after another."""
    endpoint: str
    """The API server URL the request went to."""
    kind: OpKind
    key: str
    value: str | None
    """The value written, or the value read (``None``: key absent)."""
    start: float
    """``time.monotonic()`` when the request was sent."""
    end: float
    """``time.monotonic()`` when the answer (or the timeout) came."""
    start_utc: str
    end_utc: str
    result: OpResult
    """``ok`` acknowledged; ``fail`` definitely not applied (4xx, refused
    connection); ``timeout`` indeterminate (timeout, 5xx, cut
    connection)."""
    resource_version: int | None = None
    """The object's resourceVersion in the answer (``ok`` only)."""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PartitionWindow:
    """When the minority was cut off, and its API server endpoints."""

    start: float
    """Monotonic time the partition rules were in place."""
    end: float
    """Monotonic time the heal began."""
    minority_endpoints: frozenset[str]


@dataclass(frozen=True)
class EtcdState:
    """One etcd member after the heal: its KV hash at ``hash_revision``."""

    endpoint: str
    revision: int
    hash_revision: int
    hash: int


# -- etcd states --------------------------------------------------------------


def collect_etcd_states(
    etcd: EtcdClient, expected: int, timeout_s: float = 60.0
) -> list[EtcdState]:
    """Every member's KV hash at the lowest current revision.

    Retries until ``expected`` members answer both questions, or
    ``timeout_s`` passes; then returns what answered (the checker reports
    the gap).
    """
    deadline = time.monotonic() + timeout_s
    states: list[EtcdState] = []
    while True:
        try:
            members = etcd.statuses()
            revision = min(m.revision for m in members)
            states = [
                EtcdState(h.endpoint, h.revision, h.hash_revision, h.hash)
                for h in etcd.hashes(revision)
            ]
        except GauntletError:  # retried until the deadline
            states = []
        if len(states) >= expected or time.monotonic() >= deadline:
            return states
        time.sleep(1.0)


def ensure_namespace(
    core: client.CoreV1Api,
    name: str,
    labels: Mapping[str, str] | None = None,
    timeout_s: float = NAMESPACE_TIMEOUT_S,
) -> None:
    """Create namespace ``name`` through ``core``'s API server unless it
    is there (409); the caller recorded it in the fault ledger first.

    Raises:
        ApiException: any other answer (urllib3 errors: no answer).
    """
    body = client.V1Namespace(
        metadata=client.V1ObjectMeta(name=name, labels=dict(labels or {}))
    )
    try:
        core.create_namespace(body, _request_timeout=timeout_s)
    except ApiException as exc:
        if exc.status != 409:
            raise


# -- recorder -----------------------------------------------------------------


class HistoryRecorder:
    """Client loops writing and reading ConfigMap keys via each endpoint.

    Keys are ConfigMaps ``<prefix>-<i>`` in ``namespace`` with one data
    field; writes are server-side applies (create or update), so a write
    never depends on what another API server stored.
    """

    def __init__(
        self,
        cluster: Cluster,
        endpoints: Mapping[str, str],
        namespace: str,
        prefix: str = "kube-gauntlet-history",
        keys: int = 3,
        timeout_s: float = 2.0,
        pause_s: float = 0.05,
        reads: bool = True,
        split_reads: bool = False,
        namespace_labels: Mapping[str, str] | None = None,
    ) -> None:
        self.cluster = cluster
        self.endpoints = dict(endpoints)
        """Client id (usually the node) -> API server URL."""
        self.namespace = namespace
        self.namespace_labels = dict(namespace_labels or {})
        """Labels of the namespace where ``setup`` has to create it."""
        self.keys = [f"{prefix}-{i}" for i in range(keys)]
        self.timeout_s = timeout_s
        self.pause_s = pause_s
        self.reads = reads
        """Alternate writes and reads; ``False``: writes only."""
        self.split_reads = split_reads
        """One writer and one reader per endpoint instead of one client
        doing both, so a hanging read never delays the next write."""
        self._ops: list[Operation] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def ops(self) -> list[Operation]:
        """A copy of the operations so far, in completion order."""
        with self._lock:
            return list(self._ops)

    def setup(self, through: Iterable[str] = ()) -> None:
        """Make the namespace exist through the default server, every
        endpoint and each URL in ``through`` (API servers that may answer
        for the default server), then write an initial value to every key
        through the default server.

        Raises:
            ClusterOperationFailed: an API server refused the namespace.
        """
        for url in self.namespace_urls(through):
            self._ensure_namespace(url)
        api = endpoints.endpoint_client(self.cluster, None)
        try:
            for key in self.keys:
                self._write(
                    client.CoreV1Api(api),
                    SETUP_CLIENT,
                    self.cluster.server,
                    key,
                    f"{SETUP_CLIENT}:{key}",
                )
        finally:
            api.close()  # type: ignore[no-untyped-call]

    def start(self) -> None:
        """Start the client threads (one or two per endpoint)."""
        self._stop.clear()
        for name, url in self.endpoints.items():
            if self.split_reads:
                clients = [(name, "write"), (f"{name}-reader", "read")]
            elif self.reads:
                clients = [(name, "mixed")]
            else:
                clients = [(name, "write")]
            for who, mode in clients:
                thread = threading.Thread(
                    target=self._loop,
                    args=(who, url, mode),
                    daemon=True,
                    name=f"history-{who}",
                )
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        """Stop the clients and wait for their last request."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout_s + 5.0)
        self._threads.clear()

    def final_reads(self, timeout_s: float = 60.0) -> None:
        """Read every key through every endpoint, retrying failed reads
        until each key has one successful final read or time runs out."""
        deadline = time.monotonic() + timeout_s
        pending = set(self.keys)
        while pending and time.monotonic() < deadline:
            for url in self.endpoints.values():
                api = endpoints.endpoint_client(self.cluster, url)
                core = client.CoreV1Api(api)
                try:
                    for key in sorted(pending):
                        if self._read(core, FINAL_CLIENT, url, key) == "ok":
                            pending.discard(key)
                finally:
                    api.close()  # type: ignore[no-untyped-call]
            if pending:
                time.sleep(1.0)

    def namespace_urls(self, through: Iterable[str] = ()) -> list[str]:
        """Where ``setup`` makes the namespace: every server written to."""
        urls = [self.cluster.server, *self.endpoints.values(), *through]
        return list(dict.fromkeys(urls))

    def _ensure_namespace(self, url: str) -> None:
        api = endpoints.endpoint_client(self.cluster, url)
        try:
            ensure_namespace(
                client.CoreV1Api(api), self.namespace, self.namespace_labels
            )
        except (ApiException, urllib3.exceptions.HTTPError) as exc:
            raise ClusterOperationFailed(
                "create",
                f"namespace {self.namespace}",
                None,
                f"through {url}: {_describe(exc)}",
            ) from exc
        finally:
            api.close()  # type: ignore[no-untyped-call]

    def _loop(self, name: str, url: str, mode: str) -> None:
        api = endpoints.endpoint_client(self.cluster, url)
        core = client.CoreV1Api(api)
        count = 0
        try:
            while not self._stop.is_set():
                key = self.keys[count % len(self.keys)]
                writing = mode == "write" or mode == "mixed" and count % 2 == 0
                if writing:
                    self._write(core, name, url, key, f"{name}:{count}")
                else:
                    self._read(core, name, url, key)
                count += 1
                self._stop.wait(self.pause_s)
        finally:
            api.close()  # type: ignore[no-untyped-call]

    def _write(
        self, core: client.CoreV1Api, who: str, url: str, key: str, value: str
    ) -> OpResult:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": key, "namespace": self.namespace},
            "data": {FIELD: value},
        }

        def apply() -> tuple[str | None, int | None]:
            answer = core.patch_namespaced_config_map(
                key,
                self.namespace,
                body,
                field_manager="kube-gauntlet-history",
                force=True,
                _content_type="application/apply-patch+yaml",
                _request_timeout=self.timeout_s,
            )
            return value, _resource_version(answer)

        return self._timed(who, url, "write", key, value, apply)

    def _read(
        self, core: client.CoreV1Api, who: str, url: str, key: str
    ) -> OpResult:
        def get() -> tuple[str | None, int | None]:
            try:
                answer = core.read_namespaced_config_map(
                    key, self.namespace, _request_timeout=self.timeout_s
                )
            except ApiException as exc:
                if exc.status == 404:
                    # Not written yet: a successful read of "no value".
                    return None, None
                raise
            return (answer.data or {}).get(FIELD), _resource_version(answer)

        return self._timed(who, url, "read", key, None, get)

    def _timed(
        self,
        who: str,
        url: str,
        kind: OpKind,
        key: str,
        value: str | None,
        request: Callable[[], tuple[str | None, int | None]],
    ) -> OpResult:
        """Time ``request`` and record its outcome, failures included.

        ``request`` returns the value it saw and the resource version; a
        failed one is recorded with ``value``, the value it tried.
        """
        start, start_utc = time.monotonic(), utc_iso(utc_now())
        result: OpResult = "ok"
        rv: int | None = None
        error = ""
        try:
            value, rv = request()
        except Exception as exc:  # noqa: BLE001 - every outcome is recorded
            result, error = _classify(exc), _describe(exc)
        op = Operation(
            who,
            url,
            kind,
            key,
            value,
            start,
            time.monotonic(),
            start_utc,
            utc_iso(utc_now()),
            result,
            rv,
            error,
        )
        with self._lock:
            self._ops.append(op)
        return result


def _resource_version(obj: client.V1ConfigMap) -> int | None:
    text = obj.metadata.resource_version if obj.metadata else None
    return int(text) if text and text.isdigit() else None


def _classify(exc: BaseException) -> OpResult:
    """``fail`` only when the request surely did nothing."""
    if isinstance(exc, ApiException):
        status = exc.status or 0
        definite = 400 <= status < 500 and status != 408
        return "fail" if definite else "timeout"
    reason: BaseException | None = exc
    if isinstance(exc, urllib3.exceptions.MaxRetryError):
        reason = exc.reason
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return "fail"
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return "fail"
    return "timeout"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"{exc.status} {exc.reason}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"[:160]
