"""Errors raised by the evaluators.

Following KerasTuner's split (``keras_tuner/engine/errors.py``): a bad input from the user is an
exception with a message that names the problem; a bad *candidate* is not an exception at all but a
result record with ``status="failed"`` and a reason, so a search can go on.
"""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset cannot be loaded: unknown name, missing folder, empty class, unreadable files."""


class ConversionError(RuntimeError):
    """A Keras model could not be converted to the requested TFLite format."""


class MetricsError(ValueError):
    """A TFLite model cannot be evaluated on the given data (shape, class count mismatch)."""


__all__ = ["DatasetError", "ConversionError", "MetricsError"]
