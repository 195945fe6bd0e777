"""Node objects: remove a node from the cluster (RES-10)."""
