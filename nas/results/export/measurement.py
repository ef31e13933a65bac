"""The latency of an exported model as a typed value (the profiler's result, docs/interfaces.md
"Profiler result"), so the model card and the summary read attributes instead of string keys."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class LatencyMeasurement:
    """One profiler result: ``latency_ms`` holds the statistics (``p50``, ``p90``, ``mean``,
    ``count``, ...); ``params`` the measurement settings (``threads``, ``use_xnnpack``, ...);
    ``runtime`` the interpreter (``name``, ``version``); ``device`` the machine."""

    latency_ms: Mapping[str, float] = dataclasses.field(default_factory=dict)
    measured_by: str | None = None
    runtime: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    device: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    result: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def from_profiler(cls, result: Mapping[str, Any]) -> LatencyMeasurement:
        """The typed view of ``Profiler.measure(...)``'s result (the whole result kept in ``result``)."""
        names = [f.name for f in dataclasses.fields(cls) if f.name != "result"]
        present = {name: result[name] for name in names if result.get(name) is not None}
        return cls(**present, result=dict(result))

    @property
    def p50_ms(self) -> float | None:
        value = self.latency_ms.get("p50")
        return None if value is None else float(value)


__all__ = ["LatencyMeasurement"]
