"""The lab: a real, highly available Kubernetes cluster on one Linux host.

Nodes are Linux namespaces (network, mount, PID, UTS) joined by a bridge;
each runs its components under a small supervisor. See ``cluster.LabCluster``
for the entry point and ``access.LabNodeAccess`` for node access and the
faults the project's own tests inject.
"""
