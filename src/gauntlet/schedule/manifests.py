"""A profile on a cron, inside the cluster: the manifests, built pure.

For one profile: a Namespace, a ServiceAccount bound to a ClusterRole of
the rules the profile needs (``gauntlet.schedule.rbac``), a
PersistentVolumeClaim the reports are kept on, and a CronJob whose pod
runs ``gauntlet run --profile P --in-cluster`` in the runner image, as
nobody, on a read-only root filesystem. A destructive profile carries
its opt-in naming the cluster, as ``gauntlet run --allow-destructive
CONTEXT`` would, or is refused here; every run still honours the
cluster's ``protected`` mark.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

import yaml

from gauntlet.cluster.client import IN_CLUSTER
from gauntlet.errors import UsageError
from gauntlet.images import RUNNER_IMAGE, RUNNER_PROJECT
from gauntlet.profiles import ProfileSpec
from gauntlet.safety import check_opt_in
from gauntlet.schedule.cron import check_cron, check_time_zone
from gauntlet.schedule.rbac import GAMEDAY_EXTRA, GATE_RULES, rules_for
from gauntlet.wellknown import MANAGED_BY

__all__ = [
    "DEFAULT_NAMESPACE",
    "REPORTS_MOUNT",
    "ScheduleSpec",
    "command_line",
    "reader_pod",
    "schedule_manifests",
    "to_yaml",
]

DEFAULT_NAMESPACE = "kube-gauntlet"
REPORTS_MOUNT = f"{RUNNER_PROJECT}/reports"
"""``reports/`` of the project in the image: runs, history, the ledger."""
STATE_DIR = f"{REPORTS_MOUNT}/state"
"""``KUBE_GAUNTLET_STATE``: the fault ledger outlives the pod, so a run
that was killed can be recovered (``gauntlet recover``) by the next."""
DEADLINES_S = {"gate": 1800, "gameday": 10800}
"""``activeDeadlineSeconds`` by profile: the gate takes minutes, a game
day about an hour on a small cluster."""
ROLLBACK_GRACE_S = 300
"""SIGTERM (the deadline, a deleted Job) rolls faults back first."""
COMPONENT = "scheduled-run"
RBAC = "rbac.authorization.k8s.io/v1"
_NAME = "kube-gauntlet-{profile}"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?([KMGTPE]i|[kMGTPE])?")


@dataclass(frozen=True)
class ScheduleSpec:
    """One scheduled profile and where and how it runs."""

    profile: ProfileSpec
    cron: str
    image: str
    namespace: str = DEFAULT_NAMESPACE
    context: str | None = None
    """The cluster's name in reports and the opt-in (default: the
    ``allow_destructive`` name, else ``in-cluster``)."""
    allow_destructive: str | None = None
    keyword: str | None = None
    """``gauntlet run -k``: a subset of the profile's guarantees."""
    time_zone: str | None = None
    deadline_s: int | None = None
    storage: str = "1Gi"
    storage_class: str | None = None
    pull_policy: str = "IfNotPresent"
    host_network: bool = False
    """Pods in the node's network: for clusters whose pods cannot reach
    the API servers' own addresses (the lab)."""

    @property
    def name(self) -> str:
        return _NAME.format(profile=self.profile.name)

    @property
    def target(self) -> str:
        return self.context or self.allow_destructive or IN_CLUSTER

    @property
    def deadline(self) -> int:
        return self.deadline_s or DEADLINES_S.get(self.profile.name, 3600)

    @property
    def labels(self) -> dict[str, str]:
        return {
            **MANAGED_BY,
            "app.kubernetes.io/name": "kube-gauntlet",
            "app.kubernetes.io/component": COMPONENT,
            "kube-gauntlet.io/profile": self.profile.name,
        }

    def args(self) -> list[str]:
        """``gauntlet run`` as the pod runs it."""
        argv = ["run", "--profile", self.profile.name, "--in-cluster"]
        argv += ["--context", self.target, "--node-access", "pod"]
        if self.profile.destructive:
            argv += ["--allow-destructive", self.target]
        if self.keyword:
            argv += ["-k", self.keyword]
        return argv


