"""Sabotage tools for the etcd and control-plane checks (ARCH-01..14).

Each tool that breaks something registers its undo on the caller's
``restore`` stack right after breaking it (LIFO, also on failure), and
every undo waits until the lab is healthy again.
"""

from __future__ import annotations

import contextlib
import secrets

from gauntlet import progress
from gauntlet.lab.faults import LabFaults

HEALTHY_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.5
PKI = "/etc/kubernetes/pki/etcd"


def client_url(faults: LabFaults, node: str) -> str:
    topo = faults.lab.topology()
    assert topo is not None
    return f"https://{topo.node(node).ip}:2379"


def wait_member_healthy(faults: LabFaults, node: str) -> None:
    """Wait until ``node``'s etcd member answers a health check."""
    url = client_url(faults, node)

    def healthy() -> bool:
        out = faults.etcdctl("endpoint", "health", endpoints=[url])
        return out.returncode == 0

    progress.wait_until(
        f"etcd on {node} healthy", healthy, HEALTHY_TIMEOUT_S, POLL_INTERVAL_S
    )


def set_etcd_flags(
    faults: LabFaults,
    node: str,
    flags: dict[str, str | None],
    restore: contextlib.ExitStack,
) -> None:
    """Restart ``node``'s etcd with ``flags``; restore the old argv."""
    old = faults.argv(node, "etcd")
    restore.callback(wait_member_healthy, faults, node)
    restore.callback(faults.set_argv, node, "etcd", old)
    faults.set_flags(node, "etcd", flags)
    wait_member_healthy(faults, node)


def start_rogue_etcd_client(
    faults: LabFaults, node: str, restore: contextlib.ExitStack
) -> str:
    """Start a long-lived ``etcdctl watch`` on ``node`` (not an API
    server); return the key it watches, which marks its processes."""
    key = f"kg-sabotage-{secrets.token_hex(4)}"
    etcdctl = faults.lab.binaries().etcd / "etcdctl"
    command = (
        f"nohup timeout 120 {etcdctl} --endpoints={client_url(faults, node)} "
        f"--cacert={PKI}/ca.crt --cert={PKI}/healthcheck-client.crt "
        f"--key={PKI}/healthcheck-client.key watch {key} "
        ">/dev/null 2>&1 </dev/null &"
    )
    faults.exec(node, ["sh", "-c", command])
    restore.callback(stop_marked_processes, faults, node, key)
    progress.wait_until(
        f"rogue etcd client on {node} running",
        lambda: marked_pids(faults, node, key),
        HEALTHY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )
    return key


def marked_pids(faults: LabFaults, node: str, marker: str) -> list[int]:
    return [
        p.pid
        for p in faults.processes(node)
        if marker in p.args and not p.args.startswith(("sh -c", "ps "))
    ]


def stop_marked_processes(faults: LabFaults, node: str, marker: str) -> None:
    """Terminate the processes this sabotage started, by their PIDs."""
    pids = marked_pids(faults, node, marker)
    if pids:
        faults.exec(node, ["kill", *map(str, pids)], check=False)
