"""console/recording."""