def schedule_manifests(spec: ScheduleSpec) -> list[dict[str, Any]]:
    """Namespace, ServiceAccount, ClusterRole and its binding, the
    reports' PersistentVolumeClaim and the CronJob, in apply order.

    Raises:
        UsageError: a bad cron schedule or deadline, a profile that
            cannot be scheduled, or a destructive one without the opt-in
            naming the cluster.
    """
    rules = rules_for(spec.profile.name)
    _check(spec)
    if spec.profile.destructive and not spec.allow_destructive:
        raise UsageError(
            f"profile {spec.profile.name} is destructive: pass "
            "--allow-destructive CONTEXT naming the cluster the CronJob "
            "is for; it is written into the manifest"
        )
    check_opt_in(spec.profile, spec.target, spec.allow_destructive)
    labels, ns = spec.labels, spec.namespace
    account = {"kind": "ServiceAccount", "name": spec.name, "namespace": ns}
    ns_labels = dict(MANAGED_BY)
    if not spec.host_network:  # the runner needs no privilege itself
        ns_labels["pod-security.kubernetes.io/enforce"] = "restricted"
    return [
        _object("v1", "Namespace", {"name": ns, "labels": ns_labels}),
        _object("v1", "ServiceAccount", _meta(spec)),
        {
            **_object(RBAC, "ClusterRole", _meta(spec, namespaced=False)),
            "rules": [r.to_dict() for r in rules],
        },
        {
            **_object(
                RBAC, "ClusterRoleBinding", _meta(spec, namespaced=False)
            ),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": spec.name,
            },
            "subjects": [account],
        },
        _claim(spec),
        _cron_job(spec, labels),
    ]


def command_line(spec: ScheduleSpec) -> str:
    """The ``gauntlet schedule print`` that writes these manifests."""
    argv = ["gauntlet", "schedule", "print", "--profile", spec.profile.name]
    argv += ["--cron", spec.cron]
    optional = (
        ("--allow-destructive", spec.allow_destructive),
        ("--context", spec.context),
        ("--namespace", _unless(spec.namespace, DEFAULT_NAMESPACE)),
        ("--image", _unless(spec.image, RUNNER_IMAGE)),
        ("--time-zone", spec.time_zone),
        ("--deadline", str(spec.deadline_s) if spec.deadline_s else None),
        ("--storage", _unless(spec.storage, "1Gi")),
        ("--storage-class", spec.storage_class),
        ("-k", spec.keyword),
    )
    for flag, value in optional:
        if value:
            argv += [flag, value]
    return shlex.join(argv)


def _unless(value: str, default: str) -> str | None:
    return None if value == default else value


def _check(spec: ScheduleSpec) -> None:
    """Everything the API server or the controller would refuse later.

    Raises:
        UsageError: naming the bad value.
    """
    check_cron(spec.cron)
    if spec.time_zone:
        check_time_zone(spec.time_zone)
    if not _DNS_LABEL.fullmatch(spec.namespace):
        raise UsageError(
            f"namespace {spec.namespace!r}: lower-case letters, digits and "
            "'-', at most 63 characters"
        )
    if not _QUANTITY.fullmatch(spec.storage):
        raise UsageError(
            f"storage {spec.storage!r}: a size such as 1Gi or 500Mi"
        )
    if spec.deadline < 60:
        raise UsageError(f"deadline {spec.deadline}s: give at least 60")


def reader_pod(spec: ScheduleSpec) -> dict[str, Any]:
    """A pod that mounts the reports volume read-only, to read or copy
    reports with ``kubectl exec`` (the runner image has Python, no
    shell)."""
    container = {
        "name": "reader",
        "image": spec.image,
        "imagePullPolicy": spec.pull_policy,
        "command": ["python3", "-c", "import time; time.sleep(3600)"],
        "securityContext": _container_security(),
        "volumeMounts": [
            {"name": "reports", "mountPath": REPORTS_MOUNT, "readOnly": True}
        ],
    }
    pod = _pod_spec(spec, [container], _claim_volume(spec))
    pod.pop("serviceAccountName")
    pod |= {"automountServiceAccountToken": False}
    pod |= {"terminationGracePeriodSeconds": 5}
    labels = {**spec.labels, "app.kubernetes.io/component": "reports-reader"}
    meta = {**_meta(spec), "name": f"{spec.name}-reports", "labels": labels}
    return {**_object("v1", "Pod", meta), "spec": pod}


