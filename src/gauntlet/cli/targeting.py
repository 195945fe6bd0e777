"""Which cluster a command aims at, and how it may touch it.

Shared by ``gauntlet run`` and ``gauntlet experiment run`` so both resolve
the target, the node access and the protected mark the same way.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from gauntlet import progress
from gauntlet.backends import KINDS
from gauntlet.cluster.client import IN_CLUSTER, ClusterTarget, api_client
from gauntlet.cluster.kubeconfig import read_kubeconfig
from gauntlet.errors import UsageError
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.paths import LabPaths
from gauntlet.profiles import ProfileSpec
from gauntlet.safety import check_destructive, is_protected
from gauntlet.wellknown import LAB_NAME

__all__ = [
    "LAB_CONTEXT",
    "Target",
    "add_kubeconfig_arguments",
    "add_node_access_argument",
    "check_target_destructive",
    "resolve_node_access",
    "resolve_target",
]

LAB_CONTEXT = LAB_NAME
"""The lab's kubeconfig context (and cluster) name."""


@dataclass(frozen=True)
class Target:
    """The cluster a run is aimed at, resolved without contacting it."""

    cluster: ClusterTarget
    context: str
    lab: bool
    """The kube-gauntlet lab."""
    boot: bool = False
    """Boot (or reuse) the lab first: ``--lab`` or no kubeconfig given."""


def add_kubeconfig_arguments(parser: argparse.ArgumentParser) -> None:
    """``--kubeconfig``, ``--context`` and ``--in-cluster``, read by
    ``resolve_target``."""
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig file")
    parser.add_argument(
        "--context",
        help="kubeconfig context (with --in-cluster: the name this cluster "
        f"goes by in reports and --allow-destructive, default {IN_CLUSTER})",
    )
    parser.add_argument(
        "--in-cluster",
        action="store_true",
        help="run inside a pod with its ServiceAccount's credentials "
        "(examples/in-cluster)",
    )


def add_node_access_argument(parser: argparse.ArgumentParser) -> None:
    """``--node-access``, read by ``resolve_node_access``."""
    parser.add_argument(
        "--node-access",
        choices=KINDS,
        help="how to reach hosts (default: lab for the lab, else pod)",
    )


def resolve_target(args: argparse.Namespace) -> Target:
    """Lab, kubeconfig or the pod's own credentials, and the context
    name, from the file (or the flags) alone."""
    if getattr(args, "in_cluster", False):
        return _in_cluster(args)
    explicit = args.kubeconfig is not None or args.context is not None
    if args.lab and explicit:
        raise UsageError(
            "--lab targets the built-in lab: drop --kubeconfig/--context"
        )
    if args.lab or not (explicit or _kubeconfig_env()):
        flavor = LabCluster().flavor()
        if flavor in (None, "services"):
            lab = ClusterTarget(LabPaths.default().kubeconfig, LAB_CONTEXT)
            return Target(lab, LAB_CONTEXT, lab=True, boot=True)
        # Another flavor imitates another kind of cluster: meet it only
        # through its kubeconfig, as a user's cluster of that kind.
        progress.say(
            f"the lab up is the {flavor} flavor: targeting it by its "
            "kubeconfig, as any cluster"
        )
        args = argparse.Namespace(
            **{**vars(args), "kubeconfig": LabPaths.default().kubeconfig}
        )
    cluster = ClusterTarget(args.kubeconfig, args.context)
    info = read_kubeconfig(cluster.kubeconfig_path, args.context)
    cluster = ClusterTarget(info.path.resolve(), info.context)
    return Target(cluster, info.context, info.cluster == LAB_CONTEXT)


def _in_cluster(args: argparse.Namespace) -> Target:
    """The cluster this pod runs in. Without a kubeconfig a context has
    no file to be checked against, so ``--context`` only names the
    cluster: in reports, history, and the destructive opt-in a
    CronJob's manifest carries (``gauntlet schedule print``)."""
    if args.kubeconfig is not None or getattr(args, "lab", False):
        raise UsageError(
            "--in-cluster uses the pod's ServiceAccount: drop "
            "--kubeconfig/--lab (--context only names the cluster)"
        )
    name = args.context or IN_CLUSTER
    return Target(ClusterTarget(in_cluster=True), name, lab=False)


def resolve_node_access(requested: str | None, target: Target) -> str:
    """The lab backend only reaches the lab; refuse it for anything else."""
    node_access = requested or ("lab" if target.lab else "pod")
    if node_access == "lab" and not target.lab:
        raise UsageError(
            "--node-access lab only reaches the kube-gauntlet lab: use "
            "--node-access pod for this cluster"
        )
    return node_access


def check_target_destructive(
    profile: ProfileSpec, target: Target, allow_destructive: str | None
) -> None:
    """One GET for the protected mark, then the full destructive gate."""
    probe = api_client(target.cluster)
    try:
        protected = is_protected(probe)
    finally:
        probe.close()
    check_destructive(profile, target.context, allow_destructive, protected)


def _kubeconfig_env() -> bool:
    return bool(os.environ.get("KUBECONFIG"))
