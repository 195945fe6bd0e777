"""Whether a component runs on a node, from the node's process list."""

from pathlib import PurePath

from chaoslib.exceptions import ActivityFailed

from gauntlet.chaos import _context, _select
from gauntlet.chaos._context import Configuration, Secrets

__all__ = ["component_running"]


def component_running(
    node: str,
    component: str,
    raise_on_failure: bool = True,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """Whether a process of ``component`` runs on ``node``.

    Matches the executable's base name (``kubelet``, ``etcd``,
    ``kube-apiserver``...) in the node's process list. ``node`` takes the
    selectors of ``stop_component``.

    Raises:
        ActivityFailed: it does not run (unless ``raise_on_failure`` is
            false, then the probe returns ``False``).
    """
    access = _context.node_access(configuration, secrets)
    name = _select.resolve_node(node, configuration, secrets)
    running = any(
        PurePath(p.args.split(" ", 1)[0]).name == component
        for p in access.processes(name)
        if p.args
    )
    if not running and raise_on_failure:
        raise ActivityFailed(f"{component} is not running on {name}")
    return running
