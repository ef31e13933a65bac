"""Measurement parameters, validated in one place.

The meanings follow LiteRT's benchmark tools: ``warmup_runs`` untimed runs first, then timed runs
until at least ``runs`` runs AND at least ``min_seconds`` have elapsed (``benchmark_model``'s
``--num_runs`` / ``--min_secs``), on ``threads`` CPU threads, with or without the XNNPACK delegate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from edge_profiler.errors import ProfilerError

_LIMITS: dict[str, tuple[float, float]] = {
    "threads": (1, 64),
    "warmup_runs": (0, 10_000),
    "runs": (1, 1_000_000),
    "min_seconds": (0.0, 600.0),
}


@dataclasses.dataclass(frozen=True)
class MeasureParams:
    """What to measure; defaults match ``benchmark_litert_model.py`` (5 warm-up, 50 runs)."""

    threads: int = 1
    warmup_runs: int = 5
    runs: int = 50
    min_seconds: float = 1.0
    use_xnnpack: bool = True

    def __post_init__(self) -> None:
        for name, (low, high) in _LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ProfilerError("bad_request", f"{name} must be a number, got {value!r}")
            if name != "min_seconds" and not isinstance(value, int):
                raise ProfilerError("bad_request", f"{name} must be an integer, got {value!r}")
            if not low <= value <= high:
                raise ProfilerError("bad_request", f"{name}={value} is outside [{low}, {high}]")
        if not isinstance(self.use_xnnpack, bool):
            raise ProfilerError("bad_request", f"use_xnnpack must be a bool, got {self.use_xnnpack!r}")

    def to_json(self) -> dict[str, Any]:
        """Plain dict, the ``params`` field of a result."""
        return dataclasses.asdict(self)

    def cache_key(self) -> tuple[Any, ...]:
        """Hashable form used in the agent's result cache."""
        return (self.threads, self.warmup_runs, self.runs, float(self.min_seconds), self.use_xnnpack)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> MeasureParams:
        """Build from a dict (JSON body) of typed values; unknown keys are an error."""
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ProfilerError("bad_request", f"unknown measurement parameters {sorted(unknown)}")
        return cls(**dict(values))

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> MeasureParams:
        """Build from URL query strings (``threads=2&use_xnnpack=false``)."""
        converters = {"threads": int, "warmup_runs": int, "runs": int, "min_seconds": float,
                      "use_xnnpack": _parse_bool}
        typed: dict[str, Any] = {}
        for key, text in query.items():
            if key not in converters:
                raise ProfilerError("bad_request", f"unknown measurement parameter {key!r}")
            try:
                typed[key] = converters[key](text)
            except ValueError:
                raise ProfilerError("bad_request", f"parameter {key}={text!r} is not valid") from None
        return cls(**typed)

    def to_query(self) -> dict[str, str]:
        """Inverse of :meth:`from_query`."""
        return {k: (("true" if v else "false") if isinstance(v, bool) else repr(v) if isinstance(v, float)
                    else str(v)) for k, v in self.to_json().items()}


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(text)
