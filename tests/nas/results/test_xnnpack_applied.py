"""Issue 14: the report's device section and the model card say whether XNNPACK was *applied*
(edge_profiler's ``xnnpack_applied``), not only requested."""

from __future__ import annotations

import re

from nas.record.points import ModelPoint
from nas.results.export.measurement import LatencyMeasurement
from nas.results.export.model_card import _latency_section
from nas.results.report import build_html


def _point(n: int, applied: bool | None) -> ModelPoint:
    profiler = {"measured_by": "local"} if applied is None else {"measured_by": "local", "xnnpack_applied": applied}
    return ModelPoint(label=f"trial {n}", architecture="a", accuracy=0.5 + n / 10, latency_ms_p50=1.0 + n,
                      size_bytes=1000 * (n + 1), trial_number=n, extra={"profiler": profiler})


def _device_row(page: str) -> str | None:
    match = re.search(r"<th>xnnpack_applied</th><td[^>]*>([^<]*)</td>", page)
    return match.group(1) if match else None


def test_report_device_section_says_whether_xnnpack_ran() -> None:
    device = {"machine_model": "Raspberry Pi 4 Model B Rev 1.4", "cpu_core": "Cortex-A72"}
    all_on = build_html([_point(0, True), _point(1, True)], title="t", device=device)
    assert _device_row(all_on) == "yes, in all 2 measured trials"
    assert "<th>cpu_core</th>" in all_on
    some_off = build_html([_point(0, True), _point(1, False), _point(2, None)], title="t", device=device)
    assert _device_row(some_off).startswith("NO in 1 of 2 measured trials")
    assert _device_row(build_html([_point(0, None)], title="t", device=device)) is None  # older records


def test_model_card_says_whether_xnnpack_ran() -> None:
    def line(applied: bool | None, requested: bool = True) -> str:
        result = {"latency_ms": {"p50": 2.0, "count": 5}, "params": {"threads": 1, "use_xnnpack": requested},
                  "measured_by": "local", "runtime": {"name": "ai_edge_litert", "version": "2.3.0"}}
        if applied is not None:
            result["xnnpack_applied"] = applied
        return _latency_section(LatencyMeasurement.from_profiler(result))[1]

    assert "XNNPACK on, applied)" in line(True)
    assert "XNNPACK requested but NOT applied: the built-in kernels ran)" in line(False)
    assert "XNNPACK requested (applied not recorded))" in line(None)
    assert "XNNPACK off)" in line(False, requested=False)
