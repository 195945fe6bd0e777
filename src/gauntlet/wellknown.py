"""Names and ports with one meaning across the project, defined once.

Kubernetes' and etcd's well-known ports, and the one name the lab gives
its cluster and context. Everything that needs them imports them from
here, so a change is made in one place.
"""

from __future__ import annotations

__all__ = [
    "APISERVER_PORT",
    "ETCD_CLIENT_PORT",
    "ETCD_PEER_PORT",
    "LAB_NAME",
]

APISERVER_PORT = 6443
"""kube-apiserver's secure port as kubeadm and the lab configure it."""
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
LAB_NAME = "kube-gauntlet-lab"
"""The lab's kubeconfig cluster, context and etcd cluster token."""
