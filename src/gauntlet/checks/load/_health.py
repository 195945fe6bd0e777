"""``/livez`` and ``/readyz`` of every API server while LOAD-02 ramps.

An overloaded API server that sheds well still answers its health
endpoints: kubelets (static pods), load balancers and operators judge
it by them, and a server that stops answering is restarted or taken out
of rotation, turning a shed load into an outage. Each server is asked
at its own address (``checks/arch/_apiservers``) every
``PROBE_INTERVAL_S`` from a thread of its own, so one slow server does
not delay the others' probes; each answer's latency is kept.

Bounds: an answer is good when it is 200 within ``PROBE_TIMEOUT_S``;
a single bad answer is reported, ``MAX_BAD_IN_A_ROW`` or more in a row
(over a second without a good answer) is a finding.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import urllib3

from gauntlet.checks.arch._apiservers import ApiServer, api_pool, bearer
from gauntlet.cluster.client import Cluster
from gauntlet.observe.watch import percentile

__all__ = [
    "HEALTH_PATHS",
    "HealthProber",
    "Probe",
    "ProbeSummary",
    "summarise",
]

HEALTH_PATHS = ("/livez", "/readyz")
PROBE_INTERVAL_S = 0.5
PROBE_TIMEOUT_S = 5.0
"""An answer slower than this is a bad answer (and the probe gives up)."""
MAX_BAD_IN_A_ROW = 2
"""Bad answers in a row that make a finding (one is reported only)."""


@dataclass(frozen=True)
class Probe:
    """One probe of one path of one server."""

    server: str
    """The server's label (node and URL)."""
    path: str
    at: float
    latency_s: float
    status: int | None
    """None: no answer within the timeout (``error`` says why)."""
    error: str = ""

    @property
    def good(self) -> bool:
        return self.status == 200 and self.latency_s <= PROBE_TIMEOUT_S


@dataclass(frozen=True)
class ProbeSummary:
    """What one path of one server answered over the window."""

    server: str
    path: str
    probes: int
    bad: int
    longest_bad_run: int
    p99_s: float | None
    max_s: float | None
    first_bad: str
    """How the first bad answer looked (status or error)."""

    def finding(self) -> str | None:
        if self.longest_bad_run < MAX_BAD_IN_A_ROW:
            return None
        return (
            f"{self.server} {self.path}: {self.longest_bad_run} bad answers "
            f"in a row ({self.bad} of {self.probes}; first: {self.first_bad})"
        )


def summarise(probes: Iterable[Probe]) -> list[ProbeSummary]:
    """Per server and path, in probe order."""
    grouped: dict[tuple[str, str], list[Probe]] = {}
    for probe in sorted(probes, key=lambda p: p.at):
        grouped.setdefault((probe.server, probe.path), []).append(probe)
    out = []
    for (server, path), seen in sorted(grouped.items()):
        run = longest = 0
        for probe in seen:
            run = 0 if probe.good else run + 1
            longest = max(longest, run)
        bad = [p for p in seen if not p.good]
        answered = [p.latency_s for p in seen if p.status is not None]
        out.append(
            ProbeSummary(
                server=server,
                path=path,
                probes=len(seen),
                bad=len(bad),
                longest_bad_run=longest,
                p99_s=percentile(answered, 99) if answered else None,
                max_s=max(answered) if answered else None,
                first_bad=_how(bad[0]) if bad else "",
            )
        )
    return out


class HealthProber:
    """Probe every server's health paths from one thread per server.

    A context manager: probing runs between enter and exit.
    """

    def __init__(self, cluster: Cluster, servers: list[ApiServer]) -> None:
        self._cluster = cluster
        self._servers = servers
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.probes: list[Probe] = []

    def __enter__(self) -> HealthProber:
        for server in self._servers:
            thread = threading.Thread(
                target=self._run, args=(server,), daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=PROBE_TIMEOUT_S + 1)

    def _run(self, server: ApiServer) -> None:
        headers = bearer(self._cluster)
        timeout = urllib3.Timeout(total=PROBE_TIMEOUT_S)
        with api_pool(self._cluster, credentials=True) as pool:
            while not self._stop.is_set():
                began = time.monotonic()
                for path in HEALTH_PATHS:
                    self._probe(pool, server, path, headers, timeout)
                spent = time.monotonic() - began
                self._stop.wait(max(0.0, PROBE_INTERVAL_S - spent))

    def _probe(
        self,
        pool: urllib3.PoolManager,
        server: ApiServer,
        path: str,
        headers: dict[str, str],
        timeout: urllib3.Timeout,
    ) -> None:
        at = time.time()
        began = time.monotonic()
        try:
            resp = pool.request(
                "GET", server.url + path, headers=headers, timeout=timeout
            )
            status: int | None = resp.status
            error = "" if resp.status == 200 else _first_line(resp.data)
        except urllib3.exceptions.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"[:200]
        probe = Probe(
            server.label, path, at, time.monotonic() - began, status, error
        )
        with self._lock:
            self.probes.append(probe)


def _how(probe: Probe) -> str:
    if probe.status is None:
        return f"no answer after {probe.latency_s:.1f}s ({probe.error})"
    if probe.status != 200:
        return f"{probe.status} {probe.error}".strip()
    return f"200 after {probe.latency_s:.1f}s"


def _first_line(data: bytes) -> str:
    lines = data.decode(errors="replace").strip().splitlines()
    return lines[0][:120] if lines else ""
