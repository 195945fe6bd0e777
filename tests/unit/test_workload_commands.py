"""What test pods run: agnhost netexec serves, and clients use a shell
``http_get`` over ``nc`` that works with busybox nc (the lab's agnhost)
and openbsd nc (upstream agnhost, alpine)."""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from gauntlet.checks.arch import pod_network
from gauntlet.checks.arch.pod_network import peer_host
from gauntlet.checks.chaos import workers
from gauntlet.cluster import workloads
from gauntlet.cluster.pod_exec import ExecResult
from gauntlet.lab.build import kubernetes_build
from gauntlet.lab.images import AGNHOST_APPLETS

BUSYBOX = Path("/bin/busybox")
AGNHOST = kubernetes_build().binary("agnhost")
needs_busybox = pytest.mark.skipif(
    not BUSYBOX.exists(), reason="busybox-static not installed"
)


def test_web_deployment_serves_with_agnhost_netexec() -> None:
    dep = workloads.web_deployment("web", "img:1")
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "img:1"
    assert container["command"] == workloads.web_command()
    assert container["command"][:2] == ["/agnhost", "netexec"]
    assert "--http-port=8080" in container["command"]
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/readyz",
        "port": 8080,
    }
    assert container["ports"] == [{"containerPort": 8080}]
    svc = workloads.cluster_ip_service("web")
    assert svc["spec"]["ports"] == [{"port": 80, "targetPort": 8080}]
    assert workloads.unready_argv() == ["kill", "-TERM", "1"]


def test_client_commands_need_only_the_images_applets() -> None:
    words = workloads.HTTP_GET.replace("|", " ").replace("$(", " ").split()
    for command in ("printf", "nc", "sed", "head"):
        assert command in words and command in AGNHOST_APPLETS
    assert workloads.unready_argv()[0] in AGNHOST_APPLETS
    (shell,) = workloads.shell_pod("p", "i")["spec"]["containers"]
    assert shell["command"][0] in AGNHOST_APPLETS
    for banned in ("curl", "wget", "http-get"):
        assert banned not in workloads.HTTP_GET


def test_http_get_argv_passes_arguments_unquoted() -> None:
    argv = workloads.http_get_argv("10.0.0.1", 80, "/hostname", 3)
    assert argv[:2] == ["sh", "-c"]
    assert argv[3:] == ["http_get", "10.0.0.1", "80", "/hostname", "3"]


@pytest.mark.parametrize(
    ("address", "host"),
    [
        ("10.244.1.5:40312", "10.244.1.5"),
        ("[fd00:10:244::5]:40312", "fd00:10:244::5"),
        ("", ""),
    ],
)
def test_peer_host_of_go_remote_addr(address: str, host: str) -> None:
    assert peer_host(address) == host


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        answers = {
            "/hostname": "pod-a",
            "/clientip": f"{self.client_address[0]}:{self.client_address[1]}",
        }
        body = answers.get(self.path)
        self.send_response(200 if body else 503)
        self.end_headers()
        self.wfile.write((body or "unready").encode())

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _flavours(tmp_path: Path) -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, shell prefix, env) per nc at hand: busybox's always, and
    openbsd's (the upstream image's) when the host has it."""
    bb = tmp_path / "bb"
    bb.mkdir()
    for applet in ("sh", "nc", "sed", "head", "printf", "seq"):
        (bb / applet).symlink_to(BUSYBOX)
    found = [("busybox", [], {"PATH": str(bb)})]
    openbsd = shutil.which("nc.openbsd")
    dash = shutil.which("dash")
    if openbsd and dash:
        ob = tmp_path / "ob"
        ob.mkdir()
        (ob / "nc").symlink_to(openbsd)
        for applet in ("sed", "head", "printf", "seq"):
            (ob / applet).symlink_to(BUSYBOX)
        found.append(("openbsd", [dash], {"PATH": f"{ob}"}))
    return found


def _run(prefix: list[str], argv: list[str], env: dict[str, str]) -> str:
    """Run ``argv`` (``sh -c ...``) under the flavour's shell."""
    if prefix:
        argv = [*prefix, *argv[1:]]
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=20, check=False
    )
    return f"{done.returncode}|{done.stdout}|{done.stderr.strip()}"


