"""nas.strategies."""
