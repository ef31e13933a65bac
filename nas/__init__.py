"""Orchestration: searches, their record, and what users do with the results.

Importing this package is cheap: TensorFlow is only imported by the commands that need it.
"""

__version__ = "0.1.0"
