"""Sabotage tools for the etcd and control-plane checks (ARCH-01..14).

Each tool that breaks something registers its undo on the caller's
``restore`` stack right after breaking it (LIFO, also on failure), and
every undo waits until the lab is healthy again.
"""

from __future__ import annotations

import contextlib
import json
import secrets

from gauntlet import progress
from gauntlet.checks.context import CheckContext
from gauntlet.lab.access import LabNodeAccess
from gauntlet.observe.etcd import EtcdClient, MemberStatus
from gauntlet.wellknown import ETCD_CLIENT_PORT

HEALTHY_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.5
PKI = "/etc/kubernetes/pki/etcd"
UNSTARTED_PEER_URL = "https://127.0.0.1:2390"
NOSPACE = (1, "NOSPACE")
"""etcd's NOSPACE alarm as ``alarm list -w json`` may print it."""


def fresh_check(check: CheckContext) -> CheckContext:
    """The same context with no parts, measurements or etcd placements:
    a check run again after the restore must not conclude over the
    sabotaged run's findings, nor use etcdctl placements found while
    etcd was sabotaged."""
    return check.fresh()


def client_url(faults: LabNodeAccess, node: str) -> str:
    topo = faults.lab.topology()
    assert topo is not None
    return f"https://{topo.node(node).ip}:{ETCD_CLIENT_PORT}"


def wait_member_healthy(
    etcd: EtcdClient, faults: LabNodeAccess, node: str
) -> None:
    """Wait until ``node``'s etcd member answers a health check."""
    url = client_url(faults, node)

    def healthy() -> bool:
        out = etcd.run("endpoint", "health", endpoints=[url])
        return out.returncode == 0

    progress.wait_until(
        f"etcd on {node} healthy", healthy, HEALTHY_TIMEOUT_S, POLL_INTERVAL_S
    )


def set_etcd_flags(
    etcd: EtcdClient,
    faults: LabNodeAccess,
    node: str,
    flags: dict[str, str | None],
    restore: contextlib.ExitStack,
) -> None:
    """Restart ``node``'s etcd with ``flags``; restore the old argv."""
    old = faults.argv(node, "etcd")
    restore.callback(wait_member_healthy, etcd, faults, node)
    restore.callback(faults.set_argv, node, "etcd", old)
    faults.set_flags(node, "etcd", flags)
    wait_member_healthy(etcd, faults, node)


def start_rogue_etcd_client(
    faults: LabNodeAccess, node: str, restore: contextlib.ExitStack
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
        f"rogue etcd client on {node} connected to etcd",
        lambda: _connected_to_etcd(
            faults, node, marked_pids(faults, node, key)
        ),
        HEALTHY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )
    return key


def _connected_to_etcd(
    faults: LabNodeAccess, node: str, pids: list[int]
) -> bool:
    """A process started is not yet a client: wait for its connection."""
    return any(
        c.pid in pids and c.remote_port == ETCD_CLIENT_PORT
        for c in faults.connections(node)
    )


def marked_pids(faults: LabNodeAccess, node: str, marker: str) -> list[int]:
    """PIDs on ``node`` whose full command line contains ``marker``."""
    out = faults.exec(node, ["pgrep", "-f", marker], check=False)
    return [int(pid) for pid in out.stdout.split()]


def stop_marked_processes(
    faults: LabNodeAccess, node: str, marker: str
) -> None:
    """Terminate the processes this sabotage started, by their PIDs."""
    pids = marked_pids(faults, node, marker)
    if pids:
        faults.exec(node, ["kill", *map(str, pids)], check=False)


def add_unstarted_member(
    etcd: EtcdClient, restore: contextlib.ExitStack
) -> str:
    """Add a voting etcd member that never starts; return its hex ID.

    etcd's strict reconfiguration check refuses the add unless every
    current member is started, so quorum (3 of 4) holds meanwhile; the
    member is removed again as soon as the check has run.
    """

    def added() -> str | None:
        out = etcd.run(
            "member",
            "add",
            "kg-sabotage-unstarted",
            f"--peer-urls={UNSTARTED_PEER_URL}",
        )
        # "unhealthy cluster": a member reconnected less than 5 s ago.
        return out.stdout if out.returncode == 0 else None

    added_json = progress.wait_until(
        "etcd accepting a new member", added, HEALTHY_TIMEOUT_S, 1.0
    )
    member_id = f"{json.loads(added_json)['member']['ID']:x}"
    restore.callback(remove_member, etcd, member_id)
    return member_id


def remove_member(etcd: EtcdClient, member_id: str) -> None:
    def removed() -> bool:
        out = etcd.run("member", "remove", member_id)
        return out.returncode == 0 or "not found" in out.stderr

    progress.wait_until(
        f"etcd member {member_id} removed",
        removed,
        HEALTHY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )


def disarm_nospace(etcd: EtcdClient) -> None:
    """Disarm a NOSPACE alarm (a quota sabotage may have raised one)."""
    out = etcd.run("alarm", "list")
    try:
        alarms = json.loads(out.stdout).get("alarms") or []
    except ValueError:
        alarms = []
    if any(a.get("alarm") in NOSPACE for a in alarms):
        etcd.run("alarm", "disarm")


def a_follower(
    etcd: EtcdClient, faults: LabNodeAccess
) -> tuple[str, MemberStatus]:
    """A member that is not the leader, and the node it runs on."""
    topo = faults.lab.topology()
    assert topo is not None
    by_url = {
        f"https://{n.ip}:{ETCD_CLIENT_PORT}": n.name
        for n in topo.control_planes
    }
    follower = next(m for m in etcd.statuses() if not m.is_leader)
    return by_url[follower.endpoint], follower


def stop_member(
    etcd: EtcdClient,
    faults: LabNodeAccess,
    node: str,
    restore: contextlib.ExitStack,
) -> None:
    """Stop ``node``'s etcd; the undo starts it and waits until healthy."""
    restore.callback(wait_member_healthy, etcd, faults, node)
    restore.callback(faults.start, node, "etcd")
    faults.stop(node, "etcd")


def lower_quota(
    etcd: EtcdClient,
    faults: LabNodeAccess,
    ratio: float,
    restore: contextlib.ExitStack,
) -> tuple[str, int]:
    """Restart a follower with a quota its database fills to ``ratio``;
    return the node and the quota."""
    node, follower = a_follower(etcd, faults)
    quota = int(follower.db_size / ratio)
    restore.callback(disarm_nospace, etcd)
    flags: dict[str, str | None] = {"quota-backend-bytes": str(quota)}
    set_etcd_flags(etcd, faults, node, flags, restore)
    return node, quota
