"""Locust user: the scenario's weighted mix of Kubernetes API requests.

The locustfile run by ``gauntlet.load.runner`` (and by remote workers:
``python -m locust -f <this file> --worker --master-host H --master-port
P``). A worker's environment needs ``KG_LOAD_NAMESPACE``,
``KG_LOAD_SCENARIO``, ``KG_LOAD_RUN_ID``, ``KG_LOAD_THINK`` (else the
default think time) and the credentials' source
(``KG_LOAD_IN_CLUSTER=1`` in a pod, else ``KG_LOAD_KUBECONFIG`` and
``KG_LOAD_CONTEXT``), plus ``PYTHONPATH`` reaching this package; the
pace comes from the master.

Users are ``FastHttpUser`` (geventhttpclient): TLS verified against the
cluster CA, with the client certificate when the kubeconfig has one; the
Authorization header is asked of ``Credentials`` before each request
(cached there), so an expiring token is renewed as the kubernetes client
would. Request
names encode verb, SLO scope and variant (``gauntlet.load.slo
.REQUEST_KINDS``); a paged LIST counts each page as one request of its
name. WATCH streams run beside the user's other requests (a greenlet
each, ``timeoutSeconds`` 5-10), their events counted (a stream opened
without a resourceVersion starts with an ADDED event per existing
object), never timed.
Everything a user creates carries ``kg-load-run=<run id>`` and is
deleted when the user stops, within ``CLEANUP_S``; the runner's label
sweep removes (and counts) the rest.
A request still unanswered when Locust kills its user (the run's
``--stop-timeout`` over) counts as "no response" in the second it was
sent if it waited past its SLO bound, so a starved API's slowest requests
are not dropped from the verdict; under the bound it is not counted.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import gevent
import gevent.ssl
from gevent.pool import Group
from locust.contrib.fasthttp import FastHttpUser

# Imported after locust: gevent has patched ssl before kubernetes loads.
from gauntlet.load.credentials import Source, resolve
from gauntlet.load.node import NODE
from gauntlet.load.pace import Pacer
from gauntlet.load.runner import (
    CLEANUP_S,
    ENV_NAMESPACE,
    ENV_RUN_ID,
    ENV_SCENARIO,
    LABEL,
)
from gauntlet.load.scenarios import SCENARIOS
from gauntlet.load.shape import RunShape
from gauntlet.load.slo import SLO_P99_S, UNTIMED

__all__ = ["ApiServerUser", "RunShape"]

NAMESPACE = os.environ[ENV_NAMESPACE]
SCENARIO = os.environ.get(ENV_SCENARIO) or "default"
RUN_ID = os.environ.get(ENV_RUN_ID) or uuid.uuid4().hex[:10]
CREDENTIALS = resolve(Source.from_env(os.environ))
SEEDS = 2
"""Objects each user creates as it starts, so reads find one."""
PAGE = {"namespace": 20, "cluster": 50}
"""``limit`` of a paged LIST by scope."""
MAX_PAGES = 200
WATCH_S = (5, 10)
MAX_WATCHES = 4
"""Streams one user holds open at once; a WATCH over it is not sent."""
IDLE_S = 0.01
"""Least wait after a task that sent nothing (a WATCH over the limit),
so a user with no think time does not spin."""


class CutAtEnd(Exception):
    """A request still unanswered when the run's grace was over."""


class _CleanupOver(BaseException):
    """``CLEANUP_S`` is up (a BaseException, so no request handler
    takes it for the request's own failure)."""


def _ssl_context(
    cafile: str | None = None, **_kw: Any
) -> gevent.ssl.SSLContext:
    """The TLS the kubernetes client would use: the kubeconfig's CA (or
    the system's), its client certificate, or no verification when it
    says ``insecure-skip-tls-verify``. ``cafile`` (geventhttpclient's
    default bundle) is ignored."""
    verify = CREDENTIALS.verify
    if verify is False:
        ctx = gevent.ssl._create_unverified_context()
    elif isinstance(verify, str):
        ctx = gevent.ssl.create_default_context(cafile=verify)
    else:
        ctx = gevent.ssl.create_default_context()
    if CREDENTIALS.cert is not None:
        ctx.load_cert_chain(*CREDENTIALS.cert)
    return ctx


def _proxy() -> tuple[str | None, int | None]:
    if not CREDENTIALS.proxy:
        return None, None
    parts = urlsplit(CREDENTIALS.proxy)
    return parts.hostname, parts.port or 3128


