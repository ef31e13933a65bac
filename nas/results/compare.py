"""Discovered models against reference architectures (MobileNetV2 by default), side by side.

For each reference point: which discovered models dominate it, the latency speed-up of the fastest
discovered model at equal-or-better accuracy, and the accuracy gain of the most accurate discovered
model at equal-or-lower latency (the two readings MnasNet, Tan et al. 2019, reports against
MobileNetV2). Pure logic; evaluating the references lives in :mod:`nas.results.references`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from nas.record.points import OBJECTIVES, ModelPoint
from nas.results.front import check_objectives, point_dominates


@dataclass(frozen=True)
class ReferenceComparison:
    """How the discovered models fare against one reference point."""

    reference: ModelPoint
    dominated_by: tuple[ModelPoint, ...]
    dominates: tuple[ModelPoint, ...]
    fastest_as_accurate: ModelPoint | None
    speedup: float | None
    most_accurate_as_fast: ModelPoint | None
    accuracy_gain: float | None


def compare_to_reference(
    discovered: Sequence[ModelPoint],
    reference: ModelPoint,
    objectives: Mapping[str, str] = OBJECTIVES,
) -> ReferenceComparison:
    """Compare every discovered model with one reference point.

    ``speedup`` is reference latency / latency of the fastest discovered model whose accuracy is at
    least the reference's; ``accuracy_gain`` is the accuracy (absolute, 0..1) of the most accurate
    discovered model whose latency is at most the reference's, minus the reference's. Either is
    ``None`` when no discovered model qualifies.
    """
    objectives = check_objectives(objectives)
    for point in (reference, *discovered):
        if point.accuracy is None or point.latency_ms_p50 is None:
            raise ValueError(f"{point.label} has no accuracy or latency; only evaluated models can be compared")
    dominated_by = tuple(d for d in discovered if point_dominates(d, reference, objectives))
    dominates = tuple(d for d in discovered if point_dominates(reference, d, objectives))
    as_accurate = [d for d in discovered if d.accuracy >= reference.accuracy]
    fastest = min(as_accurate, key=lambda d: (d.latency_ms_p50, -d.accuracy), default=None)
    as_fast = [d for d in discovered if d.latency_ms_p50 <= reference.latency_ms_p50]
    most_accurate = max(as_fast, key=lambda d: (d.accuracy, -d.latency_ms_p50), default=None)
    return ReferenceComparison(
        reference=reference,
        dominated_by=dominated_by,
        dominates=dominates,
        fastest_as_accurate=fastest,
        speedup=None if fastest is None else reference.latency_ms_p50 / fastest.latency_ms_p50,
        most_accurate_as_fast=most_accurate,
        accuracy_gain=None if most_accurate is None else most_accurate.accuracy - reference.accuracy,
    )


def compare(
    discovered: Sequence[ModelPoint],
    references: Sequence[ModelPoint],
    objectives: Mapping[str, str] = OBJECTIVES,
) -> list[ReferenceComparison]:
    """:func:`compare_to_reference` for every reference point, in the given order."""
    if not references:
        raise ValueError("no reference points to compare against")
    return [compare_to_reference(discovered, reference, objectives) for reference in references]


@dataclass(frozen=True)
class ComparisonRow:
    """One model of the side-by-side table (``size_kib``: the int8 file in KiB).

    ``dominates`` / ``dominated_by`` list the other side's models (discovered against references
    only); the speed-up and accuracy-gain texts are set on reference rows.
    """

    kind: str
    model: str
    accuracy_int8: float | None
    latency_ms_p50: float | None
    size_kib: float | None
    params: int | None
    macs: int | None
    architecture: str
    dominates: str = "-"
    dominated_by: str = "-"
    speedup_at_equal_accuracy: str | None = None
    accuracy_gain_at_equal_latency: str | None = None

    # Fields holding a fraction (0..1), which tables show as a percentage.
    FRACTION_FIELDS: ClassVar[tuple[str, ...]] = ("accuracy_int8",)

    @classmethod
    def of(cls, point: ModelPoint, kind: str, **marks: str) -> ComparisonRow:
        return cls(kind=kind, model=point.label, accuracy_int8=point.accuracy, latency_ms_p50=point.latency_ms_p50,
                   size_kib=None if point.size_bytes is None else point.size_bytes / 1024, params=point.params,
                   macs=point.macs, architecture=point.architecture, **marks)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def side_by_side_rows(
    discovered: Sequence[ModelPoint],
    comparisons: Sequence[ReferenceComparison],
) -> list[ComparisonRow]:
    """One row per discovered model and per reference point, fastest first, for tables.

    Each row lists what it dominates and what dominates it (discovered models against references
    only); reference rows also give the speed-up at equal-or-better accuracy and the accuracy gain
    (percentage points) at equal-or-lower latency.
    """
    rows: list[ComparisonRow] = []
    for point in discovered:
        beaten = [c.reference.label for c in comparisons if point in c.dominated_by]
        beaten_by = [c.reference.label for c in comparisons if point in c.dominates]
        rows.append(ComparisonRow.of(point, "discovered", dominates=", ".join(beaten) or "-",
                                     dominated_by=", ".join(beaten_by) or "-"))
    for comparison in comparisons:
        rows.append(ComparisonRow.of(
            comparison.reference, "reference",
            dominates=", ".join(d.label for d in comparison.dominates) or "-",
            dominated_by=", ".join(d.label for d in comparison.dominated_by) or "-",
            speedup_at_equal_accuracy=_speedup_text(comparison),
            accuracy_gain_at_equal_latency=_gain_text(comparison),
        ))
    rows.sort(key=lambda r: (r.latency_ms_p50, r.kind))
    return rows


def _speedup_text(comparison: ReferenceComparison) -> str:
    if comparison.speedup is None:
        return "none as accurate"
    return f"{comparison.speedup:.2f}x ({comparison.fastest_as_accurate.label})"


def _gain_text(comparison: ReferenceComparison) -> str:
    if comparison.accuracy_gain is None:
        return "none as fast"
    return f"{100 * comparison.accuracy_gain:+.1f} pp ({comparison.most_accurate_as_fast.label})"


def summary_lines(comparisons: Sequence[ReferenceComparison]) -> list[str]:
    """Plain-language lines, one per reference point."""
    lines = []
    for c in comparisons:
        ref = c.reference
        head = f"{ref.label} ({100 * ref.accuracy:.1f} %, {ref.latency_ms_p50:.2f} ms):"
        parts = [
            f"dominated by {', '.join(d.label for d in c.dominated_by)}" if c.dominated_by else "not dominated",
            *([f"it dominates {', '.join(d.label for d in c.dominates)}"] if c.dominates else []),
            f"speed-up at equal-or-better accuracy {_speedup_text(c)}",
            f"accuracy gain at equal-or-lower latency {_gain_text(c)}",
        ]
        lines.append(f"{head} " + "; ".join(parts))
    return lines


__all__ = ["ComparisonRow", "ReferenceComparison", "compare", "compare_to_reference", "side_by_side_rows",
           "summary_lines"]
