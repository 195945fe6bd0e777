"""RES and PART checks: faults through the ledger, measured outcomes."""
