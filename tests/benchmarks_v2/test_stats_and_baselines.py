"""Benchmark v2 statistics (bootstrap latency ratio, t and Welch intervals) and small-input baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.v2.baselines import get_v2_baseline, small_input_variant
from benchmarks.v2.stats import mean_interval, paired_latency_ratio, welch_difference
from search_spaces.architecture import Architecture, effective_strides
from search_spaces.baselines import get_baseline
from search_spaces.cost import arch_cost


def test_paired_ratio_uses_rounds_as_pairs():
    # A load burst in round 3 slows both models alike: the paired ratio stays 0.5 in every round.
    a = [1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    b = [2.0, 2.0, 6.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    ratio = paired_latency_ratio(a, b)
    assert ratio.estimate == pytest.approx(0.5)
    assert ratio.low == pytest.approx(0.5) and ratio.high == pytest.approx(0.5)


def test_paired_ratio_interval_covers_one_outlier_round_and_is_reproducible():
    # v1's searched #7 vs MobileNetV2 0.35, the 5 re-measurement rounds of benchmarks/results JSON.
    searched = [0.0419, 0.0423, 0.0428, 0.0431, 0.0526]
    mnv2 = [0.0444, 0.0444, 0.0445, 0.0448, 0.0449]
    first = paired_latency_ratio(searched, mnv2, seed=3)
    assert first == paired_latency_ratio(searched, mnv2, seed=3)
    assert first.estimate == pytest.approx(0.0428 / 0.0445, rel=1e-9)
    assert first.low < first.estimate < first.high
    assert first.high > 1.0  # the outlier round leaves "no slower" unshown
    assert first.low == pytest.approx(0.0419 / 0.0444, rel=1e-9)


def test_bootstrap_interval_has_near_nominal_coverage():
    rng = np.random.default_rng(1)
    covered = 0
    for trial in range(200):
        a = 0.8 * np.exp(rng.normal(0, 0.05, 15))
        b = np.exp(rng.normal(0, 0.05, 15))
        ratio = paired_latency_ratio(a, b, resamples=500, seed=trial)
        covered += ratio.low <= 0.8 <= ratio.high
    assert 0.85 <= covered / 200 <= 1.0


def test_mean_interval_matches_student_t():
    interval = mean_interval([0.90, 0.91, 0.92])
    half = 4.302652729911275 * 0.01 / math.sqrt(3)  # t(0.975, 2 dof) * s / sqrt(n)
    assert interval.estimate == pytest.approx(0.91)
    assert interval.low == pytest.approx(0.91 - half) and interval.high == pytest.approx(0.91 + half)


def test_welch_difference_against_hand_computed_values():
    a, b = [0.93, 0.92, 0.94], [0.90, 0.905, 0.91]
    diff = welch_difference(a, b)
    var_a, var_b = np.var(a, ddof=1) / 3, np.var(b, ddof=1) / 3
    dof = (var_a + var_b) ** 2 / (var_a**2 / 2 + var_b**2 / 2)
    assert dof == pytest.approx(2.94, abs=0.01)
    assert diff.estimate == pytest.approx(0.025)
    assert diff.excludes_zero()
    close = welch_difference([0.785, 0.80, 0.77], [0.78, 0.79, 0.785])
    assert not close.excludes_zero()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: paired_latency_ratio([1.0, 2.0, 3.0], [1.0, 2.0]), "differ in number"),
        (lambda: paired_latency_ratio([1.0, 0.0], [1.0, 1.0]), "positive"),
        (lambda: paired_latency_ratio([1.0], [1.0]), "at least 2"),
        (lambda: mean_interval([0.9, float("nan")]), "finite"),
        (lambda: welch_difference([0.9], [0.8, 0.7]), "at least 2"),
    ],
)
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_small_input_variant_changes_only_the_stem_stride():
    published = get_baseline("mobilenet_v2_1.0").with_input(resolution=32, channels=1, num_classes=10)
    variant = small_input_variant(published)
    assert published.stem.stride == 2  # the published point is untouched
    assert variant.stem.stride == 1
    assert variant.stages == published.stages and variant.head == published.head
    assert "stem_c32_k3_s1_relu6" in variant.to_string()
    assert Architecture.from_string(variant.to_string()) == variant
    # At 32 px the stride rule (MIN_FEATURE_PX) drops the published net's stride-2 stages 4 and 6
    # (16 -> 8 -> 4 px); with a stride-1 stem only stage 6 is dropped (32 -> 16 -> 8 -> 4 px):
    # both end at 4x4, and the variant pays 1.19x the MACs (pinned: 43,168,256 vs 36,381,440).
    assert effective_strides(published) == (1, 2, 2, 1, 1, 1, 1)
    assert effective_strides(variant) == (1, 2, 2, 2, 1, 1, 1)
    assert arch_cost(published).macs == 36_381_440
    assert arch_cost(variant).macs == 43_168_256
    assert arch_cost(variant).params == arch_cost(published).params


def test_v2_baseline_names():
    assert get_v2_baseline("mobilenet_v2_0.35") == get_baseline("mobilenet_v2_0.35")
    assert get_v2_baseline("mobilenet_v2_0.35_stem_s1").stem.stride == 1
    with pytest.raises(KeyError, match="unknown baseline"):
        get_v2_baseline("nope_stem_s1")
