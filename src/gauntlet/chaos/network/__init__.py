"""Network partitions between nodes."""
