"""``gauntlet lab up|down|status|kubeconfig|build``."""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path
from typing import Any

from gauntlet.cluster.client import ClusterTarget, api_client
from gauntlet.cluster.discovery import ClusterTopology, NodeInfo
from gauntlet.errors import GauntletError, LabError
from gauntlet.lab import network
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.build import ensure_all
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.topology import (
    FLAVORS,
    MAX_CONTROL_PLANES,
    MAX_WORKERS,
    Topology,
)
from gauntlet.lab.upgrade import upgrade_lab
from gauntlet.lab.versions import CURRENT, RELEASES
from gauntlet.observe.etcd import EtcdClient
from gauntlet.upgrade_steps import UPGRADE_STEPS_ENV
from gauntlet.wellknown import ETCD_CLIENT_PORT, LAB_NAME


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    lab = sub.add_parser("lab", help="the embedded lab cluster")
    cmds = lab.add_subparsers(dest="lab_command", required=True)
    up = cmds.add_parser("up", help="boot the lab (or reuse a healthy one)")
    up.add_argument(
        "--control-planes",
        type=int,
        default=3,
        help=f"1 to {MAX_CONTROL_PLANES} (default 3)",
    )
    up.add_argument(
        "--workers", type=int, default=2, help=f"0 to {MAX_WORKERS} (default 2)"
    )
    up.add_argument(
        "--flavor",
        choices=FLAVORS,
        default="services",
        help="services: control plane as supervised host processes "
        "(default); kubeadm: kubeadm init/join, control plane as static "
        "pods; managed: control plane outside the cluster, as on EKS/GKE",
    )
    up.add_argument(
        "--version",
        default=CURRENT.kubernetes,
        choices=sorted(RELEASES),
        help="Kubernetes release to run (default %(default)s; the previous "
        "one is for upgrade rehearsals)",
    )
    upgrade = cmds.add_parser(
        "upgrade",
        help="upgrade the lab in place, one minor, in the documented order",
    )
    upgrade.add_argument(
        "--to",
        required=True,
        choices=sorted(RELEASES),
        help="release to upgrade to",
    )
    upgrade.add_argument(
        "--steps-file",
        type=Path,
        metavar="FILE",
        help="write each step's start and end as JSON lines (default: "
        f"${UPGRADE_STEPS_ENV} when set)",
    )
    cmds.add_parser("down", help="stop the lab and remove every trace")
    build = cmds.add_parser("build", help="build (or find cached) binaries")
    build.add_argument(
        "--kubernetes",
        default=CURRENT.kubernetes,
        choices=sorted(RELEASES),
        help="release to build (default %(default)s)",
    )
    status = cmds.add_parser("status", help="nodes, components, etcd")
    status.add_argument("--json", action="store_true")
    cmds.add_parser("kubeconfig", help="print the admin kubeconfig path")
    lab.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.lab_command == "up":
        lab = LabCluster(release=RELEASES[args.version])
        report = lab.up(args.control_planes, args.workers, args.flavor)
        print(f"kubeconfig: {report.kubeconfig}")
        print(
            f"boot time: {report.seconds:.1f}s"
            + (" (reused)" if report.reused else "")
        )
        return 0
    lab = LabCluster()
    if args.lab_command == "upgrade":
        steps_file = args.steps_file or _env_path(UPGRADE_STEPS_ENV)
        # a SIGTERM (a rehearsal stopped) unwinds like Ctrl-C: the node
        # being drained is uncordoned on the way out
        signal.signal(signal.SIGTERM, _interrupt)
        upgrade_lab(lab, RELEASES[args.to], steps_file)
        return 0
    if args.lab_command == "down":
        leftovers = lab.down()
        if leftovers:
            print("could not remove: " + ", ".join(leftovers))
            return 1
        print("lab removed")
        return 0
    if args.lab_command == "build":
        for name, path in ensure_all(RELEASES[args.kubernetes]).items():
            print(f"{name}: {path}")
        return 0
    if args.lab_command == "kubeconfig":
        lab.manifest()
        print(lab.paths.kubeconfig)
        return 0
    return _status(lab, args.json)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _status(lab: LabCluster, as_json: bool) -> int:
    topo = lab.topology()
    if topo is None:
        raise LabError("no lab is up: run `gauntlet lab up`")
    try:
        ready = set(lab.ready_nodes())
    except LabError:
        ready = set()
    report: list[dict[str, Any]] = []
    for n in topo.nodes:
        try:
            comps = lab.components(n.name)
        except LabError as exc:
            comps = [
                {
                    "name": "supervisor",
                    "state": f"down ({exc})",
                    "pid": None,
                    "restarts": 0,
                }
            ]
        report.append(
            {
                "node": n.name,
                "role": n.role,
                "ip": n.ip,
                "ready": n.name in ready,
                "partitioned_from": network.partitioned_peers(n),
                "components": comps,
            }
        )
    etcd = _etcd_members(lab)
    running = lab.running_release()
    release = running.kubernetes if running else "unknown"
    if as_json:
        out = {
            "flavor": topo.flavor,
            "kubernetes": release,
            "nodes": report,
            "etcd": etcd,
        }
        print(json.dumps(out, indent=2))
        return 0
    print(f"{topo.flavor} lab, Kubernetes {release}")
    members = {n.name for n in topo.kubelet_nodes}
    for entry in report:
        flag = "Ready" if entry["ready"] else "NotReady"
        if entry["node"] not in members:
            flag = "no Node object (outside the cluster)"
        print(
            f"{entry['node']:<5} {entry['role']:<13} {entry['ip']:<12} "
            f"{flag}"
            + (
                f"  partitioned from {entry['partitioned_from']}"
                if entry["partitioned_from"]
                else ""
            )
        )
        components: list[dict[str, Any]] = entry["components"]
        for c in components:
            print(
                f"    {c['name']:<24} {c['state']:<11} pid={c['pid']} "
                f"restarts={c['restarts']}"
            )
    print("etcd members:")
    for m in etcd:
        print("    " + ", ".join(f"{k}={v}" for k, v in m.items()))
    return 0


