"""Locust workers as a Job inside the cluster, for loads one runner cannot
drive.

The master stays on the runner (``start_load`` with ``remote_workers``);
each of the Job's N pods runs the same locustfile from the runner image
(``gauntlet.images.runner_image``) as ``locust --worker`` against the
master's address, with the API credentials of its own ServiceAccount
(``Source(in_cluster=True)``). The ServiceAccount may do what the load
does and nothing else: every verb on ConfigMaps in the load namespace and
LIST of pods cluster-wide. Everything carries kube-gauntlet's labels and
is recorded in the run's fault ledger before it is made, so ``gauntlet
recover`` removes what a killed run left.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from gauntlet.errors import UsageError
from gauntlet.load.credentials import ENV_CONTEXT, ENV_KUBECONFIG, Source
from gauntlet.wellknown import MANAGED_BY, RUN_LABEL, label_value

__all__ = [
    "COMPONENT",
    "IMAGE_PREFIX",
    "LOCUSTFILE",
    "WorkerJob",
    "in_cluster_env",
    "to_yaml",
    "worker_job",
    "worker_manifests",
]

IMAGE_PREFIX = "/usr/local"
"""Where the runner image keeps Python (``gauntlet.lab.runner_image``)."""
_PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
LOCUSTFILE = f"{IMAGE_PREFIX}/lib/{_PY}/site-packages/gauntlet/load/users.py"
"""The locustfile inside the runner image (built from this interpreter,
so the same Python version)."""
COMPONENT = "load-worker"
ENV_MASTER_HOST = "KG_LOAD_MASTER_HOST"
ENV_MASTER_PORT = "KG_LOAD_MASTER_PORT"
RBAC = "rbac.authorization.k8s.io/v1"
CONFIGMAP_VERBS = ("get", "list", "watch", "create", "update", "patch")
CONFIGMAP_VERBS_ALL = (*CONFIGMAP_VERBS, "delete", "deletecollection")
DELETE_TIMEOUT_S = 30


@dataclass(frozen=True)
class WorkerJob:
    """N in-cluster workers for one run's master."""

    name: str
    """Names the Job, its ServiceAccount and its roles (cluster-scoped
    ones get the namespace appended)."""
    namespace: str
    """The load namespace: the Job runs where the load's objects live."""
    workers: int
    master_host: str
    """An address of the runner that the pods can reach."""
    master_port: int
    image: str
    run_id: str
    env: Mapping[str, str] = field(default_factory=dict)
    """The master's worker environment (``RunningLoad.worker_env``);
    its credential source is replaced by the pods' ServiceAccount."""
    deadline_s: int = 600
    """``activeDeadlineSeconds``: the Job is ended after this, however
    the master fares."""
    cpu: str = "1"
    memory: str = "512Mi"
    host_network: bool = False
    """Pods in the nodes' network: for clusters that do not masquerade
    pod traffic leaving the pod network (the lab), so the runner can
    answer them."""
    pull_policy: str = "IfNotPresent"

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise UsageError(f"in-cluster workers: {self.workers}: not >= 1")
        if not 0 < self.master_port <= 65535:
            raise UsageError(
                f"in-cluster workers: master port {self.master_port}"
            )
        if not self.master_host or self.master_host in ("0.0.0.0", "::"):
            raise UsageError(
                "in-cluster workers: give the address of the runner that "
                f"pods reach, not {self.master_host!r}"
            )
        if self.deadline_s < 1:
            raise UsageError(f"in-cluster workers: deadline {self.deadline_s}")

    @property
    def cluster_name(self) -> str:
        """Name of the cluster-scoped role and binding (one per run)."""
        return f"{self.name}-{self.namespace}"[:253]

    @property
    def labels(self) -> dict[str, str]:
        return {
            **MANAGED_BY,
            RUN_LABEL: label_value(self.run_id),
            "app.kubernetes.io/name": "kube-gauntlet",
            "app.kubernetes.io/component": COMPONENT,
        }


def in_cluster_env(worker_env: Mapping[str, str]) -> dict[str, str]:
    """``worker_env`` with the pods' own ServiceAccount as credentials
    (a runner's kubeconfig path means nothing inside a pod)."""
    env = {
        k: v
        for k, v in worker_env.items()
        if k not in (ENV_KUBECONFIG, ENV_CONTEXT)
    }
    env.update(Source(None, None, in_cluster=True).to_env())
    return env


