"""Host-level views the ARCH checks share: components, flags, kubeconfigs.

Everything here goes through ``NodeAccess`` only, so it reads a host
process (the lab, systemd) and a static pod's container (kubeadm, kind)
alike: ``ps`` on the host lists both, and a container's files are found
under ``/proc/<pid>/root`` when the host path does not exist.
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from gauntlet.errors import ClusterOperationFailed, GauntletError
from gauntlet.nodes.base import NodeAccess

CONTROL_PLANE_COMPONENTS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "etcd",
)
NODE_COMPONENTS = ("kubelet", "kube-proxy")
COMPONENTS = CONTROL_PLANE_COMPONENTS + NODE_COMPONENTS
_SEP = "\x1f"
_PROC_CMDLINES = (
    'cd /proc && for p in [0-9]*; do [ -r "$p/cmdline" ] || continue; '
    "printf '%s ' \"$p\"; tr '\\000\\n' '\\037 ' < \"$p/cmdline\" "
    "2>/dev/null; echo; done"
)


@dataclass(frozen=True)
class Component:
    """One running component process on a node."""

    node: str
    name: str
    pid: int
    argv: tuple[str, ...]

    def flag(self, name: str) -> str | None:
        """The value of ``--name`` (``--name=v`` or ``--name v``)."""
        return flag_value(self.argv, name)


def flag_value(argv: Sequence[str], name: str) -> str | None:
    """The last value of ``--name`` in ``argv``, or None."""
    found = None
    for i, arg in enumerate(argv):
        if arg.startswith(f"--{name}="):
            found = arg.split("=", 1)[1]
        elif arg == f"--{name}" and i + 1 < len(argv):
            found = argv[i + 1]
    return found


def component_of(args: str) -> str | None:
    """The component a command line runs, by its program's base name."""
    words = args.split()
    if not words:
        return None
    base = posixpath.basename(words[0])
    return base if base in COMPONENTS else None


@dataclass(frozen=True)
class HostProcess:
    """A process on a node with its exact argv (from /proc)."""

    pid: int
    argv: tuple[str, ...]

    @property
    def args(self) -> str:
        return " ".join(self.argv)


def host_processes(nodes: NodeAccess, node: str) -> list[HostProcess]:
    """Every process with a command line, read from ``/proc``.

    ``ps`` truncates command lines to the terminal width when it has no
    terminal; ``/proc/<pid>/cmdline`` keeps every argument whole.

    Raises:
        ClusterOperationFailed: the listing failed on the node.
    """
    proc = nodes.run(node, ["sh", "-c", _PROC_CMDLINES])
    if proc.returncode != 0:
        raise ClusterOperationFailed(
            "list", f"processes on node {node}", None, proc.stderr.strip()
        )
    found = []
    for line in proc.stdout.splitlines():
        pid, _, cmdline = line.partition(" ")
        argv = tuple(a for a in cmdline.split(_SEP) if a)
        if pid.isdigit() and argv:
            found.append(HostProcess(int(pid), argv))
    return found


def components(nodes: NodeAccess, node: str) -> list[Component]:
    """Every known component process on ``node``."""
    return [
        Component(node, name, proc.pid, proc.argv)
        for proc in host_processes(nodes, node)
        if (name := component_of(proc.argv[0])) is not None
    ]


def read_process_file(nodes: NodeAccess, comp: Component, path: str) -> str:
    """A file a component names, on the host or inside its container.

    Raises:
        GauntletError: neither the host path nor the container path can
            be read.
    """
    try:
        return nodes.read_file(comp.node, path)
    except GauntletError:
        return nodes.read_file(comp.node, f"/proc/{comp.pid}/root{path}")


@dataclass(frozen=True)
class KubeconfigView:
    """What a component's kubeconfig says: where it goes, who it is."""

    path: str
    server: str
    cert_pem: str | None
    key_pem: str | None

    @property
    def port(self) -> int:
        return server_port(self.server)

    @property
    def host(self) -> str:
        return urlsplit(self.server).hostname or ""


def parse_kubeconfig(
    path: str, text: str, read: Callable[[str], str]
) -> KubeconfigView:
    """The current context's server and client credentials.

    ``read`` fetches files the kubeconfig refers to (relative paths are
    relative to the kubeconfig's directory).

    Raises:
        GauntletError: the text is not a usable kubeconfig.
    """
    try:
        cfg: dict[str, Any] = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise GauntletError(f"kubeconfig {path}: not YAML ({exc})") from exc
    context = _named(cfg, "contexts", cfg.get("current-context"), path)
    cluster = _named(cfg, "clusters", context.get("cluster"), path)
    user = _named(cfg, "users", context.get("user"), path)

    def pem(field: str) -> str | None:
        data = user.get(f"{field}-data")
        if data:
            return base64.b64decode(data).decode()
        ref = user.get(field)
        if not ref:
            return None
        return read(posixpath.join(posixpath.dirname(path), ref))

    return KubeconfigView(
        path=path,
        server=str(cluster.get("server") or ""),
        cert_pem=pem("client-certificate"),
        key_pem=pem("client-key"),
    )


def component_kubeconfig(
    nodes: NodeAccess, comp: Component, default: str | None = None
) -> KubeconfigView | None:
    """The kubeconfig a component runs with (``--kubeconfig``, or the
    ``clientConnection.kubeconfig`` of its ``--config`` file)."""
    path = comp.flag("kubeconfig")
    config = comp.flag("config")
    if path is None and config is not None:
        loaded = yaml.safe_load(read_process_file(nodes, comp, config)) or {}
        path = (loaded.get("clientConnection") or {}).get("kubeconfig")
    path = path or default
    if not path:
        return None
    text = read_process_file(nodes, comp, path)
    return parse_kubeconfig(
        path, text, lambda ref: read_process_file(nodes, comp, ref)
    )


def _named(
    cfg: dict[str, Any], section: str, name: object, path: str
) -> dict[str, Any]:
    for entry in cfg.get(section) or []:
        if entry.get("name") == name:
            key = section.rstrip("s")
            return dict(entry.get(key) or {})
    raise GauntletError(f"kubeconfig {path}: no {section} entry {name!r}")


def server_port(url: str) -> int:
    """The port of a kubeconfig ``server`` URL (the scheme's default
    when it names none)."""
    parts = urlsplit(url)
    if parts.port is not None:
        return parts.port
    return 443 if parts.scheme == "https" else 80
