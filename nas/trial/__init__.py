"""nas.trial."""
