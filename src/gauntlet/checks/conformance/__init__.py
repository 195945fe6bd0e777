"""The check for CONF-01 (conformance profile)."""
