"""Locust user: a mix of GET, LIST, CREATE, UPDATE, DELETE and WATCH.

Run by ``gauntlet.load.runner`` as a locustfile. Credentials come from the
environment (client cert/key files or a bearer token, and a CA), written
by the runner from the kubeconfig. Request names encode verb and SLO scope
(``GET single configmap``, ``LIST namespace configmaps``, ``LIST cluster
pods``) so the judge can pick each one's bound.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from locust import HttpUser, between, events, task

NAMESPACE = os.environ.get("KG_LOAD_NAMESPACE", "default")
_server_errors = 0


@events.request.add_listener  # type: ignore[untyped-decorator]
def _count_5xx(response: Any = None, **_kw: Any) -> None:
    global _server_errors
    if response is not None and getattr(response, "status_code", 0) >= 500:
        _server_errors += 1


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _write_5xx(**_kw: Any) -> None:
    path = os.environ.get("KG_LOAD_5XX_FILE")
    if path:
        with open(path, "w") as out:
            out.write(str(_server_errors))


class ApiServerUser(HttpUser):
    """One API client doing the upstream SLO's request mix."""

    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self.client.verify = os.environ.get("KG_LOAD_CA") or False
        cert, key = (
            os.environ.get("KG_LOAD_CERT"),
            os.environ.get("KG_LOAD_KEY"),
        )
        if cert and key:
            self.client.cert = (cert, key)
        token = os.environ.get("KG_LOAD_TOKEN")
        if token:
            self.client.headers["Authorization"] = f"Bearer {token}"
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
        with self.client.post(
            self._cms,
            json=body,
            name="CREATE single configmap",
            catch_response=True,
        ) as resp:
            if resp.status_code == 201:
                self.mine.append(name)
                resp.success()

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
