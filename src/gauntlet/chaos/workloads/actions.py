"""Deploy a small web Service to watch during a fault, and remove it."""

from typing import Any

from kubernetes import client, utils
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.chaos import _context
from gauntlet.chaos._context import Configuration, Secrets
from gauntlet.cluster import workloads
from gauntlet.errors import ClusterOperationFailed
from gauntlet.faults import kinds
from gauntlet.images import workload_image
from gauntlet.observe import objects
from gauntlet.wellknown import RUN_LABEL, label_value

__all__ = ["deploy_web_service"]

NAMESPACE_GONE_TIMEOUT_S = 120.0
READY_TIMEOUT_S = 120.0


def deploy_web_service(
    namespace: str,
    name: str = "web",
    replicas: int = 2,
    min_available: int | None = None,
    spread: bool = True,
    image: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Create ``namespace`` with an HTTP Deployment and its Service.

    The Deployment (label ``app=<name>``, ``agnhost netexec`` on port
    8080 from ``image`` or the workload image, an agnhost; with
    ``spread``, one replica per node at most) sits behind a
    ClusterIP Service ``<name>`` on port 80; with
    ``min_available`` a PodDisruptionBudget guards it. Waits until every
    replica is ready. The namespace's deletion is in the fault ledger
    before it is created, so the run's rollbacks remove everything.

    Raises:
        ActivityFailed: an object cannot be created, or the replicas are
            not ready within 120 s.
    """
    cluster = _context.cluster(secrets)
    core = cluster.core()
    labels = {RUN_LABEL: label_value(_context.run_id(configuration))}

    def create_namespace() -> None:
        body = client.V1Namespace(
            metadata=client.V1ObjectMeta(name=namespace, labels=labels)
        )

        def created() -> bool:
            try:
                core.create_namespace(body)
            except ApiException as exc:
                if exc.status == 409 and "being deleted" in str(exc.body):
                    return False  # the previous run's namespace is going
                raise ClusterOperationFailed(
                    "create",
                    f"namespace {namespace}",
                    None,
                    f"{exc.status} {exc.reason}",
                ) from exc
            return True

        progress.wait_until(
            f"namespace {namespace} free (a previous one terminating)",
            created,
            NAMESPACE_GONE_TIMEOUT_S,
            1.0,
        )

    _context.ledger(configuration).inject(
        f"create namespace {namespace}",
        kinds.delete_object(cluster, "Namespace", namespace),
        create_namespace,
    )
    manifests: list[dict[str, Any]] = [
        workloads.web_deployment(
            name,
            image or workload_image(),
            replicas=replicas,
            spread=spread,
        ),
        workloads.cluster_ip_service(name),
    ]
    if min_available is not None:
        manifests.append(workloads.disruption_budget(name, min_available))
    for obj in manifests:
        try:
            utils.create_from_dict(  # type: ignore[no-untyped-call]
                cluster.api, obj, namespace=namespace
            )
        except (ApiException, utils.FailToCreateError) as exc:
            raise RuntimeError(
                f"create {obj['kind']} {name} in {namespace}: {exc}"
            ) from exc
    workloads.wait_deployment_ready(
        cluster.apps(), namespace, name, READY_TIMEOUT_S
    )
    pods = workloads.pods_of(core, namespace, name)
    return {
        "namespace": namespace,
        "service": name,
        "pods": {objects.name(p): objects.node_name(p) for p in pods},
    }
