"""Objects a run makes from manifests, each recorded before it is made.

The ledger entry comes first (a create that times out may still land),
then the create; the removal is pushed on the caller's exit stack, so
objects go newest first when the block ends, also on failure, and
``gauntlet recover`` finds whatever a killed run left.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from gauntlet.cluster.client import Cluster
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger

__all__ = ["make_recorded"]


def make_recorded(
    stack: contextlib.ExitStack,
    ledger: FaultLedger,
    cluster: Cluster,
    dynamic: DynamicClient,
    manifest: dict[str, Any],
    delete_timeout_s: float,
) -> None:
    """Record the object's removal, make it, and remove it (with its
    dependents, in the background) when ``stack`` unwinds.

    Raises:
        ApiException: the object could not be made (its entry stays for
            the stack's removal, which finds it gone).
    """
    kind, api_version = manifest["kind"], manifest["apiVersion"]
    name = manifest["metadata"]["name"]
    namespace = manifest["metadata"].get("namespace")
    resource = dynamic.resources.get(api_version=api_version, kind=kind)
    where = f" in {namespace}" if namespace else ""
    entry = ledger.record_object(
        f"{kind} {name}{where}",
        kinds.delete_object(cluster, kind, name, namespace, api_version),
    )

    def delete() -> None:
        try:
            resource.delete(
                name=name,
                namespace=namespace,
                body={"propagationPolicy": "Background"},
                _request_timeout=delete_timeout_s,
            )
        except ApiException as exc:
            if kinds.delete_outcome(exc.status) != "done":
                raise

    stack.callback(ledger.remove, entry, delete)
    resource.create(body=manifest, namespace=namespace)
