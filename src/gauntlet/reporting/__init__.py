"""Measurements, per-guarantee verdicts and reports (JSON, table, HTML)."""
