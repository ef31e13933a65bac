"""nas.results.export."""
