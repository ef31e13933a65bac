"""nas.record."""
