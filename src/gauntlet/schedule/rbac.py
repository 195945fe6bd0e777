"""What a scheduled run may do in the cluster, rule by rule, and why.

The gate's rules are the API calls the ARCH suites, the root conftest
(namespaces, the write probe, the ledger's ConfigMap mirror) and the pod
node backend make, and nothing else: no Secrets, no RBAC writes, no
changes to nodes or to anything outside the run's own namespaces but the
ledger mirror in kube-system. ``tests/e2e/test_in_cluster_schedule_on_lab.py``
runs the gate with exactly these rules.

Node-level checks go through privileged helper pods (``--node-access
pod``, ``gauntlet.nodes.helper_pods``): a namespace made with the
``privileged`` Pod Security level, pods with host PID and network, exec
into them. With RBAC that is a small set of rules, but it is root on every
node; a cluster that refuses privileged pods (admission) makes those
checks skip with the reason instead.

The game day needs more: it cordons, drains and deletes nodes (RES-09,
RES-10), evicts pods under a PodDisruptionBudget, runs a StatefulSet
(PART-03) and reads a client pod's log; its faults (stopping kubelets,
API servers and etcd, partitions) go through the same helper pods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gauntlet.errors import UsageError

__all__ = ["GAMEDAY_EXTRA", "GATE_RULES", "Rule", "rules_for"]


@dataclass(frozen=True)
class Rule:
    """One PolicyRule, with the reason it is granted."""

    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiGroups": [self.group],
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }


READ = ("get", "list", "watch")

GATE_RULES: tuple[Rule, ...] = (
    Rule(
        "",
        ("nodes",),
        READ,
        "topology, roles, taints, capacity, addresses and Ready state "
        "(discovery; ARCH-04, 05, 07, 09, 10, 15, 16)",
    ),
    Rule(
        "",
        ("namespaces",),
        ("get", "list", "create", "delete"),
        "a namespace per test and per run (probes), removed after; the "
        "pod node backend's kube-gauntlet-system; the protected mark on "
        "kube-system; ARCH-04 lists namespaces",
    ),
    Rule(
        "",
        ("pods",),
        (*READ, "create", "delete", "deletecollection"),
        "test pods in the run's namespaces; control-plane pods read in "
        "kube-system (ARCH-03, 04); the node helper pods",
    ),
    Rule(
        "",
        ("pods/exec",),
        ("create", "get"),
        "commands in test pods (ARCH-09, 10, 16), in node helper pods "
        "(node-level checks) and etcdctl in etcd's static pod",
    ),
    Rule(
        "",
        ("services",),
        ("create",),
        "ARCH-09's ClusterIP Service (removed with its namespace)",
    ),
    Rule(
        "",
        ("serviceaccounts",),
        ("create",),
        "a new namespace's default account; ARCH-02's account without RBAC",
    ),
    Rule(
        "",
        ("serviceaccounts/token",),
        ("create",),
        "ARCH-02: a token for that account, to show its write is refused",
    ),
    Rule(
        "",
        ("configmaps",),
        ("get", "list", "create", "update", "patch", "delete"),
        "write probes through every API server, ARCH-10's volume, the "
        "fault ledger's mirror in kube-system, kubeadm-config read by "
        "discovery",
    ),
    Rule(
        "",
        ("events",),
        ("list",),
        "why a test pod was not scheduled or started (evidence)",
    ),
    Rule(
        "discovery.k8s.io",
        ("endpointslices",),
        READ,
        "each API server's address (default/kubernetes); ARCH-09 watches "
        "its Service's endpoints",
    ),
    Rule(
        "apps",
        ("deployments",),
        (*READ, "create"),
        "ARCH-02 (an invalid one, refused), 07, 08, 09",
    ),
    Rule(
        "apps",
        ("deployments/scale",),
        ("patch",),
        "ARCH-08 scales its Deployment",
    ),
    Rule(
        "apps",
        ("replicasets",),
        ("list",),
        "ARCH-08: the Deployment -> ReplicaSet -> Pod chain",
    ),
    Rule(
        "coordination.k8s.io",
        ("leases",),
        READ,
        "leader leases (ARCH-14) and node heartbeats (ARCH-10)",
    ),
    Rule(
        "rbac.authorization.k8s.io",
        ("clusterrolebindings", "rolebindings"),
        ("list",),
        "ARCH-02 names the bindings that would grant an anonymous or "
        "unprivileged request it saw accepted",
    ),
)
"""The gate (ARCH-01..16) with pod node access."""

GAMEDAY_EXTRA: tuple[Rule, ...] = (
    Rule(
        "",
        ("nodes",),
        ("patch", "delete"),
        "RES-09 cordons and uncordons; RES-10 deletes a Node as it "
        "leaves (the kubelet registers it again)",
    ),
    Rule("", ("pods/eviction",), ("create",), "RES-09 drains a worker"),
    Rule("", ("pods/log",), ("get",), "the Service client's log (RES, PART)"),
    Rule(
        "",
        ("services", "serviceaccounts"),
        ("get",),
        "the web Service and the namespace's default account",
    ),
    Rule(
        "policy",
        ("poddisruptionbudgets",),
        ("get", "create"),
        "RES-09: the budget the drain must respect",
    ),
    Rule(
        "apps",
        ("statefulsets",),
        (*READ, "create"),
        "PART-03: a StatefulSet on a worker cut off",
    ),
)
"""What the game day (RES, PART) needs on top of the gate's rules."""


def rules_for(profile: str) -> tuple[Rule, ...]:
    """The rules a scheduled ``profile`` runs with.

    Raises:
        UsageError: no rules are kept for ``profile``.
    """
    if profile == "gate":
        return GATE_RULES
    if profile == "gameday":
        return GATE_RULES + GAMEDAY_EXTRA
    raise UsageError(
        f"profile {profile}: only gate and gameday can be scheduled in the "
        "cluster (the others need a runner outside it or an upgrade "
        "target)"
    )
