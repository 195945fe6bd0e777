"""Delete a Node object, as an admin removing a machine does.

chaostoolkit-kubernetes has ``delete_nodes``, but it reads the answer of
``DELETE /nodes/<name>`` as a ``Status``, which current API servers no
longer return; this one waits until the Node is gone instead.
"""

from typing import Any

from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.chaos import _context, _select
from gauntlet.chaos._context import Configuration, Secrets
from gauntlet.errors import ClusterOperationFailed

__all__ = ["delete_node"]

GONE_TIMEOUT_S = 30.0


def delete_node(
    name: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Delete the Node ``name`` (a name or a node selector) and wait until
    the API no longer has it. Its kubelet registers it again on its next
    start, so the experiment's rollback starts the kubelet.

    Raises:
        ActivityFailed: the delete was refused or the Node stayed.
    """
    node = _select.resolve_node(name, configuration, secrets)
    core = _context.cluster(secrets).core()
    try:
        core.delete_node(node)
    except ApiException as exc:
        if exc.status != 404:
            raise ClusterOperationFailed(
                "delete", f"node {node}", None, f"{exc.status} {exc.reason}"
            ) from exc

    def gone() -> bool:
        try:
            core.read_node(node)
        except ApiException as exc:
            if exc.status == 404:
                return True
            raise
        return False

    progress.wait_until(f"node {node} deleted", gone, GONE_TIMEOUT_S, 0.5)
    return {"node": node}
