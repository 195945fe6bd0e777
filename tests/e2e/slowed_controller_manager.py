"""Slow every kube-controller-manager of the lab by a fixed delay.

Each controller-manager is restarted with ``--master`` pointing at a
``DelayProxy`` in front of its own API server; once the leader has started
its controllers, the proxies begin to hold every byte ``delay_s`` each way,
so every watch event reaches the controllers late and every call they make
lands late: the same slowdown each run, the controllers otherwise intact.

Why not the alternatives (measured on the lab): a CPU quota slows the
controller-manager by how busy it is (20 ms/s changed nothing; 2 ms/s,
below its idle use, made ARCH-08's scale-up miss 30 s while the pod
replacement took 8 s); the lab's kernel has no netem; a low
``--kube-api-qps`` also throttles the informers' start and the leader
lease. The argv changes are in a fault ledger (``gauntlet recover`` puts
them back after a crash); the undo goes on the caller's ``restore`` stack.
"""

from __future__ import annotations

import contextlib
import secrets

from delay_proxy import DelayProxy

from gauntlet import progress
from gauntlet.checks.chaos import _support
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.topology import BRIDGE_IP
from gauntlet.wellknown import APISERVER_PORT

COMPONENT = "kube-controller-manager"
HEALTHZ = ["curl", "-sk", "https://127.0.0.1:10257/healthz?verbose"]
STARTED = ("[+]deployment-controller ok", "[+]replicaset-controller ok")
"""What the leader's healthz lists once ARCH-08's controllers run."""
START_TIMEOUT_S = 90.0
POLL_INTERVAL_S = 0.5


def slow_controller_managers(
    faults: LabNodeAccess,
    delay_s: float,
    restore: contextlib.ExitStack,
) -> dict[str, DelayProxy]:
    """Restart every controller-manager behind a proxy, wait until one
    leads with its controllers started, then delay; the proxies by node.

    The undo (on ``restore``) restarts them as they were and waits until
    a leader runs its controllers again.
    """
    topo = faults.lab.topology()
    assert topo is not None
    nodes = [n.name for n in topo.control_planes]
    restore.callback(wait_controllers_started, faults, nodes)  # runs last
    proxies: dict[str, DelayProxy] = {}
    for node in topo.control_planes:
        upstream = (node.ip, APISERVER_PORT)
        proxies[node.name] = DelayProxy(BRIDGE_IP, upstream, 0.0).start()
        restore.callback(proxies[node.name].close)  # after the argv undo
    ledger = FaultLedger(f"trend-slowed-kcm-{secrets.token_hex(3)}")
    restore.callback(_support.restore, ledger)
    for node_name, proxy in proxies.items():
        old = faults.argv(node_name, COMPONENT)
        new = [a for a in old if not a.startswith("--master=")]
        new.append(f"--master={proxy.url}")
        ledger.inject(
            f"{COMPONENT} on {node_name} through a {delay_s:g}s delay",
            kinds.restore_argv(faults, node_name, COMPONENT, old),
            lambda n=node_name, argv=new: faults.set_argv(n, COMPONENT, argv),
        )
    leader = wait_controllers_started(faults, nodes)
    assert proxies[leader].connections, f"{leader}: {COMPONENT} bypasses us"
    for proxy in proxies.values():
        proxy.delay_s = delay_s
    progress.say(f"{COMPONENT} slowed by {delay_s:g}s each way")
    return proxies


def wait_controllers_started(faults: LabNodeAccess, nodes: list[str]) -> str:
    """The node whose controller-manager leads with the Deployment and
    ReplicaSet controllers started."""

    def leader() -> str | None:
        for node in nodes:
            healthz = faults.run(node, HEALTHZ).stdout
            if all(line in healthz for line in STARTED):
                return node
        return None

    return progress.wait_until(
        f"a {COMPONENT} leading with its controllers started",
        leader,
        START_TIMEOUT_S,
        POLL_INTERVAL_S,
    )
