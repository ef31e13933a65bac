"""The error of the study record (its own module so storage and study share it without a circle)."""

from __future__ import annotations


class StudyError(RuntimeError):
    """The study cannot be opened or does not match the requested search."""
