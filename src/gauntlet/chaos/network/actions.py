"""Cut nodes off from each other, and heal them.

A partition drops all traffic both ways between each node in ``nodes``
and each peer in ``from_nodes``; the heal is in the fault ledger before
the first rule goes in.
"""

import functools
import ipaddress

from gauntlet.chaos import _context, _select
from gauntlet.chaos._context import Configuration, Secrets
from gauntlet.faults import kinds

__all__ = ["heal_nodes", "partition_nodes"]


def partition_nodes(
    nodes: list[str],
    from_nodes: list[str],
    duration: float | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> list[str]:
    """Drop all traffic between every node of ``nodes`` and ``from_nodes``
    until they are healed, or for ``duration`` seconds.

    Both lists take node names, IP addresses (``from_nodes`` only) and the
    selectors of ``stop_component`` (``etcd-leader``,
    ``control-plane:3``...). The runner host keeps reaching the nodes
    unless its own address is listed. With ``duration`` each node heals
    itself that long after its rules went in, even when the runner
    cannot reach it any more (``--node-access pod`` reaches a node
    through the control plane). Returns the partitioned node names.

    Raises:
        ActivityFailed: a selector matches nothing or a rule failed.
    """
    access = _context.node_access(configuration, secrets)
    cut = _select.resolve_nodes(nodes, configuration, secrets)
    peers = [
        p if _is_address(p) else _select.resolve_node(p, configuration, secrets)
        for p in ([from_nodes] if isinstance(from_nodes, str) else from_nodes)
    ]
    faults = _context.ledger(configuration)
    planned = f" for {duration:g}s" if duration is not None else ""
    for name in cut:
        others = [p for p in peers if p != name]
        faults.inject(
            f"partition {name} from {', '.join(others)}{planned}",
            kinds.heal_partition(access, name),
            functools.partial(access.partition, name, others, duration),
        )
    return cut


def heal_nodes(
    nodes: list[str],
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> list[str]:
    """Remove every partition rule from each node of ``nodes``.

    Idempotent: healing a node that is not partitioned does nothing. Use
    it in the method to end a partition and in ``rollbacks``; prefer
    plain node names there.

    Raises:
        ActivityFailed: a rule could not be removed.
    """
    access = _context.node_access(configuration, secrets)
    healed = _select.resolve_nodes(nodes, configuration, secrets)
    for name in healed:
        access.heal(name)
    return healed


def _is_address(peer: str) -> bool:
    try:
        ipaddress.ip_address(peer)
    except ValueError:
        return False
    return True
