"""Locust user: a mix of GET, LIST, CREATE, UPDATE, DELETE and WATCH.

Run by ``gauntlet.load.runner`` as a locustfile. Credentials are the
kubernetes client's own (``gauntlet.load.credentials``): the kubeconfig
named in the environment is loaded by ``kubernetes.config`` and every
request carries the Authorization header it gives at that moment. Every
outcome goes into a ``Tally`` written as Locust quits; the first 401 or
403 stops the run. Request names encode verb and SLO scope (``GET single
configmap``, ``LIST namespace configmaps``, ``LIST cluster pods``; see
``gauntlet.load.slo.REQUEST_KINDS``) so the judge can pick each bound.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import gevent
from locust import HttpUser, between, events, task
from locust.env import Environment

# Imported after locust: gevent has patched ssl before kubernetes loads.
from gauntlet.load.credentials import Source, resolve
from gauntlet.load.outcomes import NO_RESPONSE, Tally, api_message
from gauntlet.load.runner import ENV_NAMESPACE, ENV_TALLY
from gauntlet.load.slo import REFUSALS

NAMESPACE = os.environ[ENV_NAMESPACE]
CREDENTIALS = resolve(Source.from_env(os.environ))
TALLY = Tally()
_run: dict[str, Environment] = {}
_stopping: list[int] = []


@events.init.add_listener  # type: ignore[untyped-decorator]
def _remember(environment: Environment, **_kw: Any) -> None:
    _run["environment"] = environment


@events.request.add_listener  # type: ignore[untyped-decorator]
def _count(
    name: str,
    response_time: float,
    response: Any = None,
    exception: BaseException | None = None,
    **_kw: Any,
) -> None:
    if exception is None:
        TALLY.success(name, response_time)
        return
    status = int(getattr(response, "status_code", None) or NO_RESPONSE)
    TALLY.failure(name, status, lambda: _message(response, exception))
    if status in REFUSALS and not _stopping:
        _stopping.append(status)
        runner = _run["environment"].runner
        if runner is not None:
            gevent.spawn(runner.quit)


def _message(response: Any, exception: BaseException) -> str:
    body = getattr(response, "text", None)
    if getattr(response, "status_code", None) and body:
        return api_message(str(body))
    return str(exception) or type(exception).__name__


@events.quit.add_listener  # type: ignore[untyped-decorator]
def _write_tally(**_kw: Any) -> None:
    Path(os.environ[ENV_TALLY]).write_text(TALLY.to_json())


class ApiServerUser(HttpUser):
    """One API client doing the upstream SLO's request mix."""

    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self.client.verify = CREDENTIALS.verify
        if CREDENTIALS.cert is not None:
            self.client.cert = CREDENTIALS.cert
        if CREDENTIALS.proxy:
            self.client.proxies = {
                "http": CREDENTIALS.proxy,
                "https": CREDENTIALS.proxy,
            }
        self.client.auth = CREDENTIALS
        self.mine: list[str] = []

    @property
    def _cms(self) -> str:
        return f"/api/v1/namespaces/{NAMESPACE}/configmaps"

    @task(4)
    def create_configmap(self) -> None:
        name = f"kg-load-{uuid.uuid4().hex[:10]}"
        body = {
            "metadata": {"name": name, "labels": {"kg-load": "1"}},
            "data": {"v": "0"},
        }
        resp = self.client.post(
            self._cms, json=body, name="CREATE single configmap"
        )
        if resp.status_code == 201:
            self.mine.append(name)

    @task(6)
    def get_configmap(self) -> None:
        if self.mine:
            self.client.get(
                f"{self._cms}/{self.mine[-1]}", name="GET single configmap"
            )

    @task(3)
    def update_configmap(self) -> None:
        if self.mine:
            self.client.patch(
                f"{self._cms}/{self.mine[-1]}",
                json={"data": {"v": "1"}},
                headers={"Content-Type": "application/merge-patch+json"},
                name="UPDATE single configmap",
            )

    @task(3)
    def delete_configmap(self) -> None:
        if len(self.mine) > 2:
            self.client.delete(
                f"{self._cms}/{self.mine.pop(0)}",
                name="DELETE single configmap",
            )

    @task(3)
    def list_namespace(self) -> None:
        self.client.get(
            f"{self._cms}?labelSelector=kg-load%3D1",
            name="LIST namespace configmaps",
        )

    @task(1)
    def list_cluster(self) -> None:
        self.client.get("/api/v1/pods?limit=500", name="LIST cluster pods")

    @task(1)
    def watch_namespace(self) -> None:
        self.client.get(
            f"{self._cms}?watch=1&timeoutSeconds=1",
            name="WATCH namespace configmaps",
        )

    def on_stop(self) -> None:
        for name in self.mine:
            self.client.delete(
                f"{self._cms}/{name}", name="DELETE single configmap"
            )
