"""Read a search's Optuna study (the record, docs/interfaces.md "Study record") as ModelPoints.

Every trial that holds a result becomes one :class:`ModelPoint` labelled
``trial <number>``: complete trials (trained and evaluated), infeasible ones (measured, not trained,
so without accuracy) and recorded candidate failures. Trials still running or interrupted are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

# Objective name -> direction, in the order tables and charts show them.
OBJECTIVES: dict[str, str] = {
    "accuracy": "maximize",
    "latency_ms_p50": "minimize",
    "size_bytes": "minimize",
}


@dataclass(frozen=True)
class ModelPoint:
    """One evaluated model.

    ``accuracy`` is the validation accuracy of the int8 model through the interpreter (0..1);
    ``latency_ms_p50`` the median int8 latency on the profiled device; ``size_bytes`` the int8
    ``.tflite`` size. ``baseline`` is the registry name (e.g. ``mobilenet_v2_0.35``) when the model
    is a reference architecture rather than a discovered one.
    """

    label: str
    architecture: str
    accuracy: float | None
    latency_ms_p50: float | None
    size_bytes: int | None
    params: int | None = None
    macs: int | None = None
    trial_number: int | None = None
    baseline: str | None = None
    feasible: bool = True
    device: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_mobilenet_v2(self) -> bool:
        return bool(self.baseline and self.baseline.startswith("mobilenet_v2"))

    def metric(self, name: str) -> float | None:
        value = getattr(self, name)
        return None if value is None else float(value)

    def has_metrics(self, objectives: Sequence[str]) -> bool:
        return all(self.metric(name) is not None for name in objectives)



# `nas search` objective names (nas.trial.objectives) -> ModelPoint metric names.
_SEARCH_OBJECTIVES = {"accuracy": "accuracy", "latency": "latency_ms_p50", "size": "size_bytes"}


def point_from_attrs(number: int | None, attrs: Mapping[str, Any], *, label: str | None = None) -> ModelPoint:
    """A ModelPoint from one trial's user attributes (or an equally shaped dict)."""
    violations = attrs.get("constraint_violations") or []
    status = attrs.get("status")
    accuracy = attrs.get("accuracy_int8") if attrs.get("trained", True) else None
    return ModelPoint(
        label=label or (f"trial {number}" if number is not None else str(attrs.get("architecture"))),
        architecture=str(attrs.get("architecture", "")),
        accuracy=None if accuracy is None else float(accuracy),
        latency_ms_p50=_float(attrs.get("latency_ms_p50")),
        size_bytes=None if attrs.get("size_bytes") is None else int(attrs["size_bytes"]),
        params=None if attrs.get("params") is None else int(attrs["params"]),
        macs=None if attrs.get("macs") is None else int(attrs["macs"]),
        trial_number=number,
        baseline=(attrs.get("reference_name") or None) if attrs.get("is_reference") else None,
        feasible=status not in ("infeasible", "failed") and not violations,
        device=dict(attrs.get("device") or {}),
        extra={
            key: attrs.get(key)
            for key in ("status", "reused_from", "latency_ms", "artifacts", "metrics", "profiler", "failure_reason")
            if attrs.get(key) is not None
        },
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def study_points(study) -> list[ModelPoint]:
    """One point per trial that holds a result, in trial order."""
    from nas.record.study import is_done

    points = []
    for trial in study.get_trials(deepcopy=False):
        if not is_done(trial):
            continue
        points.append(point_from_attrs(trial.number, trial.user_attrs))
    return points


def distinct(points: Sequence[ModelPoint]) -> list[ModelPoint]:
    """Drop trials that reused an earlier trial's results (same architecture): fronts list each model once."""
    return [p for p in points if p.extra.get("reused_from") is None]


def study_objectives(study) -> dict[str, str]:
    """The objectives the study was searched with, as ModelPoint metric -> direction.

    Read from the study's ``objectives`` user attribute (``nas search`` names); a study without it
    (made by another tool) falls back to all three objectives.
    """
    names = study.user_attrs.get("objectives")
    if not names:
        return dict(OBJECTIVES)
    unknown = [n for n in names if n not in _SEARCH_OBJECTIVES]
    if unknown:
        raise ValueError(f"study objectives {unknown} are not known; expected some of {list(_SEARCH_OBJECTIVES)}")
    return {_SEARCH_OBJECTIVES[n]: OBJECTIVES[_SEARCH_OBJECTIVES[n]] for n in names}


def study_device(points: Sequence[ModelPoint]) -> dict[str, Any]:
    """The device description recorded by the trials (the first one that has one)."""
    for point in points:
        if point.device:
            return dict(point.device)
    return {}


def study_dir(study: Any, *, runs_dir: str | Path | None = None) -> Path:
    """The folder of the study's artifacts (``runs/<study>/``).

    ``runs_dir`` is given when the study was opened from its default SQLite file: the folder holding
    that file is used (so a copied or moved run folder works), not the path recorded at search time.
    Otherwise the ``study_dir`` the search recorded, else ``runs/<study>``.
    """
    if runs_dir is not None:
        return Path(runs_dir) / study.study_name
    recorded = study.user_attrs.get("study_dir")
    if recorded:
        return Path(recorded)
    return Path("runs") / study.study_name
