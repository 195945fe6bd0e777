"""Workloads that experiments observe while they break things."""