def _tasks() -> dict[Callable[[Any], None], int]:
    """The scenario's weights on the user's methods."""
    ns = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    pods = "/api/v1/pods"
    by_name: dict[str, Callable[[Any], None]] = {
        "GET single configmap": lambda u: u.req_get(),
        "LIST namespace configmaps": lambda u: u.list_objects(
            ns, "LIST namespace configmaps"
        ),
        "LIST namespace configmaps rv=0": lambda u: u.list_objects(
            ns, "LIST namespace configmaps rv=0", "?resourceVersion=0"
        ),
        "LIST namespace configmaps paged": lambda u: u.list_paged(
            ns, "LIST namespace configmaps paged", PAGE["namespace"]
        ),
        "LIST cluster pods": lambda u: u.list_objects(
            pods, "LIST cluster pods"
        ),
        "LIST cluster pods rv=0": lambda u: u.list_objects(
            pods, "LIST cluster pods rv=0", "?resourceVersion=0"
        ),
        "LIST cluster pods paged": lambda u: u.list_paged(
            pods, "LIST cluster pods paged", PAGE["cluster"]
        ),
        "CREATE single configmap": lambda u: u.req_create(),
        "UPDATE single configmap": lambda u: u.req_update(),
        "PATCH single configmap": lambda u: u.req_patch(),
        "DELETE single configmap": lambda u: u.req_delete(),
        "WATCH namespace configmaps": lambda u: u.req_watch(),
    }
    return {by_name[name]: w for name, w in SCENARIOS[SCENARIO].items()}


