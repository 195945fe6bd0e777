"""Sabotage tools for the front-door and identity checks (ARCH-02, 04,
12, 14): one API server configured apart from the others, a master
stripped of its role, a second scheduler without leader election.

Every tool registers its undo on the caller's ``restore`` stack right
after breaking (LIFO, also on failure), and every undo waits until the
lab is as it was.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import time
from typing import Any

import urllib3

from gauntlet import progress
from gauntlet.checks.arch._apiservers import ApiServer
from gauntlet.checks.arch.front_door import ANONYMOUS_PATH, anonymous_pool
from gauntlet.checks.arch.health import probe_api_server
from gauntlet.cluster.client import Cluster
from gauntlet.cluster.workloads import CONTROL_PLANE_TAINT
from gauntlet.lab.access import LabNodeAccess
from gauntlet.observe.host import components

RECOVERY_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.5
ABAC_FILE = "kg-sabotage-abac.jsonl"
ANONYMOUS_READS = {
    "apiVersion": "abac.authorization.kubernetes.io/v1beta1",
    "kind": "Policy",
    "spec": {
        "group": "system:unauthenticated",
        "namespace": "*",
        "resource": "*",
        "apiGroup": "*",
        "readonly": True,
    },
}
"""An ABAC rule letting anonymous users read everything. (AlwaysAllow
cannot show it: kube-apiserver turns anonymous auth off beside it.)"""
ROGUE_SCHEDULER_PORT = 10261
ROGUE_LIFETIME_S = 300
ROGUE_SETTLE_S = 3.0


# -- one API server of three ---------------------------------------------------


def allow_anonymous_reads_on(
    faults: LabNodeAccess,
    cluster: Cluster,
    server: ApiServer,
    restore: contextlib.ExitStack,
) -> None:
    """Restart ``server``'s kube-apiserver with an ABAC rule before RBAC
    that lets anonymous users read: only that server answers them 200.
    Restore puts its argv back and waits until it refuses them again."""
    node = server.name
    policy = faults.lab.paths.node(node).etc_kubernetes / ABAC_FILE
    restore.callback(policy.unlink, missing_ok=True)
    policy.write_text(json.dumps(ANONYMOUS_READS) + "\n")
    old = faults.argv(node, "kube-apiserver")
    restore.callback(wait_anonymous_answered, cluster, [server], {401, 403})
    restore.callback(wait_api_server_ready, cluster, server)
    restore.callback(faults.set_argv, node, "kube-apiserver", old)
    faults.set_flags(
        node,
        "kube-apiserver",
        {
            "authorization-mode": "Node,ABAC,RBAC",
            "authorization-policy-file": f"/etc/kubernetes/{ABAC_FILE}",
        },
    )
    wait_api_server_ready(cluster, server)
    wait_anonymous_answered(cluster, [server], {200})


def wait_api_server_ready(cluster: Cluster, server: ApiServer) -> None:
    progress.wait_until(
        f"{server.label} ready",
        lambda: probe_api_server(cluster, server, "/readyz")[0] == 200,
        RECOVERY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )


def wait_anonymous_answered(
    cluster: Cluster, servers: list[ApiServer], statuses: set[int]
) -> None:
    """Each API server applies RBAC and flag changes on its own, a moment
    after the write or restart: wait until each answers as wanted."""

    def answered() -> bool:
        with anonymous_pool(cluster) as pool:
            for server in servers:
                try:
                    resp = pool.request("GET", server.url + ANONYMOUS_PATH)
                except urllib3.exceptions.HTTPError:
                    return False  # restarting
                if resp.status not in statuses:
                    return False
        return True

    progress.wait_until(
        f"anonymous reads answered {sorted(statuses)} by "
        + ", ".join(s.name for s in servers),
        answered,
        RECOVERY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )


# -- masters ------------------------------------------------------------------


def strip_control_plane_role(
    cluster: Cluster, node: str, restore: contextlib.ExitStack
) -> None:
    """Remove the control-plane label and taint from ``node`` (what
    ``kubectl label node X role-`` and ``kubectl taint node X role-`` do);
    restore adds both back."""
    restore.callback(_give_control_plane_role, cluster, node)
    kept = [
        t for t in _taints(cluster, node) if t["key"] != CONTROL_PLANE_TAINT
    ]
    cluster.core().patch_node(
        node,
        {
            "metadata": {"labels": {CONTROL_PLANE_TAINT: None}},
            "spec": {"taints": kept},
        },
    )


def _give_control_plane_role(cluster: Cluster, node: str) -> None:
    wanted = _taints(cluster, node)
    if not any(t["key"] == CONTROL_PLANE_TAINT for t in wanted):
        wanted.append({"key": CONTROL_PLANE_TAINT, "effect": "NoSchedule"})
    cluster.core().patch_node(
        node,
        {
            "metadata": {"labels": {CONTROL_PLANE_TAINT: ""}},
            "spec": {"taints": wanted},
        },
    )


def _taints(cluster: Cluster, node: str) -> list[dict[str, Any]]:
    """The node's taints as patch bodies (a list replaces the old one)."""
    taints = cluster.core().read_node(node).spec.taints or []
    return [cluster.api.sanitize_for_serialization(t) for t in taints]


# -- a scheduler without leader election --------------------------------------


def start_unelected_scheduler(
    faults: LabNodeAccess, node: str, restore: contextlib.ExitStack
) -> int:
    """Start a second kube-scheduler on ``node`` with the running one's
    binary and kubeconfig, ``--leader-elect=false`` and its own port,
    detached and self-limited; return its PID. Restore stops it."""
    argv = [
        a
        for a in faults.argv(node, "kube-scheduler")
        if not a.startswith(("--leader-elect", "--secure-port"))
    ]
    argv += ["--leader-elect=false", f"--secure-port={ROGUE_SCHEDULER_PORT}"]
    marker = f"secure-port={ROGUE_SCHEDULER_PORT}"
    restore.callback(stop_marked, faults, node, marker)
    faults.exec(
        node,
        [
            "sh",
            "-c",
            f"nohup timeout {ROGUE_LIFETIME_S} {shlex.join(argv)} "
            ">/dev/null 2>&1 </dev/null &",
        ],
    )
    pid = progress.wait_until(
        f"unelected kube-scheduler on {node} running",
        lambda: unelected_scheduler(faults, node),
        RECOVERY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )
    time.sleep(ROGUE_SETTLE_S)  # a scheduler that cannot start exits now
    assert unelected_scheduler(faults, node) == pid, (
        f"the unelected kube-scheduler on {node} (pid {pid}) exited"
    )
    return pid


def unelected_scheduler(faults: LabNodeAccess, node: str) -> int | None:
    """The PID of a kube-scheduler running with --leader-elect=false."""
    found = [
        c.pid
        for c in components(faults, node)
        if c.name == "kube-scheduler" and c.flag("leader-elect") == "false"
    ]
    return found[0] if found else None


def stop_marked(faults: LabNodeAccess, node: str, marker: str) -> None:
    """Terminate the processes whose command line holds ``marker`` and
    wait until they are gone."""

    def pids() -> list[str]:
        out = faults.exec(node, ["pgrep", "-f", marker], check=False)
        return out.stdout.split()

    found = pids()
    if found:
        faults.exec(node, ["kill", *found], check=False)
    progress.wait_until(
        f"processes marked {marker} on {node} gone",
        lambda: not pids(),
        RECOVERY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )
