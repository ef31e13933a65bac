"""The Pareto front of evaluated models: what `nas pareto`, `compare`, `export` and `report` work on.

A :class:`~nas.record.points.ModelPoint` is one evaluated model (a study trial or a baseline
evaluated the same way) with its metrics in named units. The objectives are the ones a search
optimizes (int8 accuracy up, latency and size down); the Pareto maths comes from
:mod:`nas.pareto`, the hypervolume after Zitzler & Thiele (1998).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nas import pareto
from nas.record.points import OBJECTIVES, ModelPoint, distinct

# The unit of each objective, for the hypervolume's unit ("fraction x ms x bytes").
OBJECTIVE_UNITS = dict(accuracy="fraction", latency_ms_p50="ms", size_bytes="bytes")


def check_objectives(objectives: Mapping[str, str]) -> dict[str, str]:
    """Validate an objective mapping (name -> direction); names must be ModelPoint metrics."""
    unknown = [name for name in objectives if name not in OBJECTIVES]
    if unknown:
        raise ValueError(f"unknown objective(s) {', '.join(unknown)}; allowed: {', '.join(OBJECTIVES)}")
    if not objectives:
        raise ValueError(f"at least one objective is needed; allowed: {', '.join(OBJECTIVES)}")
    return dict(zip(objectives, pareto.parse_directions(list(objectives.values()))))


def objective_matrix(points: Sequence[ModelPoint], objectives: Mapping[str, str]) -> np.ndarray:
    """Rows of objective values; every point must have all of them."""
    missing = [p.label for p in points if not p.has_metrics(objectives)]
    if missing:
        raise ValueError(f"points without all of {', '.join(objectives)}: {', '.join(missing)}")
    return np.array([[p.metric(name) for name in objectives] for p in points], dtype=float).reshape(
        len(points), len(objectives)
    )


def pareto_front(
    points: Sequence[ModelPoint], objectives: Mapping[str, str] = OBJECTIVES, *, feasible_only: bool = True
) -> list[ModelPoint]:
    """The non-dominated points among those with every objective measured (and feasible)."""
    objectives = check_objectives(objectives)
    candidates = [p for p in points if p.has_metrics(objectives) and (p.feasible or not feasible_only)]
    if not candidates:
        return []
    mask = pareto.non_dominated_mask(objective_matrix(candidates, objectives), list(objectives.values()))
    return [p for p, on_front in zip(candidates, mask) if on_front]


def point_dominates(a: ModelPoint, b: ModelPoint, objectives: Mapping[str, str] = OBJECTIVES) -> bool:
    """True if ``a`` is at least as good as ``b`` in every objective and better in one."""
    names = list(objectives)
    return pareto.dominates(
        [a.metric(n) for n in names], [b.metric(n) for n in names], list(objectives.values())
    )


def default_reference(points: Sequence[ModelPoint], objectives: Mapping[str, str]) -> list[float]:
    """A hypervolume reference point: accuracy 0, and 10 % above the worst latency / size seen."""
    reference = []
    for name, direction in objectives.items():
        values = [p.metric(name) for p in points if p.metric(name) is not None]
        if not values:
            raise ValueError(f"no point has {name}; cannot derive a reference point")
        if direction == "maximize":
            reference.append(0.0 if name == "accuracy" else min(values) - 0.1 * abs(min(values)))
        else:
            reference.append(max(values) * 1.1)
    return reference


def parse_reference(text: str, objectives: Mapping[str, str]) -> list[float]:
    """``"accuracy=0,latency_ms_p50=50,size_bytes=2e6"`` -> values in the objectives' order."""
    values: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in objectives:
            raise ValueError(f"--reference: expected NAME=VALUE with NAME in {', '.join(objectives)}, got {part!r}")
        try:
            values[name] = float(value)
        except ValueError:
            raise ValueError(f"--reference: {name} must be a number, got {value!r}") from None
    missing = [n for n in objectives if n not in values]
    if missing:
        raise ValueError(f"--reference: missing {', '.join(missing)} "
                         f"(the study's objectives are {', '.join(objectives)})")
    return [values[n] for n in objectives]


@dataclasses.dataclass(frozen=True)
class MobileNetVerdict:
    """Whether a MobileNetV2 reference trial of the study is on its front."""

    trial: int | None
    name: str | None
    on_front: bool


@dataclasses.dataclass(frozen=True)
class FrontRow:
    """One front model as `nas pareto` lists it (``size_kib`` is the int8 file in KiB)."""

    trial: int | None
    accuracy_int8: float | None
    latency_ms_p50: float | None
    size_kib: float | None
    params: int | None
    macs: int | None
    mobilenet_v2: str
    architecture: str

    @classmethod
    def of(cls, p: ModelPoint) -> FrontRow:
        return cls(trial=p.trial_number, accuracy_int8=p.accuracy, latency_ms_p50=p.latency_ms_p50,
                   size_kib=None if p.size_bytes is None else p.size_bytes / 1024, params=p.params, macs=p.macs,
                   mobilenet_v2=p.baseline if p.is_mobilenet_v2 else "", architecture=p.architecture)


@dataclasses.dataclass(frozen=True)
class FrontSummary:
    """The front of a study's feasible evaluated models, its hypervolume and the MobileNetV2 verdict.

    ``reference`` is the hypervolume reference point (objective -> value); ``hypervolume`` is in
    ``hypervolume_units`` (the product of the objectives' units).
    """

    objectives: dict[str, str]
    front: tuple[ModelPoint, ...]
    reference: dict[str, float]
    hypervolume: float
    hypervolume_units: str
    mobilenet_v2: tuple[MobileNetVerdict, ...]
    n_evaluated: int

    def rows(self) -> list[FrontRow]:
        """The front fastest first, as table rows."""
        return [FrontRow.of(p) for p in sorted(self.front, key=lambda p: p.latency_ms_p50)]

    def to_dict(self, study_name: str) -> dict[str, Any]:
        """The JSON form `nas pareto --json` prints."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "front"}
        out["mobilenet_v2"] = [dataclasses.asdict(m) for m in self.mobilenet_v2]
        out["study"] = study_name
        out["front"] = [dataclasses.asdict(row) for row in self.rows()]
        return out


def summarize_front(
    points: Sequence[ModelPoint], objectives: Mapping[str, str], reference: Sequence[float] | None = None
) -> FrontSummary:
    """Front, hypervolume and the MobileNetV2 verdict of a study's points (each model once).

    ``reference`` defaults to :func:`default_reference` of the feasible evaluated models.
    Raises ``ValueError`` when no model is feasible and evaluated.
    """
    candidates = [p for p in distinct(points) if p.has_metrics(objectives) and p.feasible]
    if not candidates:
        raise ValueError("the study has no feasible evaluated trial yet")
    front = pareto_front(candidates, objectives)
    if reference is None:
        reference = default_reference(candidates, objectives)
    hv = pareto.hypervolume(objective_matrix(front, objectives), reference, list(objectives.values()))
    return FrontSummary(
        objectives=dict(objectives),
        front=tuple(front),
        reference=dict(zip(objectives, reference)),
        hypervolume=hv,
        hypervolume_units=" x ".join(OBJECTIVE_UNITS[n] for n in objectives),
        mobilenet_v2=tuple(MobileNetVerdict(p.trial_number, p.baseline, p in front)
                           for p in candidates if p.is_mobilenet_v2),
        n_evaluated=len(candidates),
    )


__all__ = [
    "OBJECTIVE_UNITS",
    "FrontRow",
    "FrontSummary",
    "MobileNetVerdict",
    "check_objectives",
    "default_reference",
    "objective_matrix",
    "parse_reference",
    "pareto_front",
    "point_dominates",
    "summarize_front",
]