class ApiServerUser(FastHttpUser):
    """One API client sending the scenario's mix at the pace it is given."""

    insecure = CREDENTIALS.verify is False
    ssl_context_factory = staticmethod(_ssl_context)
    proxy_host, proxy_port = _proxy()
    concurrency = MAX_WATCHES + 2
    network_timeout = 60.0
    connection_timeout = 10.0
    tasks = _tasks()  # type: ignore[assignment]

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        # No cookie jar, as the kubernetes client has none: the API sets
        # no cookies, and the jar cost 0.1 ms of CPU per request.
        self.client.client.cookiejar = None
        self.mine: dict[str, str] = {}
        """Objects this user created: name -> last resourceVersion."""
        self.sent = 0
        self.pacer = Pacer()
        self.phase = random.random()
        self.watches = Group()
        self.serial = 0
        self.cleaning = False

    def wait_time(self) -> float:
        """Paced by requests sent (``gauntlet.load.pace``), else the
        plan's think time (none: the next task at once)."""
        sent, self.sent = self.sent, 0
        pace = NODE.pace
        if pace is None:
            low, high = NODE.think
            wait = random.uniform(low, high) if high > 0 else 0.0
        else:
            wait = self.pacer.wait(sent, time.monotonic(), pace, self.phase)
        return wait if sent else max(wait, IDLE_S)

    # -- plumbing -------------------------------------------------------

    @property
    def _cms(self) -> str:
        return f"/api/v1/namespaces/{NAMESPACE}/configmaps"

    def _send(self, method: str, url: str, name: str, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        header = CREDENTIALS.authorization()
        if header:
            headers["Authorization"] = header
        headers.setdefault("Accept", "application/json")
        self.sent += 1
        began = time.time()
        try:
            return self.client.request(
                method, url, name=name, headers=headers, **kw
            )
        except gevent.GreenletExit:
            self._cut(method, name, began)
            raise

    def _cut(self, method: str, name: str, began: float) -> None:
        """A request Locust killed at the end of the run (``--stop-timeout``
        over): counted, in the second it was sent, as a request that got
        no answer when it had waited past its SLO bound (a client timeout
        would have said the same); under it, nothing is known, so not
        counted. Watches and the users' cleanup are never counted so."""
        waited = time.time() - began
        if self.cleaning or name.startswith(UNTIMED):
            return
        scope = name.split()[1]
        bound = SLO_P99_S.get(scope)
        if bound is None:
            scope, bound = "single", SLO_P99_S["single"]
        if waited <= bound:
            return
        self.environment.events.request.fire(
            request_type=method,
            name=name,
            response_time=waited * 1000,
            response_length=0,
            response=None,
            context={},
            exception=CutAtEnd(
                f"no answer in {waited:.1f}s, over the {scope} SLO "
                f"{bound:g}s, cut at the end of the run"
            ),
            start_time=began,
            url=None,
        )

    def _keep(self, resp: Any) -> None:
        """Remember an object's name and resourceVersion from a reply."""
        if resp.status_code in (200, 201):
            meta = json.loads(resp.text or "{}").get("metadata", {})
            if meta.get("name"):
                self.mine[meta["name"]] = str(meta.get("resourceVersion", ""))

    def _pick(self) -> str | None:
        return random.choice(list(self.mine)) if self.mine else None

    # -- requests ------------------------------------------------------

    def req_create(self) -> None:
        self.serial += 1
        body = {
            "metadata": {
                "name": f"kg-load-{uuid.uuid4().hex[:12]}",
                "labels": {"kg-load": "1", LABEL: RUN_ID},
            },
            "data": {"v": str(self.serial)},
        }
        self._keep(
            self._send("POST", self._cms, "CREATE single configmap", json=body)
        )

    def req_get(self) -> None:
        name = self._pick()
        if name is None:
            return self.req_create()
        self._send("GET", f"{self._cms}/{name}", "GET single configmap")

    def req_update(self) -> None:
        name = self._pick()
        if name is None:
            return self.req_create()
        self.serial += 1
        body = {
            "metadata": {
                "name": name,
                "resourceVersion": self.mine[name],
                "labels": {"kg-load": "1", LABEL: RUN_ID},
            },
            "data": {"v": str(self.serial)},
        }
        self._keep(
            self._send(
                "PUT",
                f"{self._cms}/{name}",
                "UPDATE single configmap",
                json=body,
            )
        )

    def req_patch(self) -> None:
        name = self._pick()
        if name is None:
            return self.req_create()
        self.serial += 1
        self._keep(
            self._send(
                "PATCH",
                f"{self._cms}/{name}",
                "PATCH single configmap",
                data=json.dumps({"data": {"p": str(self.serial)}}),
                headers={"Content-Type": "application/merge-patch+json"},
            )
        )

    def req_delete(self) -> None:
        if len(self.mine) <= 1:
            return self.req_create()
        name = next(iter(self.mine))
        resp = self._send(
            "DELETE", f"{self._cms}/{name}", "DELETE single configmap"
        )
        if resp.status_code in (200, 202, 404):
            self.mine.pop(name, None)

    def list_objects(self, path: str, name: str, query: str = "") -> None:
        self._send("GET", f"{path}{query}", name)

    def list_paged(self, path: str, name: str, limit: int) -> None:
        """One LIST walked page by page; each page is one request."""
        token = ""
        for _ in range(MAX_PAGES):
            query = f"?limit={limit}"
            if token:
                query += f"&continue={quote(token, safe='')}"
            resp = self._send("GET", path + query, name)
            if resp.status_code != 200:
                return
            token = (
                json.loads(resp.text or "{}")
                .get("metadata", {})
                .get("continue", "")
            )
            if not token:
                return

    def req_watch(self) -> None:
        """Open a stream beside the user's requests."""
        if len(self.watches) >= MAX_WATCHES:
            return
        self.watches.spawn(self._hold_watch)

    def _hold_watch(self) -> None:
        name = "WATCH namespace configmaps"
        seconds = random.randint(*WATCH_S)
        resp = self._send(
            "GET",
            f"{self._cms}?watch=1&timeoutSeconds={seconds}",
            name,
            stream=True,
            headers={"Accept-Encoding": "identity"},
        )
        if resp.status_code != 200:
            return
        with gevent.Timeout(seconds + 10, False):
            for chunk in resp.iter_content(
                chunk_size=4096, decode_content=False
            ):
                lines = chunk.count(b"\n" if isinstance(chunk, bytes) else "\n")
                if lines:
                    NODE.tally.event(name, lines, time.time())

    # -- lifecycle -----------------------------------------------------

    def on_start(self) -> None:
        for _ in range(SEEDS):
            self.req_create()
        self.sent = 0

    def on_stop(self) -> None:
        """Delete what this user created, for ``CLEANUP_S`` at most."""
        self.watches.kill(block=False)
        self.cleaning = True
        # Not a gevent.Timeout: locust counts that as the request's
        # failure ("no response") and goes on to the next DELETE.
        try:
            with gevent.Timeout(CLEANUP_S, _CleanupOver):
                for name in list(self.mine):
                    resp = self._send(
                        "DELETE",
                        f"{self._cms}/{name}",
                        "DELETE single configmap",
                    )
                    if resp.status_code in (200, 202, 404):
                        self.mine.pop(name, None)
        except _CleanupOver:
            pass  # the DELETE cut short is not counted; the sweep has it
