"""console/config."""
