"""The lab's network: a host bridge, one netns per node, and no way out.

Nodes get a veth on the bridge ``kglab0``, routes to each other's pod
ranges and a route for the Service range towards the host, as a real node
has its default route: the node's kube-proxy rewrites ClusterIPs before
that route is used, so the API server reaches webhooks behind Services.
None gets a default route, nothing is NATed to the outside and the host
drops anything that would leave the bridge. Service and pod ranges are
unreachable on the host itself, so what reaches it there is refused at
once and a mistaken host-side probe cannot leak.
"""

from __future__ import annotations

from gauntlet.lab import sh
from gauntlet.lab.topology import (
    BRIDGE,
    BRIDGE_IP,
    NETNS_PREFIX,
    NODE_PREFIX_LEN,
    POD_CIDR,
    SERVICE_CIDR,
    LabNode,
    Topology,
)
from gauntlet.nodes.host_commands import PARTITION_CHAIN
from gauntlet.wellknown import LAB_NAME

GUARD_COMMENT = f"{LAB_NAME}-guard"
_GUARD_RULE = [
    "FORWARD",
    "-i",
    BRIDGE,
    "!",
    "-o",
    BRIDGE,
    "-j",
    "DROP",
    "-m",
    "comment",
    "--comment",
    GUARD_COMMENT,
]


def _exists(argv: list[str]) -> bool:
    return sh.run(argv, check=False).returncode == 0


def create_bridge() -> None:
    if not _exists(["ip", "link", "show", BRIDGE]):
        sh.run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    addrs = sh.run(["ip", "-o", "addr", "show", "dev", BRIDGE]).stdout
    if BRIDGE_IP not in addrs:
        sh.run(
            [
                "ip",
                "addr",
                "add",
                f"{BRIDGE_IP}/{NODE_PREFIX_LEN}",
                "dev",
                BRIDGE,
            ]
        )
    sh.run(["ip", "link", "set", BRIDGE, "up"])
    install_guard()


def install_guard() -> None:
    """Drop lab traffic that would leave the bridge; blackhole lab ranges."""
    if not _exists(["iptables", "-C", *_GUARD_RULE]):
        sh.run(["iptables", "-I", *_GUARD_RULE])
    for cidr in (POD_CIDR, SERVICE_CIDR):
        sh.run(["ip", "route", "replace", "unreachable", cidr])


def create_node_network(node: LabNode, topology: Topology) -> None:
    """Give ``node`` its netns, address, routes and forwarding."""
    ns = node.netns
    if not _exists(["ip", "netns", "pids", ns]):
        sh.run(["ip", "netns", "add", ns])
    if not _exists(["ip", "link", "show", node.veth]):
        sh.run(
            [
                "ip",
                "link",
                "add",
                node.veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns,
            ]
        )
    sh.run(["ip", "link", "set", node.veth, "master", BRIDGE, "up"])
    ip_ns = ["ip", "-n", ns]
    addrs = sh.run([*ip_ns, "-o", "addr", "show", "dev", "eth0"]).stdout
    if f"{node.ip}/" not in addrs:
        sh.run(
            [
                *ip_ns,
                "addr",
                "add",
                f"{node.ip}/{NODE_PREFIX_LEN}",
                "dev",
                "eth0",
            ]
        )
    sh.run([*ip_ns, "link", "set", "lo", "up"])
    sh.run([*ip_ns, "link", "set", "eth0", "up"])
    for peer in topology.nodes:
        if peer.name != node.name:
            sh.run([*ip_ns, "route", "replace", peer.pod_cidr, "via", peer.ip])
    sh.run([*ip_ns, "route", "replace", SERVICE_CIDR, "via", BRIDGE_IP])
    for key, value in (
        ("net.ipv4.ip_forward", "1"),
        ("net.ipv4.conf.all.route_localnet", "1"),
        ("net.bridge.bridge-nf-call-iptables", "1"),
    ):
        sh.run(
            sh.in_netns(ns, ["sysctl", "-qw", f"{key}={value}"]), check=False
        )


def lab_netns() -> list[str]:
    out = sh.run(["ip", "netns", "list"], check=False).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [n for n in names if n.startswith(NETNS_PREFIX)]


def teardown() -> None:
    """Remove every namespace, link, route and rule the lab created."""
    for ns in lab_netns():
        sh.run(["ip", "netns", "del", ns], check=False)
    links = sh.run(["ip", "-o", "link", "show"], check=False).stdout
    for line in links.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith("kgv-"):
            sh.run(["ip", "link", "del", name], check=False)
    if _exists(["ip", "link", "show", BRIDGE]):
        sh.run(["ip", "link", "del", BRIDGE], check=False)
    while _exists(["iptables", "-C", *_GUARD_RULE]):
        sh.run(["iptables", "-D", *_GUARD_RULE], check=False)
    for cidr in (POD_CIDR, SERVICE_CIDR):
        sh.run(["ip", "route", "del", "unreachable", cidr], check=False)


# -- partitions --------------------------------------------------------------


def _ipt(ns: str, *args: str, check: bool = True) -> bool:
    proc = sh.run(sh.in_netns(ns, ["iptables", "-w", "5", *args]), check=check)
    return proc.returncode == 0


def partition(node: LabNode, peer_ips: list[str]) -> None:
    """Drop all traffic between ``node`` and ``peer_ips``, both ways."""
    ns = node.netns
    if not _ipt(ns, "-nL", PARTITION_CHAIN, check=False):
        _ipt(ns, "-N", PARTITION_CHAIN)
    for hook in ("INPUT", "OUTPUT", "FORWARD"):
        if not _ipt(ns, "-C", hook, "-j", PARTITION_CHAIN, check=False):
            _ipt(ns, "-I", hook, "1", "-j", PARTITION_CHAIN)
    for ip in peer_ips:
        for direction in ("-s", "-d"):
            rule = [PARTITION_CHAIN, direction, ip, "-j", "DROP"]
            if not _ipt(ns, "-C", *rule, check=False):
                _ipt(ns, "-A", *rule)


def heal(node: LabNode) -> None:
    """Remove every partition rule from ``node``."""
    ns = node.netns
    if not _ipt(ns, "-nL", PARTITION_CHAIN, check=False):
        return
    for hook in ("INPUT", "OUTPUT", "FORWARD"):
        while _ipt(ns, "-C", hook, "-j", PARTITION_CHAIN, check=False):
            _ipt(ns, "-D", hook, "-j", PARTITION_CHAIN)
    _ipt(ns, "-F", PARTITION_CHAIN)
    _ipt(ns, "-X", PARTITION_CHAIN)


def partitioned_peers(node: LabNode) -> list[str]:
    """Addresses ``node`` is currently cut off from (empty when healed)."""
    proc = sh.run(
        sh.in_netns(node.netns, ["iptables", "-w", "5", "-S", PARTITION_CHAIN]),
        check=False,
    )
    peers = set()
    for line in proc.stdout.splitlines():
        parts = line.split()
        if "-d" in parts:
            peers.add(parts[parts.index("-d") + 1].split("/")[0])
    return sorted(peers)
