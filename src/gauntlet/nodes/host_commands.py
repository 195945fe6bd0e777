"""Shell scripts the pod backend runs on a host through ``nsenter``.

Pure string builders, kept apart from the Kubernetes plumbing so that
they can be read and unit-tested on their own. The iptables rules are the
lab's: its network module partitions with the same chain
(``PARTITION_CHAIN``, defined here) and the same hooks. Nothing here
knows the lab: its nodes offer ``systemctl`` like any host.

These are the faults and their undos only; a fault that may cut the
path of the next exec is wrapped by ``restores`` so that the host undoes
it itself.
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Sequence
from typing import Literal

__all__ = [
    "NSENTER",
    "PARTITION_CHAIN",
    "argv_script",
    "component_script",
    "heal_script",
    "on_host",
    "partition_script",
]

NSENTER = ["nsenter", "-t", "1", "-m", "-u", "-n", "-i", "-p", "--"]
MANIFESTS = "/etc/kubernetes/manifests"
PARKED = "/etc/kubernetes/kube-gauntlet-stopped"
COMM_LEN = 15  # the kernel truncates process names to 15 characters
_HOOKS = ("INPUT", "OUTPUT", "FORWARD")
_IPT = "iptables -w 5"
PARTITION_CHAIN = "KG-PARTITION"
"""The iptables chain holding a node's partition rules (lab and hosts)."""

ComponentOp = Literal["stop", "start", "kill", "halt"]
"""``halt``: SIGKILL, then stop: an outage that begins at once (a
graceful stop of kube-apiserver drains for up to 15 s)."""


HOST_ENV = [
    "/usr/bin/env",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
]
"""How a command is started on the host: by the host's own ``env`` with
the host's PATH. A busybox ``nsenter`` (the helper image's) runs its own
applet for any bare name it can (``sh``, ``ps``, ``kill``...) even after
entering the host; a path is exec'd as it is, and ``env`` then finds the
host's tools."""


def on_host(argv: Sequence[str]) -> list[str]:
    """``argv`` in every namespace of the host's PID 1, run by its tools."""
    return [*NSENTER, *HOST_ENV, *argv]


def component_script(
    op: ComponentOp, component: str, sig: int = signal.SIGKILL
) -> str:
    """Stop, start or signal ``component``, however this host runs it.

    Tried in order: a systemd unit (``systemctl``; a lab node offers one
    for what its supervisor runs), a static pod manifest (parked outside
    the manifest directory to stop it); ``kill`` without a unit signals
    the processes by name.
    """
    if op == "halt":
        kill = component_script("kill", component, signal.SIGKILL)
        stop = component_script("stop", component)
        return f"(\n{kill}) >/dev/null 2>&1 || true\n{stop}"
    comp = shlex.quote(component)
    unit = (
        "command -v systemctl >/dev/null 2>&1 && "
        f"systemctl cat {comp}.service >/dev/null 2>&1"
    )
    lines = ["set -u"]
    if op == "kill":
        name = shlex.quote(component[:COMM_LEN])
        signame = signal.Signals(sig).name.removeprefix("SIG")
        lines += [
            f"if {unit}; then exec systemctl kill -s {signame} "
            f"{comp}.service; fi",
            f"pids=$(pgrep -x {name}) || "
            f"{{ echo 'no process named '{name} >&2; exit 3; }}",
            f"exec kill -s {signame} $pids",
        ]
        return "\n".join(lines) + "\n"
    verb = "stop" if op == "stop" else "start"
    lines.append(f"if {unit}; then exec systemctl {verb} {comp}.service; fi")
    manifest = f"{MANIFESTS}/{comp}.yaml"
    parked = f"{PARKED}/{comp}.yaml"
    if op == "stop":
        lines.append(
            f"if [ -f {manifest} ]; then mkdir -p {PARKED} && "
            f"exec mv {manifest} {parked}; fi"
        )
    else:
        lines += [
            f"if [ -f {parked} ]; then exec mv {parked} {manifest}; fi",
            f"if [ -f {manifest} ]; then exit 0; fi",
        ]
    lines.append(
        f"echo 'no systemd unit or static pod manifest for '{comp} >&2; exit 3"
    )
    return "\n".join(lines) + "\n"


def argv_script(component: str) -> str:
    """Print the component's argv (its oldest process), one per line."""
    name = shlex.quote(component[:COMM_LEN])
    return (
        f"pid=$(pgrep -xo {name}) || "
        f"{{ echo 'no process named '{name} >&2; exit 3; }}\n"
        "tr '\\0' '\\n' < /proc/$pid/cmdline\n"
    )


def partition_script(peer_ips: Sequence[str]) -> str:
    """Drop traffic to and from ``peer_ips`` in the host's network."""
    chain = PARTITION_CHAIN
    lines = [
        "set -eu",
        f"{_IPT} -nL {chain} >/dev/null 2>&1 || {_IPT} -N {chain}",
    ]
    for hook in _HOOKS:
        lines.append(
            f"{_IPT} -C {hook} -j {chain} 2>/dev/null || "
            f"{_IPT} -I {hook} 1 -j {chain}"
        )
    for ip in peer_ips:
        for direction in ("-s", "-d"):
            rule = f"{chain} {direction} {shlex.quote(ip)} -j DROP"
            lines.append(f"{_IPT} -C {rule} 2>/dev/null || {_IPT} -A {rule}")
    return "\n".join(lines) + "\n"


def heal_script() -> str:
    """Remove every rule and the chain ``partition_script`` added."""
    chain = PARTITION_CHAIN
    lines = [
        "set -u",
        f"{_IPT} -nL {chain} >/dev/null 2>&1 || exit 0",
    ]
    for hook in _HOOKS:
        lines.append(
            f"while {_IPT} -C {hook} -j {chain} 2>/dev/null; do "
            f"{_IPT} -D {hook} -j {chain} || exit 1; done"
        )
    lines += [f"{_IPT} -F {chain}", f"{_IPT} -X {chain}"]
    return "\n".join(lines) + "\n"
