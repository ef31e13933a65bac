"""evaluators.datasets.person."""
