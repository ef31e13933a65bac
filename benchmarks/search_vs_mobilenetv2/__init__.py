"""Benchmark: searched nets against the MobileNetV2 family on Fashion-MNIST (issue 8).

Run from the repository root: ``python -m benchmarks.search_vs_mobilenetv2 --config <yaml>``.
"""
