"""Shell scripts the pod backend runs on a host through ``nsenter``.

Pure string builders, kept apart from the Kubernetes plumbing so that
they can be read and unit-tested on their own. The iptables rules are the
lab's: its network module partitions with the same chain
(``PARTITION_CHAIN``, defined here) and the same hooks. Requests to a lab
node's supervisor run ``supervisor_wire``'s own source on the host.

These are the faults and their undos only; a fault that may cut the
path of the next exec is wrapped by ``restores`` so that the host undoes
it itself.
"""

from __future__ import annotations

import functools
import inspect
import json
import shlex
import signal
from collections.abc import Sequence
from typing import Any, Literal

from gauntlet.nodes import supervisor_wire

__all__ = [
    "NSENTER",
    "PARTITION_CHAIN",
    "argv_script",
    "component_script",
    "heal_script",
    "lab_supervisor_call",
    "on_host",
    "partition_script",
    "set_argv_script",
]

NSENTER = ["nsenter", "-t", "1", "-m", "-u", "-n", "-i", "-p", "--"]
MANIFESTS = "/etc/kubernetes/manifests"
PARKED = "/etc/kubernetes/kube-gauntlet-stopped"
COMM_LEN = 15  # the kernel truncates process names to 15 characters
_HOOKS = ("INPUT", "OUTPUT", "FORWARD")
_IPT = "iptables -w 5"
PARTITION_CHAIN = "KG-PARTITION"
"""The iptables chain holding a node's partition rules (lab and hosts)."""

ComponentOp = Literal["stop", "start", "kill"]


def on_host(argv: Sequence[str]) -> list[str]:
    """``argv`` in every namespace of the host's PID 1."""
    return [*NSENTER, *argv]


def lab_supervisor_call(socket_path: str, op: str, **fields: Any) -> list[str]:
    """Host argv for one request to a lab node's supervisor socket.

    The reply JSON is printed on stdout; exit 1 when it is refused.
    """
    request = json.dumps({"op": op, **fields})
    return ["python3", "-c", _wire_source(), socket_path, request]


@functools.cache
def _wire_source() -> str:
    """``supervisor_wire`` as a script: the host has no gauntlet installed."""
    return inspect.getsource(supervisor_wire)


def component_script(
    op: ComponentOp,
    component: str,
    socket_path: str,
    sig: int = signal.SIGKILL,
) -> str:
    """Stop, start or signal ``component``, however this host runs it.

    Tried in order: the lab supervisor (its socket exists and it runs the
    component), a systemd unit, a static pod manifest (parked outside the
    manifest directory to stop it); ``kill`` without either signals the
    processes by name. A kubeadm-built lab node has the supervisor for
    its kubelet and static pods for its control plane.
    """
    comp = shlex.quote(component)
    fields: dict[str, Any] = {"name": component}
    if op == "kill":
        fields["signal"] = int(sig)
    supervisor = shlex.join(lab_supervisor_call(socket_path, op, **fields))
    lines = [
        "set -u",
        f"if {_supervises(socket_path, component)}; then exec {supervisor}; fi",
    ]
    if op == "kill":
        name = shlex.quote(component[:COMM_LEN])
        signame = signal.Signals(sig).name.removeprefix("SIG")
        lines += [
            f"pids=$(pgrep -x {name}) || "
            f"{{ echo 'no process named '{name} >&2; exit 3; }}",
            f"exec kill -s {signame} $pids",
        ]
        return "\n".join(lines) + "\n"
    verb = "stop" if op == "stop" else "start"
    lines += [
        "if command -v systemctl >/dev/null 2>&1 && "
        f"systemctl cat {comp}.service >/dev/null 2>&1; then "
        f"exec systemctl {verb} {comp}.service; fi",
    ]
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
        f"echo 'no lab supervisor, systemd unit or static pod manifest for '"
        f"{comp} >&2; exit 3"
    )
    return "\n".join(lines) + "\n"


def _supervises(socket_path: str, component: str) -> str:
    """A sh condition: this host's lab supervisor runs ``component``."""
    status = shlex.join(lab_supervisor_call(socket_path, "status"))
    test = (
        "import json,sys\n"
        "names = [c['name'] for c in json.load(sys.stdin)['components']]\n"
        f"sys.exit(0 if {component!r} in names else 1)\n"
    )
    return (
        f"[ -S {shlex.quote(socket_path)} ] && "
        f"{status} 2>/dev/null | python3 -c {shlex.quote(test)}"
    )


def argv_script(component: str, socket_path: str) -> str:
    """Print the component's argv, one argument per line."""
    status = shlex.join(lab_supervisor_call(socket_path, "status"))
    pick = (
        "import json,sys\n"
        "for c in json.load(sys.stdin)['components']:\n"
        f"    if c['name'] == {component!r}:\n"
        "        print('\\n'.join(c['argv'])); break\n"
        "else:\n"
        f"    sys.exit('no component {component} in the supervisor')\n"
    )
    name = shlex.quote(component[:COMM_LEN])
    return (
        f"if {_supervises(socket_path, component)}; then "
        f"{status} | python3 -c {shlex.quote(pick)}; exit $?; fi\n"
        f"pid=$(pgrep -xo {name}) || "
        f"{{ echo 'no process named '{name} >&2; exit 3; }}\n"
        "tr '\\0' '\\n' < /proc/$pid/cmdline\n"
    )


def set_argv_script(component: str, argv: list[str], socket_path: str) -> str:
    """Replace a component's argv; only the lab supervisor can do this."""
    sock = shlex.quote(socket_path)
    call = lab_supervisor_call(
        socket_path, "set_argv", name=component, argv=argv
    )
    return (
        f"[ -S {sock} ] || {{ echo 'changing the flags of '"
        f"{shlex.quote(component)}' needs the lab supervisor; this node "
        "has none' >&2; exit 3; }\n"
        f"exec {shlex.join(call)}\n"
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
