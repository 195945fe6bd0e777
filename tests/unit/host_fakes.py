"""A stand-in node for live tests of host scripts: a PID namespace of its
own (its PID 1 is a ``sleep``, not systemd, so no systemd-run and no
cgroup move touch this machine), and a fake lab node supervisor.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from types import SimpleNamespace

import pytest

from gauntlet.nodes import restores as rs
from gauntlet.nodes.types import PARTITION


def pid_namespace_available():
    if not shutil.which("unshare") or not shutil.which("nsenter"):
        return False
    probe = ["unshare", "-p", "-f", "-n", "--mount-proc", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


live = pytest.mark.skipif(
    not pid_namespace_available(), reason="needs root, unshare, nsenter"
)


@pytest.fixture
def host(tmp_path, monkeypatch):
    """SimpleNamespace(pid, run, node, tmp): ``run(script)`` runs sh in
    the stand-in node; ``node`` is a fresh name for switch files."""
    keeper = subprocess.Popen(
        ["unshare", "-p", "-f", "-n", "--mount-proc", "sleep", "120"]
    )
    deadline = time.monotonic() + 10
    inner = None
    while inner is None and time.monotonic() < deadline:
        kids = f"/proc/{keeper.pid}/task/{keeper.pid}/children"
        text = open(kids).read().split() if os.path.exists(kids) else []
        inner = int(text[0]) if text else None
        time.sleep(0.05)
    assert inner, "the stand-in host did not start"
    monkeypatch.setattr(rs, "POLL_S", 0.1)
    monkeypatch.delenv("INVOCATION_ID", raising=False)

    def run(script, timeout_s=30):
        argv = ["nsenter", "-t", str(inner), "-p", "-m", "--", "sh", "-c"]
        return subprocess.run(
            [*argv, script],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    node = f"unit-{uuid.uuid4().hex[:8]}"
    yield SimpleNamespace(pid=inner, run=run, node=node, tmp=tmp_path)
    keeper.kill()
    keeper.wait()
    remove_host_files(node)


def remove_host_files(node):
    """The switch, log and watcher files a test left for ``node``."""
    for what in ("kubelet", "etcd", PARTITION):
        for path in glob.glob(rs.switch_path(node, what) + "*"):
            os.remove(path)


class FakeSupervisor:
    """A lab node supervisor that runs ``components`` and records every
    request; it answers until ``close``."""

    def __init__(self, path, components=("kubelet",)):
        self.path = str(path)
        self.components = list(components)
        self.requests = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen()
        self._server.settimeout(0.2)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def ops(self):
        return [(r["op"], r.get("name")) for r in self.requests]

    def _serve(self):
        while not self._done.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                request = json.loads(conn.makefile().readline())
                self.requests.append(request)
                reply = {"ok": True}
                if request["op"] == "status":
                    reply["components"] = [
                        {"name": n, "argv": [n]} for n in self.components
                    ]
                conn.sendall(json.dumps(reply).encode() + b"\n")

    def close(self):
        self._done.set()
        self._thread.join(5)
        self._server.close()
