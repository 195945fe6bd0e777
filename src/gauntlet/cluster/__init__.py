"""Cluster access: the client factory and topology discovery."""
