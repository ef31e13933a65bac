"""A study read for the results commands: its objectives, its evaluated models and its folder.

Every results command (`nas pareto`, `compare`, `export`, `report`) starts from the same three
things, read from the Optuna study through :mod:`nas.record` (docs/interfaces.md "Study record").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.record import points as record_points
from nas.record import study as record_study
from nas.record.points import ModelPoint


@dataclass(frozen=True)
class StudyResults:
    """One study as the results commands see it.

    ``objectives`` maps ModelPoint metric -> direction (the study's own objectives);
    ``points`` holds one :class:`ModelPoint` per trial that holds a result, in trial order;
    ``folder`` is ``runs/<study>/``, where exports, cached references and the report go.
    """

    study: Any
    objectives: dict[str, str]
    points: tuple[ModelPoint, ...]
    folder: Path

    @classmethod
    def read(cls, study: Any, *, runs_dir: str | Path | None = None) -> StudyResults:
        """Read ``study``; ``runs_dir`` when it was opened from its default SQLite file there."""
        return cls(
            study=study,
            objectives=record_points.study_objectives(study),
            points=tuple(record_points.study_points(study)),
            folder=record_points.study_dir(study, runs_dir=runs_dir),
        )

    @property
    def name(self) -> str:
        return self.study.study_name

    @property
    def search_config(self) -> Mapping[str, Any]:
        """The search config ``nas search`` stored in the study (raises ``ValueError`` without one)."""
        return stored_search_config(self.study)


def stored_search_config(study: Any) -> Mapping[str, Any]:
    """The search config ``nas search`` recorded as a study attribute (its dict form)."""
    config = record_study.StudyAttributes.from_study(study).config
    if not config:
        raise ValueError(f"study {study.study_name!r} has no stored search config; was it made by `nas search`?")
    return config


__all__ = ["StudyResults", "stored_search_config"]
