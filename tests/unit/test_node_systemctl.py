"""A lab node's systemctl: units are the supervisor's components."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gauntlet.lab import node_systemctl
from gauntlet.lab.systemctl_shim import shim_binds, shim_script


class FakeSupervisor:
    def __init__(self) -> None:
        self.kubelet = {"name": "kubelet", "state": "running", "pid": 42}
        self.kubelet["argv"] = ["/k8s/kubelet", "--v=1"]
        self.requests: list[dict[str, Any]] = []

    def __call__(self, _sock: str, request: str) -> dict[str, Any]:
        req = json.loads(request)
        self.requests.append(req)
        if req["op"] == "status":
            return {"ok": True, "components": [self.kubelet]}
        if req.get("name") != "kubelet":
            return {"ok": False, "error": f"no component {req['name']!r}"}
        if req["op"] == "stop":
            self.kubelet["state"] = "stopped"
        return {"ok": True}


@pytest.fixture
def supervisor(monkeypatch: pytest.MonkeyPatch) -> FakeSupervisor:
    fake = FakeSupervisor()
    monkeypatch.setattr(node_systemctl, "exchange", fake, raising=False)
    return fake


def test_stopping_a_unit_stops_the_component(supervisor, capsys) -> None:
    assert node_systemctl.systemctl(["is-active", "kubelet"]) == 0
    assert node_systemctl.systemctl(["stop", "kubelet.service"]) == 0
    assert supervisor.requests[-1] == {"op": "stop", "name": "kubelet"}
    assert node_systemctl.systemctl(["is-active", "kubelet"]) == 3
    assert capsys.readouterr().out.split() == ["active", "inactive"]


def test_cat_finds_components_and_only_them(supervisor, capsys) -> None:
    assert node_systemctl.systemctl(["cat", "kubelet.service"]) == 0
    assert "ExecStart=/k8s/kubelet --v=1" in capsys.readouterr().out
    assert node_systemctl.systemctl(["cat", "docker.service"]) == 5


def test_restart_is_stop_then_start(supervisor) -> None:
    assert node_systemctl.systemctl(["--quiet", "restart", "kubelet"]) == 0
    ops = [r["op"] for r in supervisor.requests]
    assert ops == ["stop", "start"]


def test_kill_sends_the_named_signal(supervisor) -> None:
    assert node_systemctl.systemctl(["kill", "-s", "KILL", "kubelet"]) == 0
    assert supervisor.requests[-1]["signal"] == int(signal.SIGKILL)


def test_kubeadms_reload_is_accepted(supervisor) -> None:
    assert node_systemctl.systemctl(["daemon-reload"]) == 0
    assert supervisor.requests == []


def test_the_shipped_script_runs_on_a_bare_python(tmp_path: Path) -> None:
    script = tmp_path / "systemctl"
    script.write_text(shim_script(tmp_path / "absent.sock"))
    proc = subprocess.run(
        ["python3", "-I", str(script), "is-active", "kubelet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "the node's supervisor does not answer" in proc.stderr


def test_the_shim_is_bound_where_every_path_finds_it(tmp_path: Path) -> None:
    binds = shim_binds(tmp_path, tmp_path / "supervisor.sock")
    ((target, source),) = binds.items()
    assert target in ("/usr/bin/systemctl", "/usr/local/sbin")
    assert Path(source).exists()
