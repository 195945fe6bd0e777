"""The Kubernetes API: writability, Services, pods and nodes."""
