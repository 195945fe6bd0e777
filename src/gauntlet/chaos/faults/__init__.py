"""The fault ledger as experiment rollbacks."""
