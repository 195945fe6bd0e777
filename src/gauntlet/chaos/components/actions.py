"""Stop, start and kill node components (kubelet, etcd, kube-apiserver...).

Every fault is written to the fault ledger with its undo before it is
injected; ``start_component`` undoes ``stop_component`` and also runs as
an experiment rollback.
"""

import signal as signals

from gauntlet.chaos import _context, _select
from gauntlet.chaos._context import Configuration, Secrets
from gauntlet.errors import UsageError
from gauntlet.faults import kinds

__all__ = ["kill_component", "start_component", "stop_component"]


def stop_component(
    node: str,
    component: str,
    duration: float | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, str]:
    """Stop ``component`` on ``node`` until it is started again, or for
    ``duration`` seconds.

    ``node`` is a node name or a selector: ``etcd-leader``,
    ``etcd-follower``, ``scheduler-leader``, ``controller-manager-leader``,
    ``any-worker``, ``worker-running:<namespace>/<label-selector>``,
    ``control-plane:<i>`` (1-based). The stop is an outage, not a crash:
    the supervisor does not restart the component. The rollback (start
    the component) is in the fault ledger before the stop happens.

    With ``duration`` the node starts the component again by itself
    that long after the stop, even when the runner cannot reach it any
    more (stopping the kubelet cuts ``--node-access pod``'s own path):
    the rollback then finds it running.

    Returns ``{"node": ..., "component": ...}`` with the resolved node.

    Raises:
        ActivityFailed: the selector matches nothing or the stop failed.
    """
    access = _context.node_access(configuration, secrets)
    name = _select.resolve_node(node, configuration, secrets)
    planned = f" for {duration:g}s" if duration is not None else ""
    _context.ledger(configuration).inject(
        f"stop {component} on {name}{planned}",
        kinds.start_component(access, name, component),
        lambda: access.stop(name, component, for_s=duration),
    )
    return {"node": name, "component": component}


def start_component(
    node: str,
    component: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, str]:
    """Start a stopped ``component`` on ``node`` (a no-op when it runs).

    Use it in the method to end an outage, and in ``rollbacks``. ``node``
    takes the same selectors as ``stop_component``; prefer the plain name
    in rollbacks, which must work while the API server is down.

    Raises:
        ActivityFailed: the start failed.
    """
    access = _context.node_access(configuration, secrets)
    name = _select.resolve_node(node, configuration, secrets)
    access.start(name, component)
    return {"node": name, "component": component}


def kill_component(
    node: str,
    component: str,
    signal: str = "SIGKILL",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, str]:
    """Send ``signal`` to ``component`` on ``node``: a crash.

    The node's supervisor (systemd, the kubelet for static pods, the
    lab's supervisor) decides whether it comes back. The ledger records a
    ``start_component`` so that the component runs again after the run
    whatever the supervisor does. ``node`` takes the selectors of
    ``stop_component``.

    Raises:
        ActivityFailed: unknown signal name, or the kill failed.
    """
    try:
        sig = signals.Signals[signal.upper()]
    except KeyError as exc:
        raise UsageError(f"unknown signal {signal!r}, e.g. SIGKILL") from exc
    access = _context.node_access(configuration, secrets)
    name = _select.resolve_node(node, configuration, secrets)
    _context.ledger(configuration).inject(
        f"{sig.name} {component} on {name}",
        kinds.start_component(access, name, component),
        lambda: access.kill(name, component, sig),
    )
    return {"node": name, "component": component, "signal": sig.name}
