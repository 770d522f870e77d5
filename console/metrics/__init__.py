"""console/metrics."""
