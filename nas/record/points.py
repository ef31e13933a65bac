"""Read a search's Optuna study (the record, docs/interfaces.md "Study record") as ModelPoints.

Every trial that holds a result becomes one :class:`ModelPoint` labelled
``trial <number>``: complete trials (trained and evaluated), infeasible ones (measured, not trained,
so without accuracy) and recorded candidate failures. Trials still running or interrupted are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas.record.study import StudyAttributes
from nas.record.trial_record import TrialRecord, TrialStatus, is_done

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

    @property
    def xnnpack_applied(self) -> bool | None:
        """Whether XNNPACK ran in this point's latency measurement (edge_profiler's
        ``xnnpack_applied``: delegate nodes in the graph), None where it was not recorded."""
        profiler = self.extra.get("profiler")
        return profiler.get("xnnpack_applied") if isinstance(profiler, Mapping) else None

    @property
    def accuracy_source(self) -> str:
        """How the search measured ``accuracy``: ``trained`` (proxy training) or ``inherited`` (supernet weights)."""
        return str(self.extra.get("accuracy_source") or "trained")

    @property
    def inherited_from(self) -> Mapping[str, Any]:
        """For an inherited accuracy, the supernet that gave it (``TrialRecord.inherited_from``), else empty."""
        return self.extra.get("inherited_from") or {}

    def metric(self, name: str) -> float | None:
        value = getattr(self, name)
        return None if value is None else float(value)

    def has_metrics(self, objectives: Sequence[str]) -> bool:
        return all(self.metric(name) is not None for name in objectives)


# `nas search` objective names (nas.trial.objectives) -> ModelPoint metric names.
_SEARCH_OBJECTIVES = {"accuracy": "accuracy", "latency": "latency_ms_p50", "size": "size_bytes"}


def point_from_record(number: int | None, record: TrialRecord, *, label: str | None = None) -> ModelPoint:
    """A ModelPoint from one trial's record (``number`` is the trial number, ``None`` outside a study).

    The accuracy counts only for a model trained to the end of its budget (a trial stopped early at a
    rung, PRUNED, has none here: it stays out of fronts and exports); ``extra`` keeps the status,
    ``reused_from`` and the details (latency statistics, artifacts, metrics, profiler, failure reason) that are set.
    """
    details = {
        "status": _status_text(record),
        "reused_from": record.reused_from,
        "latency_ms": record.latency_ms or None,
        "artifacts": record.artifacts or None,
        "metrics": record.metrics or None,
        "profiler": record.profiler or None,
        "failure_reason": record.failure_reason,
        "accuracy_source": record.accuracy_origin,  # trained | inherited (from a supernet)
        "inherited_from": record.inherited_from or None,
    }
    return ModelPoint(
        label=label or (f"trial {number}" if number is not None else str(record.architecture)),
        architecture=record.architecture or "",
        accuracy=_float(record.accuracy_int8) if record.trained and record.status != TrialStatus.PRUNED else None,
        latency_ms_p50=_float(record.latency_ms_p50),
        size_bytes=_int(record.size_bytes),
        params=_int(record.params),
        macs=_int(record.macs),
        trial_number=number,
        baseline=(record.reference_name or None) if record.is_reference else None,
        feasible=record.feasible,
        device=dict(record.device),
        extra={key: value for key, value in details.items() if value is not None},
    )


def point_from_attrs(number: int | None, attrs: Mapping[str, Any], *, label: str | None = None) -> ModelPoint:
    """A ModelPoint from one trial's user attributes, or an equally shaped dict (results files of
    earlier versions). See :func:`record_from_attrs` for a dict without the ``trained`` flag."""
    return point_from_record(number, record_from_attrs(attrs), label=label)


def record_from_attrs(attrs: Mapping[str, Any]) -> TrialRecord:
    """:meth:`TrialRecord.from_user_attrs`, except that a result written without the ``trained`` flag
    (results files of earlier versions, other tools) counts as trained: its accuracy is kept."""
    record = TrialRecord.from_user_attrs(attrs)
    return record if "trained" in attrs else record.replace(trained=True)


def _status_text(record: TrialRecord) -> str | None:
    """The stored status: a known one, or the text of one this version does not know."""
    return record.status.value if record.status is not None else record.extra.get("status")


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def study_points(study: optuna.Study) -> list[ModelPoint]:
    """One point per trial that holds a result, in trial order."""
    return [point_from_record(trial.number, record_from_attrs(trial.user_attrs))
            for trial in study.get_trials(deepcopy=False) if is_done(trial)]


def distinct(points: Sequence[ModelPoint]) -> list[ModelPoint]:
    """Drop trials that reused an earlier trial's results (same architecture): fronts list each model once."""
    return [p for p in points if p.extra.get("reused_from") is None]


def study_objectives(study: optuna.Study) -> dict[str, str]:
    """The objectives the study was searched with, as ModelPoint metric -> direction.

    Read from the study's recorded objectives (``nas search`` names); a study without them (made by
    another tool) falls back to all three objectives.
    """
    names = StudyAttributes.from_study(study).objectives
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


def study_dir(study: optuna.Study, *, runs_dir: str | Path | None = None) -> Path:
    """The folder of the study's artifacts (``runs/<study>/``).

    ``runs_dir`` is given when the study was opened from its default SQLite file: the folder holding
    that file is used (so a copied or moved run folder works), not the path recorded at search time.
    Otherwise the ``study_dir`` the search recorded, else ``runs/<study>``.
    """
    if runs_dir is not None:
        return Path(runs_dir) / study.study_name
    recorded = StudyAttributes.from_study(study).study_dir
    if recorded:
        return recorded
    return Path("runs") / study.study_name


def trial_summary(trial: FrozenTrial) -> dict[str, Any]:
    """The headline numbers of a finished trial: the JSON line of ``nas search --json`` (keep its shape)."""
    record = TrialRecord.from_trial(trial)
    return {
        "trial": trial.number,
        "state": trial.state.name,
        "status": _status_text(record),
        "is_reference": record.is_reference,
        "architecture": record.architecture,
        "accuracy_int8": record.accuracy_int8,
        "latency_ms_p50": record.latency_ms_p50,
        "size_bytes": record.size_bytes,
        "reused_from": record.reused_from,
        "constraint_violations": list(record.constraint_violations),
        "failure_reason": record.failure_reason,
        "duration_s": record.timings_s.get("total"),
        "values": trial.values,
    }


__all__ = [
    "OBJECTIVES",
    "ModelPoint",
    "distinct",
    "point_from_attrs",
    "point_from_record",
    "record_from_attrs",
    "study_device",
    "study_dir",
    "study_objectives",
    "study_points",
    "trial_summary",
]
