"""console/rules."""
