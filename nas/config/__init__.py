"""nas.config."""
