"""The images test workloads and node helpers run, named in one place.

Checks, node helper pods and the lab (which builds and imports them, so
its nodes never pull) all take the names from here.
"""

from __future__ import annotations

import os

__all__ = [
    "AGNHOST_VERSION",
    "COREDNS_IMAGE",
    "PAUSE_IMAGE",
    "WORKLOAD_IMAGE",
    "WORKLOAD_IMAGE_ENV",
    "workload_image",
]

AGNHOST_VERSION = "2.66.1"
"""The e2e agnhost the pinned release's test/utils/image/manifest.go names."""
PAUSE_IMAGE = "localhost/kube-gauntlet/pause:3.10"
WORKLOAD_IMAGE = "localhost/kube-gauntlet/workload:1.1"
"""Busybox with sh, httpd (``/bin/serve``), ``http-get``, nc, nslookup."""
COREDNS_IMAGE = "localhost/kube-gauntlet/coredns:1.14.6"
WORKLOAD_IMAGE_ENV = "KUBE_GAUNTLET_IMAGE_WORKLOAD"


def workload_image() -> str:
    """``$KUBE_GAUNTLET_IMAGE_WORKLOAD`` or the lab's workload image."""
    return os.environ.get(WORKLOAD_IMAGE_ENV) or WORKLOAD_IMAGE
