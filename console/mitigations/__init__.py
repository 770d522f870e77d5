"""console/mitigations."""
