"""A tiny systemd for one lab node: start, watch and restart components.

It runs as PID 1 of the node's PID namespace, so it also reaps orphans
(containerd shims re-parent to it). A component that exits while it should
run is restarted after ``restart_delay_s``, like ``Restart=always``: killing
the kubelet is a crash that recovers, stopping it is an outage. Requests
arrive as JSON lines on a Unix socket (the client is
``gauntlet.nodes.supervisor_wire``).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gauntlet.nodes.supervisor_wire import read_line

STOP_TIMEOUT_S = 15.0
SHUTDOWN_GRACE_S = 5.0
TICK_S = 0.2


@dataclass
class Component:
    """One supervised program and its live state."""

    name: str
    argv: list[str]
    requires: list[str] = field(default_factory=list)
    ready_path: str | None = None
    oneshot: bool = False
    restart_delay_s: float = 2.0
    restart: bool = True
    """``Restart=always`` (True) or ``Restart=no`` (False)."""
    desired: str = "running"
    state: str = "waiting"
    pid: int | None = None
    restarts: int = 0
    last_exit: int | None = None
    started_at: float | None = None
    next_start: float = 0.0

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "desired": self.desired,
            "state": self.state,
            "pid": self.pid,
            "restarts": self.restarts,
            "restart": self.restart,
            "restart_delay_s": self.restart_delay_s,
            "last_exit": self.last_exit,
            "started_at": self.started_at,
            "argv": self.argv,
        }


class Supervisor:
    """Keeps the node's components in their desired state."""

    def __init__(self, config: dict[str, Any], log_dir: Path) -> None:
        self.env = dict(config.get("env", {}))
        self.log_dir = log_dir
        self.components = [
            Component(
                name=c["name"],
                argv=list(c["argv"]),
                requires=list(c.get("requires", [])),
                ready_path=c.get("ready_path"),
                oneshot=bool(c.get("oneshot", False)),
                restart_delay_s=float(c.get("restart_delay_s", 2.0)),
                desired=c.get("desired", "running"),
            )
            for c in config["components"]
        ]
        self.by_name = {c.name: c for c in self.components}
        self.by_pid: dict[int, Component] = {}
        self.shutting_down = False

    # -- process management -------------------------------------------------

    def _spawn(self, comp: Component) -> None:
        log = self.log_dir / f"{comp.name}.log"
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(
            fd,
            f"--- supervisor: starting {comp.name} at "
            f"{time.strftime('%H:%M:%S')}\n".encode(),
        )
        pid = os.fork()
        if pid == 0:  # child
            try:
                os.setsid()
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.chdir("/")
                env = dict(os.environ, **self.env)
                os.execvpe(comp.argv[0], comp.argv, env)
            finally:
                os._exit(127)
        os.close(fd)
        comp.pid = pid
        comp.state = "running"
        comp.started_at = time.time()
        self.by_pid[pid] = comp

    def _ready(self, name: str) -> bool:
        comp = self.by_name.get(name)
        if comp is None:
            return True
        if comp.oneshot:
            return comp.state == "done"
        if comp.state != "running":
            return False
        return comp.ready_path is None or os.path.exists(comp.ready_path)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            comp = self.by_pid.pop(pid, None)
            if comp is None:
                continue  # an orphan we adopted as PID 1
            comp.pid = None
            comp.last_exit = os.waitstatus_to_exitcode(status)
            if comp.oneshot and comp.last_exit == 0:
                comp.state = "done"
            elif not comp.restart and comp.desired == "running":
                comp.desired = "stopped"  # Restart=no: failed until started
                comp.state = "failed"
            elif comp.desired == "running" and not self.shutting_down:
                comp.state = "restarting"
                comp.restarts += 1
                comp.next_start = time.monotonic() + comp.restart_delay_s
            else:
                comp.state = "stopped"

    def _tick(self) -> None:
        self._reap()
        if self.shutting_down:
            return
        now = time.monotonic()
        for comp in self.components:
            if comp.desired != "running" or comp.pid is not None:
                continue
            if comp.state == "done" or now < comp.next_start:
                continue
            if all(self._ready(r) for r in comp.requires):
                self._spawn(comp)
            else:
                comp.state = "waiting"

    def stop(self, comp: Component, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop a component for good (until ``start``): SIGTERM, then KILL."""
        comp.desired = "stopped"
        pid = comp.pid
        if pid is None:
            comp.state = "stopped"
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while comp.pid is not None and time.monotonic() < deadline:
            time.sleep(0.05)
            self._reap()
        if comp.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while comp.pid is not None:
                time.sleep(0.05)
                self._reap()
        comp.state = "stopped"

    def _terminate_all(self, grace_s: float) -> None:
        """SIGTERM every component at once, then wait up to ``grace_s``."""
        for comp in self.components:
            comp.desired = "stopped"
            if comp.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(comp.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while self.by_pid and time.monotonic() < deadline:
            time.sleep(0.05)
            self._reap()

    # -- requests -----------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "status":
            return {
                "ok": True,
                "components": [c.view() for c in self.components],
            }
        if op == "shutdown":
            self.shutting_down = True
            return {"ok": True}
        comp = self.by_name.get(str(request.get("name")))
        if comp is None:
            known = ", ".join(self.by_name)
            return {
                "ok": False,
                "error": f"no component {request.get('name')!r}"
                f" on this node (components: {known})",
            }
        if op == "stop":
            self.stop(comp)
        elif op == "start":
            comp.desired = "running"
            comp.next_start = 0.0
            if comp.state == "done":
                comp.state = "waiting"
        elif op == "kill":
            sig = int(request.get("signal", signal.SIGKILL))
            if comp.pid is None:
                return {"ok": False, "error": f"{comp.name} is not running"}
            os.kill(comp.pid, sig)
        elif op == "set_restart":
            comp.restart = bool(request.get("restart", True))
            comp.restart_delay_s = float(
                request.get("delay_s", comp.restart_delay_s)
            )
        elif op == "set_argv":
            argv = request.get("argv")
            if not isinstance(argv, list) or not argv:
                return {"ok": False, "error": "set_argv needs a non-empty argv"}
            was_running = comp.desired == "running"
            self.stop(comp)
            comp.argv = [str(a) for a in argv]
            comp.desired = "running" if was_running else "stopped"
            comp.next_start = 0.0
        else:
            return {"ok": False, "error": f"unknown op {op!r}"}
        return {"ok": True, "component": comp.view()}

    def _serve_one(self, server: socket.socket) -> None:
        """Answer one request; a client that went away never kills PID 1."""
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            try:
                conn.settimeout(30)
                data = read_line(conn)
                try:
                    reply = self.handle(json.loads(data or b"{}"))
                except Exception as exc:  # noqa: BLE001 - report, keep serving
                    reply = {
                        "ok": False,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                conn.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                return  # the client gave up (timeout, closed): its loss

    def run(self, server: socket.socket) -> None:
        """Serve requests and keep components alive until shutdown."""

        def on_term(_sig: int, _frame: object) -> None:
            self.shutting_down = True

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        while not self.shutting_down:
            self._tick()
            try:
                ready, _, _ = select.select([server], [], [], TICK_S)
            except InterruptedError:
                continue
            if ready:
                self._serve_one(server)
        self._terminate_all(SHUTDOWN_GRACE_S)
        # As PID 1: end whatever is left in the namespace (pods, shims).
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        self._reap()
