"""The lab's node supervisor restarts crashed components like systemd's
``Restart=always`` and, once told ``Restart=no``, leaves them failed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from gauntlet.lab.supervisor import Supervisor


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
