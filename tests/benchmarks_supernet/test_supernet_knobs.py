"""The supernet ranking benchmark's scratch reuse and the knob read-out (docs/supernet.md, "What moves tau")."""

from __future__ import annotations

import json

import pytest

from benchmarks import supernet_knobs, supernet_ranking


def _result(inherited, scratch, *, epochs=4, distillation=True, bn=500):
    rows = [{"name": f"net{i:02d}", "architecture": f"a{i}", "accuracy_int8_inherited": a, "accuracy_int8_scratch": b,
             "loadavg_inherited": [1.0, 1.0, 1.0]} for i, (a, b) in enumerate(zip(inherited, scratch))]
    return {"rows": rows, "bn_calibration_images": bn, "seconds_per_candidate": 4.0, "supernet_train_minutes": 30.0,
            "supernet": {"config": {"epochs": epochs, "distillation": distillation}}}


def test_the_read_out_gives_tau_intervals_and_paired_differences(tmp_path):
    scratch = [0.70 + 0.005 * i for i in range(24)]
    (tmp_path / "base.json").write_text(json.dumps(_result(scratch[::-1], scratch)))  # tau -1
    (tmp_path / "e8.json").write_text(json.dumps(_result(scratch, scratch, epochs=8)))  # tau +1
    (tmp_path / "e8_bn2000.json").write_text(json.dumps(_result(scratch, scratch, epochs=8, bn=2000)))
    variants = {v.name: v for v in supernet_knobs.read_out(tmp_path, resamples=200)}
    assert variants["base"].kendall_tau == pytest.approx(-1.0) and variants["base"].tau_minus_reference is None
    e8 = variants["e8"]
    assert e8.kendall_tau == pytest.approx(1.0) and e8.epochs == 8 and e8.tau_minus_reference == pytest.approx(2.0)
    assert e8.reference == "base" and e8.tau_minus_reference_ci95[0] > 1.9 and e8.kendall_tau_ci95[0] > 0.9
    rescored = variants["e8_bn2000"]
    assert rescored.reference == "e8" and rescored.tau_minus_reference == pytest.approx(0.0)


def test_the_read_out_skips_unfinished_variants_and_refuses_an_empty_folder(tmp_path):
    scratch = [0.70 + 0.005 * i for i in range(24)]
    (tmp_path / "base.json").write_text(json.dumps(_result(scratch, scratch)))
    (tmp_path / "half.json").write_text(json.dumps(_result(scratch[:12], scratch[:12])))
    assert [v.name for v in supernet_knobs.read_out(tmp_path, resamples=50)] == ["base"]
    with pytest.raises(ValueError, match="no variant results"):
        supernet_knobs.read_out(tmp_path / "missing")


def test_scratch_results_are_reused_only_for_the_same_architectures(tmp_path):
    class Arch:
        def __init__(self, text):
            self.text = text

        def to_string(self):
            return self.text

    source = tmp_path / "ranking.json"
    rows = [{"name": "net00", "architecture": "a0", "accuracy_int8_scratch": 0.8, "keras_accuracy_scratch": 0.81,
             "params": 10, "macs": 20, "seconds_scratch": {"total": 60.0}, "loadavg_scratch": [1.0, 1.0, 1.0]}]
    source.write_text(json.dumps({"rows": rows}))
    assert supernet_ranking.seed_scratch(source, tmp_path / "w", [("net00", Arch("a0")), ("net01", Arch("a1"))]) == 1
    assert json.loads((tmp_path / "w" / "scratch" / "net00.json").read_text())["accuracy_int8"] == 0.8
    with pytest.raises(ValueError, match="net00 is a0"):
        supernet_ranking.seed_scratch(source, tmp_path / "other", [("net00", Arch("b0"))])


def test_the_seed_summary_applies_the_pre_registered_rule(tmp_path):
    scratch = [0.70 + 0.005 * i for i in range(24)]
    noisy = scratch[:12][::-1] + scratch[12:][::-1]  # each half reversed: tau 12/276
    for name, inherited in (("base_s0", scratch), ("base_s1", scratch), ("base_s2", noisy)):
        (tmp_path / f"{name}.json").write_text(json.dumps(_result(inherited, scratch)))
    variants = supernet_knobs.read_out(tmp_path, resamples=50)
    low = variants[2].kendall_tau
    assert low < 0.6
    summary = supernet_knobs.seed_summary(variants)
    assert summary["reaching_target"] == 2 and summary["min"] == low and summary["max"] == 1.0
    assert summary["met"] is ((2 + low) / 3 >= 0.6)
    assert supernet_knobs.seed_summary(variants[:2])["met"] is True
    assert supernet_knobs.seed_summary(variants[2:] * 2)["met"] is False  # two misses of two
    with pytest.raises(ValueError, match="no finished trainings"):
        supernet_knobs.seed_summary([])
