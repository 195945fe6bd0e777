"""Checks for the ARCH guarantees (gate profile): one module per topic."""
