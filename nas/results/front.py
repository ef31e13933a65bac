"""Finished trials as plain values: what `nas pareto`, `compare`, `export` and `report` work on.

A :class:`ModelPoint` is one evaluated model (a study trial or a baseline evaluated the same way)
with its metrics in named units. The objectives are the ones a search optimizes (int8 accuracy up,
latency and size down); the Pareto maths comes from :mod:`nas.results.pareto`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from nas.results import pareto
from nas.record.points import OBJECTIVES, ModelPoint  # noqa: F401 (re-exported)


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
