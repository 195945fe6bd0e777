"""API server load with Locust, judged against the upstream SLOs.

Locust runs in its own process: gevent must patch ``ssl`` before anything
imports it, and the kubernetes client imports it early.
"""
