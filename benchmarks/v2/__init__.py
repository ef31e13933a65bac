"""Benchmark v2 (issue 18): pre-registered, two stages, fair baselines.

The protocol is ``docs/benchmark_v2_protocol.md``. This package holds the pieces written so far:
the statistics the targets are decided with (:mod:`benchmarks.v2.stats`) and the small-input
MobileNetV2 baselines (:mod:`benchmarks.v2.baselines`). The stage driver is not written yet.
"""