@needs_busybox
def test_http_get_with_each_nc(server: int, tmp_path: Path) -> None:
    for name, prefix, env in _flavours(tmp_path):
        get = workloads.http_get_argv
        ok = _run(prefix, get("127.0.0.1", server, "/hostname", 2), env)
        assert ok == "0|pod-a\n|", name
        seen = _run(prefix, get("127.0.0.1", server, "/clientip", 2), env)
        assert peer_host(seen.split("|")[1].strip()) == "127.0.0.1", name
        bad = _run(prefix, get("127.0.0.1", server, "/readyz", 2), env)
        assert bad.startswith("1||HTTP/1.0 503"), (name, bad)
        closed = _run(prefix, get("127.0.0.1", _free_port(), "/", 1), env)
        assert closed.startswith("2|"), (name, closed)
        loop = (
            f"{workloads.fetch_function('127.0.0.1', server)}; "
            "for i in $(seq 3); do fetch && echo ok || echo fail; done"
        )
        out = _run(prefix, ["sh", "-c", loop], env)
        assert out == "0|ok\nok\nok\n|", (name, out)


@pytest.mark.skipif(
    not AGNHOST.exists() or not BUSYBOX.exists(),
    reason="agnhost not built (gauntlet lab build) or no busybox-static",
)
def test_netexec_turns_unready_on_sigterm_and_serves_on(
    tmp_path: Path,
) -> None:
    http_port, udp_port = _free_port(), _free_port()
    argv = [
        f"--http-port={http_port}" if a.startswith("--http-port=") else a
        for a in workloads.web_command()
    ]
    argv = [str(AGNHOST), *argv[1:], f"--udp-port={udp_port}"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        (_, prefix, env), *_ = _flavours(tmp_path)

        def get(path: str) -> str:
            argv = workloads.http_get_argv("127.0.0.1", http_port, path, 2)
            return _run(prefix, argv, env)

        deadline = time.monotonic() + 10
        while get("/readyz") != "0|ok\n|":
            assert time.monotonic() < deadline, get("/readyz")
            time.sleep(0.1)
        assert get(workloads.NAME_PATH) == f"0|{socket.gethostname()}\n|"
        seen = get(workloads.PEER_PATH).split("|")[1].strip()
        assert peer_host(seen) == "127.0.0.1"
        os.kill(proc.pid, signal.SIGTERM)  # what unready_argv does in a pod
        deadline = time.monotonic() + 5
        while not get("/readyz").startswith("1||HTTP/1.0 503"):
            assert time.monotonic() < deadline, get("/readyz")
            time.sleep(0.1)
        assert get(workloads.NAME_PATH) == f"0|{socket.gethostname()}\n|"
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


CALLER = pod_network.Peer("peer-w1", "w1", "10.244.1.5")
CALLEE = pod_network.Peer("peer-w2", "w2", "10.244.2.7")


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        (ExecResult(0, "peer-w2\n10.244.1.5:40312\n", ""), None),
        (ExecResult(2, "", ""), "cannot reach peer-w2 on w2"),
        (ExecResult(0, "other\n10.244.1.5:1\n", ""), "got 'other'"),
        (ExecResult(0, "peer-w2\n10.244.1.1:40312\n", ""), "NAT or proxy"),
        (ExecResult(0, "peer-w2\n", ""), "saw the call from ''"),
    ],
)
def test_pod_network_call_judges_name_and_source_address(
    monkeypatch: pytest.MonkeyPatch, result: ExecResult, problem: str | None
) -> None:
    argvs: list[list[str]] = []

    def fake_exec(_core: object, ns: str, pod: str, argv: list[str]) -> object:
        assert (ns, pod) == ("ns", "peer-w1")
        argvs.append(argv)
        return result

    monkeypatch.setattr(pod_network, "exec_in_pod", fake_exec)
    ctx = SimpleNamespace(
        cluster=SimpleNamespace(core=lambda: None), namespace="ns"
    )
    found = pod_network._call(ctx, CALLER, CALLEE)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found
    (argv,) = argvs
    assert argv[:2] == ["sh", "-c"]
    assert "http_get 10.244.2.7 8080 /hostname 3 &&" in argv[2]
    assert argv[2].endswith("http_get 10.244.2.7 8080 /clientip 3")


def test_worker_checks_find_web_servers_by_agnhosts_process_name() -> None:
    scripts: list[str] = []

    class Access:
        def run(self, node: str, argv: list[str]) -> ExecResult:
            scripts.append(argv[2])
            return ExecResult(0, "41 web-a\n42 other\n43 web-b\nx web-c\n", "")

    found = workers.servers(Access(), "w1", ["web-a", "web-b", "web-c"])
    assert found == {"web-a": 41, "web-b": 43}
    assert "pgrep -x agnhost" in scripts[0]
    assert workers.SERVER_PROCESS == workloads.web_command()[0].lstrip("/")
