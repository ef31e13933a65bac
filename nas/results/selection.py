"""Which model of a study to export: by trial number, by constraint, or the knee of the front.

Every pick comes with a one-line reason that ``nas export`` prints and the model card keeps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nas import pareto
from nas.record.points import OBJECTIVES, ModelPoint
from nas.results.front import check_objectives, objective_matrix, pareto_front


class SelectionError(ValueError):
    """No model fits the request; the message says what was asked and what the study offers."""


@dataclass(frozen=True)
class Selection:
    point: ModelPoint
    reason: str
    on_front: bool


@dataclass(frozen=True)
class SelectionRequest:
    """What the user asked for. With no field set, the knee of the front is chosen.

    Bounds filter the front; then, if a latency or size bound is set, the most accurate model
    fitting all bounds wins, otherwise (only a minimum accuracy) the fastest one.
    """

    trial_number: int | None = None
    min_accuracy: float | None = None
    max_latency_ms: float | None = None
    max_size_bytes: int | None = None

    @property
    def has_bounds(self) -> bool:
        return any(v is not None for v in (self.min_accuracy, self.max_latency_ms, self.max_size_bytes))

    def describe_bounds(self) -> str:
        parts = []
        if self.min_accuracy is not None:
            parts.append(f"accuracy >= {100 * self.min_accuracy:.1f} %")
        if self.max_latency_ms is not None:
            parts.append(f"latency p50 <= {self.max_latency_ms:g} ms")
        if self.max_size_bytes is not None:
            parts.append(f"size <= {self.max_size_bytes / 1024:.1f} KiB")
        return " and ".join(parts)


def _label(p: ModelPoint) -> str:
    base = p.label if p.trial_number is None else f"trial {p.trial_number}"
    return f"{base} ({p.baseline})" if p.baseline else base


def _metrics(p: ModelPoint) -> str:
    return f"{100 * p.accuracy:.1f} %, {p.latency_ms_p50:.3f} ms, {p.size_bytes / 1024:.1f} KiB"


def select_model(
    points: Sequence[ModelPoint],
    request: SelectionRequest,
    objectives: Mapping[str, str] = OBJECTIVES,
) -> Selection:
    """Pick one evaluated model of ``points`` (a study's trials) as ``request`` asks."""
    objectives = check_objectives(objectives)
    evaluated = [p for p in points if p.has_metrics(OBJECTIVES)]
    front = pareto_front(evaluated, objectives)
    if request.trial_number is not None:
        if request.has_bounds:
            raise SelectionError(
                "give either a trial number or bounds (min accuracy / max latency / max size), not both")
        matches = [p for p in points if p.trial_number == request.trial_number]
        if not matches:
            known = sorted(p.trial_number for p in points if p.trial_number is not None)
            raise SelectionError(f"no trial {request.trial_number} in the study (trials: {known})")
        chosen = matches[0]
        if not chosen.has_metrics(OBJECTIVES):
            raise SelectionError(f"trial {request.trial_number} was not fully evaluated (no accuracy, latency or size)")
        on_front = chosen in front
        where = "on the Pareto front" if on_front else "NOT on the Pareto front"
        return Selection(chosen, f"{_label(chosen)} as requested by number; {where} ({_metrics(chosen)})", on_front)

    if not front:
        raise SelectionError("the study has no feasible evaluated trial to export")
    if request.has_bounds:
        fits = [
            p
            for p in front
            if (request.min_accuracy is None or p.accuracy >= request.min_accuracy)
            and (request.max_latency_ms is None or p.latency_ms_p50 <= request.max_latency_ms)
            and (request.max_size_bytes is None or p.size_bytes <= request.max_size_bytes)
        ]
        if not fits:
            best_acc = max(front, key=lambda p: p.accuracy)
            fastest = min(front, key=lambda p: p.latency_ms_p50)
            smallest = min(front, key=lambda p: p.size_bytes)
            raise SelectionError(
                f"no model on the front has {request.describe_bounds()}; the front spans accuracy up to "
                f"{100 * best_acc.accuracy:.1f} %, latency down to {fastest.latency_ms_p50:.3f} ms, "
                f"size down to {smallest.size_bytes / 1024:.1f} KiB"
            )
        if request.max_latency_ms is not None or request.max_size_bytes is not None:
            chosen = max(fits, key=lambda p: (p.accuracy, -p.latency_ms_p50, -p.size_bytes))
            why = "the most accurate"
        else:
            chosen = min(fits, key=lambda p: (p.latency_ms_p50, -p.accuracy, p.size_bytes))
            why = "the fastest"
        return Selection(
            chosen,
            f"{_label(chosen)}: {why} of the {len(fits)} front model(s) with {request.describe_bounds()} "
            f"({_metrics(chosen)})",
            True,
        )

    knee = knee_of(front, objectives)
    on = knee_objectives(objectives)
    trade_off = " vs ".join(on)
    candidates = pareto_front(front, on)
    if len(front) == 1:
        why = f"the only model on the Pareto front over {', '.join(objectives)}"
    elif len(candidates) <= 2:
        why = (f"the {trade_off} trade-off of the {len(front)}-model Pareto front has only "
               f"{len(candidates)} model(s), so no knee; "
               + ("the discovered model is preferred to the reference"
                  if any(p.baseline for p in candidates) and not knee.baseline
                  else "the one nearer the ideal point (normalised) is taken"))
    else:
        why = (f"the knee of the {trade_off} trade-off on the {len(front)}-model Pareto front over "
               f"{', '.join(objectives)} (farthest from the line through the extremes after normalising)")
    return Selection(knee, f"{_label(knee)}: {why} ({_metrics(knee)})", True)


# The knee is a bicriteria notion (Deb & Gupta 2011); it is taken on the accuracy-latency trade-off
# when both are objectives. With size as a third, min-max normalized objective the knee drifts to the
# fastest model, because latency and size grow together and count twice.
KNEE_OBJECTIVES = ("accuracy", "latency_ms_p50")


def knee_objectives(objectives: Mapping[str, str]) -> dict[str, str]:
    """The objectives the knee is computed on: accuracy and latency if both are active, else all."""
    pair = {name: objectives[name] for name in KNEE_OBJECTIVES if name in objectives}
    return pair if len(pair) == 2 else dict(objectives)


def knee_of(front: Sequence[ModelPoint], objectives: Mapping[str, str] = OBJECTIVES) -> ModelPoint:
    """The knee point (:func:`nas.pareto.knee_index`) of a set of evaluated models, on
    :func:`knee_objectives`.

    On a tie (always so when only two models are left, both extremes) a discovered model is
    preferred to a reference architecture: the reference needs no search to be had.
    """
    on = knee_objectives(check_objectives(objectives))
    index = pareto.knee_index(objective_matrix(front, on), list(on.values()),
                              tie_preference=[1.0 if p.baseline else 0.0 for p in front])
    return front[index]


__all__ = ["KNEE_OBJECTIVES", "Selection", "SelectionError", "SelectionRequest", "knee_objectives", "knee_of",
           "select_model"]
