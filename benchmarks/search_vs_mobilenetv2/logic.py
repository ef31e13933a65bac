"""The benchmark's verdicts, as pure functions over :class:`nas.record.points.ModelPoint` values.

No TensorFlow, no study: the runner (:mod:`benchmarks.search_vs_mobilenetv2.run`) measures the
points, this module turns them into hypervolumes against one reference point and into the issue's
three targets (met / missed, with the numbers and what a miss would need). The speed-up and the
accuracy gain are MnasNet's two readings against MobileNetV2 (Tan et al. 2019), computed by
:func:`nas.results.compare.compare_to_reference`; the hypervolume is :func:`nas.pareto.hypervolume`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from nas import pareto
from nas.record.points import OBJECTIVES, ModelPoint
from nas.results.compare import compare_to_reference
from nas.results.front import default_reference, objective_matrix, pareto_front

# The 2-D reading used for speed-up / accuracy gain and for the chart.
ACCURACY_LATENCY: dict[str, str] = {"accuracy": "maximize", "latency_ms_p50": "minimize"}


@dataclass(frozen=True)
class TargetCheck:
    """One target of the benchmark: whether it was met, the measured value, and what a miss needs."""

    name: str
    description: str
    met: bool
    value: float | None
    required: str
    detail: str
    needs: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def front_of(points: Sequence[ModelPoint], objectives: Mapping[str, str] = OBJECTIVES) -> list[ModelPoint]:
    """The feasible non-dominated points among ``points`` (every objective measured)."""
    return pareto_front(points, objectives)


def shared_reference(point_sets: Mapping[str, Sequence[ModelPoint]],
                     objectives: Mapping[str, str] = OBJECTIVES) -> list[float]:
    """One hypervolume reference point for every set: accuracy 0 and 1.1 x the worst latency / size
    over the union of the sets (:func:`nas.results.front.default_reference`)."""
    union = [p for points in point_sets.values() for p in points if p.has_metrics(objectives)]
    if not union:
        raise ValueError("no measured point in any set; cannot derive a hypervolume reference point")
    return default_reference(union, objectives)


def hypervolumes(fronts: Mapping[str, Sequence[ModelPoint]], reference: Sequence[float],
                 objectives: Mapping[str, str] = OBJECTIVES) -> dict[str, float]:
    """Hypervolume of each named set of points against the same ``reference`` (0.0 for an empty set)."""
    if len(reference) != len(objectives):
        raise ValueError(f"reference point has {len(reference)} values for {len(objectives)} objectives")
    directions = list(objectives.values())
    out: dict[str, float] = {}
    for name, points in fronts.items():
        measured = [p for p in points if p.has_metrics(objectives)]
        out[name] = (pareto.hypervolume(objective_matrix(measured, objectives), reference, directions)
                     if measured else 0.0)
    return out


def speedup_check(searched: Sequence[ModelPoint], largest: ModelPoint, *, min_speedup: float) -> TargetCheck:
    """A searched net at least as accurate as ``largest`` (MobileNetV2 1.0) with ``min_speedup`` x
    lower latency. A miss says at which latency the required accuracy is needed and how far the
    best searched net under that latency falls short."""
    comparison = compare_to_reference(searched, largest, ACCURACY_LATENCY)
    budget_ms = largest.latency_ms_p50 / min_speedup
    required = f">= {min_speedup:g}x at accuracy >= {100 * largest.accuracy:.2f} % (latency <= {budget_ms:.3f} ms)"
    description = f"latency speed-up at accuracy >= {largest.label}'s"
    if comparison.speedup is not None:
        best = comparison.fastest_as_accurate
        detail = (f"{best.label}: {100 * best.accuracy:.2f} % at {best.latency_ms_p50:.3f} ms vs "
                  f"{largest.label}: {100 * largest.accuracy:.2f} % at {largest.latency_ms_p50:.3f} ms")
    else:
        detail = f"no searched net reaches {largest.label}'s {100 * largest.accuracy:.2f} %"
    met = comparison.speedup is not None and comparison.speedup >= min_speedup
    needs = None
    if not met:
        under_budget = [p for p in searched if p.latency_ms_p50 <= budget_ms]
        best_fast = max(under_budget, key=lambda p: (p.accuracy, -p.latency_ms_p50), default=None)
        if best_fast is None:
            needs = (f"a net at <= {budget_ms:.3f} ms with >= {100 * largest.accuracy:.2f} %; no searched net is "
                     f"that fast (fastest {min(p.latency_ms_p50 for p in searched):.3f} ms)" if searched else
                     "searched nets: none evaluated")
        else:
            gap = largest.accuracy - best_fast.accuracy
            needs = (f"a net at <= {budget_ms:.3f} ms with >= {100 * largest.accuracy:.2f} %; the best searched net "
                     f"that fast ({best_fast.label}) has {100 * best_fast.accuracy:.2f} %, "
                     f"{100 * gap:.2f} pp short")
    return TargetCheck("speedup_vs_largest", description, met, comparison.speedup, required, detail, needs)


def accuracy_gain_check(searched: Sequence[ModelPoint], smallest: ModelPoint) -> TargetCheck:
    """A searched net at most as slow as ``smallest`` (MobileNetV2 0.35) with higher accuracy."""
    comparison = compare_to_reference(searched, smallest, ACCURACY_LATENCY)
    description = f"accuracy gain at latency <= {smallest.label}'s"
    required = f"> 0 pp at latency <= {smallest.latency_ms_p50:.3f} ms"
    gain = comparison.accuracy_gain
    met = gain is not None and gain > 0
    if gain is not None:
        best = comparison.most_accurate_as_fast
        detail = (f"{best.label}: {100 * best.accuracy:.2f} % at {best.latency_ms_p50:.3f} ms vs "
                  f"{smallest.label}: {100 * smallest.accuracy:.2f} % at {smallest.latency_ms_p50:.3f} ms")
    else:
        detail = f"no searched net is as fast as {smallest.label} ({smallest.latency_ms_p50:.3f} ms)"
    needs = None
    if not met:
        if gain is None:
            fastest = min((p.latency_ms_p50 for p in searched), default=None)
            needs = (f"smaller candidates: the fastest searched net takes {fastest:.3f} ms, "
                     f"{smallest.label} {smallest.latency_ms_p50:.3f} ms" if fastest is not None
                     else "searched nets: none evaluated")
        else:
            needs = f"{100 * -gain:.2f} pp more accuracy at <= {smallest.latency_ms_p50:.3f} ms"
    return TargetCheck("accuracy_gain_vs_smallest", description, met,
                       None if gain is None else 100 * gain, required, detail, needs)


def hypervolume_check(hv: Mapping[str, float], *, searched: str = "searched", control: str = "random") -> TargetCheck:
    """The searched front's hypervolume above the random-search control's (same trials, same reference)."""
    value, other = hv[searched], hv[control]
    met = value > other
    ratio = value / other if other > 0 else None
    detail = f"{searched} {value:.6g} vs {control} {other:.6g}" + (f" (ratio {ratio:.3f})" if ratio else "")
    if met:
        needs = None
    elif value == other:
        needs = ("a front beyond the control's: both fronts hold the same models so far (NSGA-II's first "
                 "generation is random); more generations are needed")
    else:
        needs = (f"{other - value:.6g} more hypervolume: more trials or a larger NSGA-II "
                 "population so selection can act beyond the random first generation")
    return TargetCheck("hypervolume_vs_random", f"hypervolume of the {searched} front above the {control} front",
                       met, ratio, "ratio > 1", detail, needs)


def target_checks(searched: Sequence[ModelPoint], largest: ModelPoint, smallest: ModelPoint,
                  hv: Mapping[str, float], *, min_speedup: float = 2.5) -> list[TargetCheck]:
    """The issue's three targets, in its order."""
    if not searched:
        raise ValueError("no searched model to check the targets with")
    for point in (*searched, largest, smallest):
        if point.accuracy is None or point.latency_ms_p50 is None:
            raise ValueError(f"{point.label} has no accuracy or latency; targets need measured points")
    return [
        speedup_check(searched, largest, min_speedup=min_speedup),
        accuracy_gain_check(searched, smallest),
        hypervolume_check(hv),
    ]


def dominance(searched: Sequence[ModelPoint], references: Sequence[ModelPoint],
              objectives: Mapping[str, str]) -> dict[str, list[str]]:
    """Reference label -> labels of the searched nets that dominate it under ``objectives``."""
    return {ref.label: [p.label for p in compare_to_reference(searched, ref, objectives).dominated_by]
            for ref in references}


def hypervolume_by_trials(discovered: Mapping[str, Sequence[ModelPoint]], checkpoints: Sequence[int],
                          reference: Sequence[float],
                          objectives: Mapping[str, str] = OBJECTIVES) -> list[dict[str, Any]]:
    """Hypervolume of each study's front over its first ``n`` trials (``trial_number < n``), for every
    checkpoint ``n``: how the searched and control fronts grow with the trial budget."""
    rows = []
    for n in checkpoints:
        firsts = {name: [p for p in points if p.trial_number is not None and p.trial_number < n]
                  for name, points in discovered.items()}
        fronts = {name: front_of(points, objectives) for name, points in firsts.items()}
        rows.append({"trials": int(n), "hypervolume": hypervolumes(fronts, reference, objectives),
                     "front_size": {name: len(front) for name, front in fronts.items()}})
    return rows
