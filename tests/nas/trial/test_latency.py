"""The latency slot: a registry by name, chosen by ``latency.source``; measured = the profiler's number."""

from __future__ import annotations

import pytest

from nas.config import LATENCY_SOURCES as CONFIG_SOURCES
from nas.config import load_config
from nas.trial.latency import LATENCY_SOURCES, LatencySource, MeasuredLatency, latency_source_for, make_latency_source
from search_spaces import get_baseline
from tests.nas.fakes import FakeEvaluator


def test_every_configurable_source_is_registered():
    assert set(CONFIG_SOURCES) == set(LATENCY_SOURCES)
    for name, cls in LATENCY_SOURCES.items():
        assert issubclass(cls, LatencySource) and cls.name == name


def test_config_chooses_the_source():
    assert isinstance(latency_source_for(load_config()), MeasuredLatency)
    with pytest.raises(ValueError, match="not one of measured"):
        make_latency_source("crystal-ball")


def test_measured_latency_is_the_evaluators_measurement(tmp_path):
    evaluator = FakeEvaluator()
    arch = get_baseline("mobilenet_v2_0.35").with_input(resolution=32, channels=1, num_classes=10)
    cost = MeasuredLatency().measure_cost(evaluator, arch, tmp_path)
    assert evaluator.cost_calls == [arch.to_string()]
    assert cost.latency_ms_p50 == cost.latency_ms["p50"] > 0