def to_yaml(manifests: list[dict[str, Any]], header: str = "") -> str:
    """One multi-document YAML for ``kubectl apply -f``; each ClusterRole
    rule is preceded by a comment saying why it is granted."""
    docs = [_document(m) for m in manifests]
    lead = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return lead + "---\n".join(docs)


def _document(manifest: dict[str, Any]) -> str:
    if manifest["kind"] != "ClusterRole":
        return _dump(manifest)
    head = {k: v for k, v in manifest.items() if k != "rules"}
    text = _dump(head) + "rules:\n"
    whys = {_key(r.to_dict()): r.why for r in GATE_RULES + GAMEDAY_EXTRA}
    for rule in manifest["rules"]:
        why = whys.get(_key(rule), "")
        text += _comment(why, "") + _dump([rule])
    return text


def _key(rule: dict[str, Any]) -> str:
    return repr(sorted(rule.items()))


def _comment(text: str, indent: str) -> str:
    """``text`` wrapped to comment lines of at most 79 characters."""
    lines, line = [], ""
    for word in text.split():
        if line and len(indent) + 2 + len(line) + 1 + len(word) > 79:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return "".join(f"{indent}# {ln}\n" for ln in lines)


class _Dumper(yaml.SafeDumper):
    """Safe YAML without anchors: the labels repeat, written out."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(data: object) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=79)


def _object(
    api_version: str, kind: str, meta: dict[str, Any]
) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def _meta(spec: ScheduleSpec, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": spec.name, "labels": spec.labels}
    if namespaced:
        meta = {"name": spec.name, "namespace": spec.namespace, **meta}
    return meta


def _claim(spec: ScheduleSpec) -> dict[str, Any]:
    meta = {**_meta(spec), "name": f"{spec.name}-reports"}
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.storage}},
    }
    if spec.storage_class:
        claim["storageClassName"] = spec.storage_class
    return {**_object("v1", "PersistentVolumeClaim", meta), "spec": claim}


def _claim_volume(spec: ScheduleSpec) -> dict[str, Any]:
    return {
        "name": "reports",
        "persistentVolumeClaim": {"claimName": f"{spec.name}-reports"},
    }


def _cron_job(spec: ScheduleSpec, labels: dict[str, str]) -> dict[str, Any]:
    container = {
        "name": "gauntlet",
        "image": spec.image,
        "imagePullPolicy": spec.pull_policy,
        "command": ["gauntlet"],
        "args": spec.args(),
        "env": [
            {"name": "KUBE_GAUNTLET_PROJECT", "value": RUNNER_PROJECT},
            {"name": "KUBE_GAUNTLET_STATE", "value": STATE_DIR},
            # The root filesystem is read-only: no .pytest_cache.
            {"name": "PYTEST_ADDOPTS", "value": "-p no:cacheprovider"},
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "384Mi"},
            "limits": {"memory": "1536Mi"},
        },
        "securityContext": _container_security(),
        "volumeMounts": [
            {"name": "reports", "mountPath": REPORTS_MOUNT},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    volumes = [
        _claim_volume(spec),
        {"name": "tmp", "emptyDir": {"sizeLimit": "512Mi"}},
    ]
    job = {
        "backoffLimit": 0,
        "activeDeadlineSeconds": spec.deadline,
        "template": {
            "metadata": {"labels": labels},
            "spec": _pod_spec(spec, [container], *volumes),
        },
    }
    cron: dict[str, Any] = {"schedule": check_cron(spec.cron)}
    if spec.time_zone:
        cron["timeZone"] = spec.time_zone
    cron |= {
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 600,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {"metadata": {"labels": labels}, "spec": job},
    }
    return {**_object("batch/v1", "CronJob", _meta(spec)), "spec": cron}


def _pod_spec(
    spec: ScheduleSpec, containers: list[dict[str, Any]], *volumes: Any
) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "serviceAccountName": spec.name,
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": ROLLBACK_GRACE_S,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "runAsGroup": 65534,
            "fsGroup": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": containers,
        "volumes": list(volumes),
    }
    if spec.host_network:
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    return pod


def _container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