def worker_manifests(job: WorkerJob) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding (ConfigMaps in the load
    namespace), ClusterRole and ClusterRoleBinding (LIST pods), and the
    Job: in the order they must be created."""
    ns, labels = job.namespace, job.labels
    meta = {"name": job.name, "namespace": ns, "labels": labels}
    cluster_meta = {"name": job.cluster_name, "labels": labels}
    account = {"kind": "ServiceAccount", "name": job.name, "namespace": ns}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": RBAC,
            "kind": "Role",
            "metadata": meta,
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "verbs": list(CONFIGMAP_VERBS_ALL),
                }
            ],
        },
        {
            "apiVersion": RBAC,
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": _role_ref("Role", job.name),
            "subjects": [account],
        },
        {
            "apiVersion": RBAC,
            "kind": "ClusterRole",
            "metadata": cluster_meta,
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}
            ],
        },
        {
            "apiVersion": RBAC,
            "kind": "ClusterRoleBinding",
            "metadata": cluster_meta,
            "roleRef": _role_ref("ClusterRole", job.cluster_name),
            "subjects": [account],
        },
        worker_job(job),
    ]


def worker_job(job: WorkerJob) -> dict[str, Any]:
    """The Job: ``workers`` pods at once, none retried, ended by the
    deadline at the latest."""
    env = {
        **in_cluster_env(job.env),
        ENV_MASTER_HOST: job.master_host,
        ENV_MASTER_PORT: str(job.master_port),
    }
    container = {
        "name": "worker",
        "image": job.image,
        "imagePullPolicy": job.pull_policy,
        "command": ["python3", "-m", "locust"],
        "args": [
            "-f",
            LOCUSTFILE,
            "--worker",
            "--master-host",
            f"$({ENV_MASTER_HOST})",
            "--master-port",
            f"$({ENV_MASTER_PORT})",
        ],
        "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "resources": {
            "requests": {"cpu": job.cpu, "memory": job.memory},
            "limits": {"cpu": job.cpu, "memory": job.memory},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "runAsGroup": 65534,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod: dict[str, Any] = {
        "serviceAccountName": job.name,
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 15,
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": _selector(job)},
            }
        ],
    }
    if job.host_network:
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job.name,
            "namespace": job.namespace,
            "labels": job.labels,
        },
        "spec": {
            "parallelism": job.workers,
            "completions": job.workers,
            "backoffLimit": 0,
            "activeDeadlineSeconds": job.deadline_s,
            "ttlSecondsAfterFinished": 300,
            "template": {"metadata": {"labels": job.labels}, "spec": pod},
        },
    }


def to_yaml(manifests: list[dict[str, Any]]) -> str:
    """One multi-document YAML, for ``kubectl apply -f``."""
    return yaml.safe_dump_all(manifests, sort_keys=False)


def _role_ref(kind: str, name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def _selector(job: WorkerJob) -> dict[str, str]:
    return {
        RUN_LABEL: label_value(job.run_id),
        "app.kubernetes.io/component": COMPONENT,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m gauntlet.load.in_cluster``: print the worker manifests
    for a master already listening (``kubectl apply -f -``)."""
    import argparse

    from gauntlet.images import runner_image
    from gauntlet.load.runner import ENV_NAMESPACE, ENV_RUN_ID, ENV_SCENARIO

    parser = argparse.ArgumentParser(
        prog="python -m gauntlet.load.in_cluster",
        description="print the in-cluster Locust worker Job and its RBAC",
    )
    parser.add_argument("--namespace", required=True, help="load namespace")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--master-host", required=True)
    parser.add_argument("--master-port", type=int, default=5557)
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--run-id", default="manual")
    parser.add_argument("--image", help="default: the runner image")
    parser.add_argument("--image-repo", help="mirror holding the image")
    parser.add_argument("--cpu", default="1")
    parser.add_argument("--memory", default="512Mi")
    parser.add_argument("--deadline", type=int, default=3600)
    parser.add_argument("--host-network", action="store_true")
    args = parser.parse_args(argv)
    job = WorkerJob(
        name="kg-load-workers",
        namespace=args.namespace,
        workers=args.workers,
        master_host=args.master_host,
        master_port=args.master_port,
        image=args.image or runner_image(args.image_repo),
        run_id=args.run_id,
        env={
            ENV_NAMESPACE: args.namespace,
            ENV_SCENARIO: args.scenario,
            ENV_RUN_ID: args.run_id,
        },
        deadline_s=args.deadline,
        cpu=args.cpu,
        memory=args.memory,
        host_network=args.host_network,
    )
    sys.stdout.write(to_yaml(worker_manifests(job)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
