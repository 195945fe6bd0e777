"""Checks for the LOAD guarantees (load profile)."""
