"""evaluators.datasets."""
