"""Node access: run commands and inject faults on a cluster's hosts."""
