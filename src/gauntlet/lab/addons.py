"""What a fresh lab cluster needs after its control plane answers.

Node roles (the kubelet may not label itself ``node-role.kubernetes.io/*``
under NodeRestriction, so, as kubeadm does, we label after registration)
and CoreDNS, applied with the lab's own kubectl.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from gauntlet.images import COREDNS_IMAGE
from gauntlet.lab import sh
from gauntlet.lab.topology import CLUSTER_DOMAIN, DNS_SERVICE_IP, Topology

MANIFESTS = Path(__file__).parent / "manifests"


def coredns_manifest() -> str:
    text = (MANIFESTS / "coredns.yaml").read_text()
    return Template(text).substitute(
        CLUSTER_DOMAIN=CLUSTER_DOMAIN,
        COREDNS_IMAGE=COREDNS_IMAGE,
        DNS_SERVICE_IP=DNS_SERVICE_IP,
    )


def apply_coredns(kubectl: list[str]) -> None:
    sh.run(
        [*kubectl, "apply", "--server-side", "--force-conflicts", "-f", "-"],
        input_text=coredns_manifest(),
    )


def label_roles(kubectl: list[str], topology: Topology) -> None:
    for node in topology.kubelet_nodes:
        sh.run(
            [
                *kubectl,
                "label",
                "node",
                node.name,
                "--overwrite",
                f"node-role.kubernetes.io/{node.role}=",
            ]
        )
