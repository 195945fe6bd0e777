"""Names and ports with one meaning across the project, defined once.

Kubernetes' and etcd's well-known ports, and the one name the lab gives
its cluster and context. Everything that needs them imports them from
here, so a change is made in one place.
"""

from __future__ import annotations

import re

__all__ = [
    "APISERVER_PORT",
    "ETCD_CLIENT_PORT",
    "ETCD_PEER_PORT",
    "LAB_NAME",
    "MANAGED_BY",
    "RUN_LABEL",
    "label_value",
]

APISERVER_PORT = 6443
"""kube-apiserver's secure port as kubeadm and the lab configure it."""
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
LAB_NAME = "kube-gauntlet-lab"
"""The lab's kubeconfig cluster, context and etcd cluster token."""
RUN_LABEL = "kube-gauntlet.io/run"
"""Label on everything a run creates: its run id."""
MANAGED_BY = {"app.kubernetes.io/managed-by": "kube-gauntlet"}
"""Label on what kube-gauntlet made and may remove."""


def label_value(value: str) -> str:
    """``value`` as a valid label value (63 characters, safe set)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", value)[:63].strip("-_.")
