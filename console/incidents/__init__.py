"""console/incidents."""
