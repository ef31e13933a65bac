"""nas.results."""
