"""kube-gauntlet: chaos-and-conformance checks for Kubernetes clusters."""

__all__ = ["__version__"]

__version__ = "0.1.0"