def _etcd_members(lab: LabCluster) -> list[dict[str, Any]]:
    """Each member's status as ``lab status`` shows it, or the error.

    Read from the nodes with the lab's own topology, so that it works
    while the API servers are down.
    """
    topo = lab.topology()
    if topo is None:
        return [{"error": "no lab is up"}]
    try:
        context = LAB_NAME if topo.flavor == "services" else None
        cluster = api_client(ClusterTarget(lab.paths.kubeconfig, context))
        try:
            etcd = EtcdClient(
                cluster, _cluster_topology(topo), LabNodeAccess(lab)
            )
            members = etcd.statuses()
        finally:
            cluster.close()
    except GauntletError as exc:
        return [{"error": str(exc)}]
    return [
        {
            "endpoint": m.endpoint,
            "member_id": m.member_id,
            "leader_id": m.leader_id,
            "is_leader": m.is_leader,
            "revision": m.revision,
            "raft_term": m.raft_term,
            "db_size": m.db_size,
        }
        for m in members
    ]


def _cluster_topology(topo: Topology) -> ClusterTopology:
    """The lab's shape as discovery would report it, without the API."""
    nodes = tuple(
        NodeInfo(
            name=n.name,
            control_plane=n.control_plane,
            kubelet_version="",
            container_runtime="",
            internal_ip=n.ip,
            provider_id="",
        )
        for n in topo.nodes
    )
    return ClusterTopology(
        context=LAB_NAME,
        server="",
        server_version="",
        distribution=LAB_NAME,
        control_plane_mode="host-services",
        nodes=nodes,
        etcd_members=tuple(
            f"https://{n.ip}:{ETCD_CLIENT_PORT}" for n in topo.control_planes
        ),
        etcd_source="lab",
    )
