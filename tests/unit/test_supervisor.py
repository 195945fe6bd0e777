"""The lab's node supervisor restarts crashed components like systemd's
``Restart=always`` and, once told ``Restart=no``, leaves them failed."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gauntlet.errors import LabError
from gauntlet.lab import supervisor_client
from gauntlet.lab.paths import LabPaths
from gauntlet.lab.supervisor import Supervisor
from gauntlet.nodes import supervisor_wire


def supervisor(tmp_path: Path) -> Supervisor:
    config = {
        "components": [
            {"name": "svc", "argv": ["sleep", "60"], "restart_delay_s": 0.1}
        ]
    }
    return Supervisor(config, tmp_path)


def tick_until(sup: Supervisor, test, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not test():
        assert time.monotonic() < deadline, sup.components[0].view()
        sup._tick()
        time.sleep(0.02)


def crash(sup: Supervisor) -> int:
    comp = sup.by_name["svc"]
    assert comp.pid is not None
    old = comp.pid
    sup.handle({"op": "kill", "name": "svc", "signal": int(signal.SIGKILL)})
    return old


def test_a_crashed_component_is_restarted_after_its_delay(tmp_path):
    sup = supervisor(tmp_path)
    comp = sup.by_name["svc"]
    try:
        tick_until(sup, lambda: comp.pid is not None)
        old = crash(sup)
        tick_until(sup, lambda: comp.pid not in (None, old))
        assert comp.restarts == 1
        assert comp.state == "running"
    finally:
        sup.stop(comp)


def test_with_restart_off_a_crashed_component_stays_failed_until_started(
    tmp_path,
):
    sup = supervisor(tmp_path)
    comp = sup.by_name["svc"]
    try:
        tick_until(sup, lambda: comp.pid is not None)
        reply = sup.handle(
            {"op": "set_restart", "name": "svc", "restart": False}
        )
        assert reply["component"]["restart"] is False
        crash(sup)
        tick_until(sup, lambda: comp.state == "failed")
        for _ in range(10):
            sup._tick()
            time.sleep(0.02)
        assert comp.pid is None and comp.state == "failed"
        sup.handle({"op": "start", "name": "svc"})
        tick_until(sup, lambda: comp.pid is not None)
        assert os.path.exists(f"/proc/{comp.pid}")
    finally:
        sup.stop(comp)


@contextlib.contextmanager
def serving(sup: Supervisor, path: Path) -> Iterator[Path]:
    """Answer one request on ``path`` the way the node's PID 1 does."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen()
        thread = threading.Thread(target=sup._serve_one, args=(server,))
        thread.start()
        try:
            yield path
        finally:
            thread.join(10)


def test_the_lab_client_gets_the_supervisors_reply(tmp_path):
    with serving(supervisor(tmp_path), tmp_path / "s.sock") as sock:
        reply = supervisor_client.call(sock, "status")
    assert reply["ok"] is True
    assert [c["name"] for c in reply["components"]] == ["svc"]


def test_a_refused_request_is_a_lab_error_naming_the_op(tmp_path):
    with serving(supervisor(tmp_path), tmp_path / "s.sock") as sock:
        with pytest.raises(LabError, match="supervisor refused stop: no comp"):
            supervisor_client.call(sock, "stop", name="nope")


def test_a_supervisor_that_does_not_answer_is_a_lab_error(tmp_path):
    with pytest.raises(LabError, match="s.sock is not answering .*lab up"):
        supervisor_client.call(tmp_path / "s.sock", "status", timeout_s=1)


def test_the_lab_and_the_pod_backend_agree_on_the_socket(tmp_path, monkeypatch):
    monkeypatch.setenv(supervisor_wire.STATE_ENV, str(tmp_path))
    expected = tmp_path / "lab" / "nodes" / "w1" / "supervisor.sock"
    assert LabPaths.default().node("w1").socket == expected
    assert supervisor_wire.node_socket("w1") == expected
