"""Benchmark v2 stage 2 and score: priority order, the once-only test split, targets from intervals."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from benchmarks.v2 import stage2
from benchmarks.v2.config import load_v2_config
from benchmarks.v2.score import chart, compare, latency_models, xnnpack_accepts
from search_spaces.architecture import Architecture
from search_spaces.baselines import get_baseline

INPUT = {"resolution": 32, "channels": 1, "num_classes": 10}


def _stage1_results():
    arch = get_baseline("mobilenet_v2_0.35").with_input(**INPUT).to_string()
    return {"baselines": {"mobilenet_v2_0.35": {"architecture": arch}},
            "finalists": [{"study": "nsga2-seed0", "trial": 7, "architecture": arch, "reason": "knee"},
                          {"study": "random-seed1", "trial": 3, "architecture": arch, "reason": "target 1"}]}


def test_models_and_priority_order(tmp_path):
    config = load_v2_config("benchmarks/v2/cpu.yaml", out_dir=tmp_path)
    models = stage2.stage2_models(config, _stage1_results())
    labels = [m.label for m in models]
    assert labels[:2] == ["nsga2-seed0#7", "random-seed1#3"] and "small_cnn" in labels
    small_cnn = next(m for m in models if m.label == "small_cnn")
    assert small_cnn.architecture is None
    stem = next(m for m in models if m.label == "mobilenet_v2_1.0_stem_s1")
    assert Architecture.from_string(stem.architecture).stem.stride == 1
    order = [(m.label, s) for m, s in stage2.unit_order(config, models)]
    first = {"random-seed1#3", "mobilenet_v2_0.35", "mobilenet_v2_1.0"}  # target finalists and the two references
    assert {label for label, _ in order[:3]} == first and all(s == 0 for _, s in order[:3])
    assert {label for label, _ in order[3:9]} == first and {s for _, s in order[3:9]} == {1, 2}
    assert len(order) == len(set(order)) == len(models) * 3


def test_the_test_split_is_scored_once(tmp_path):
    config = load_v2_config("benchmarks/v2/cpu.yaml", out_dir=tmp_path)
    marker = stage2.mark_test_scored(config)
    first = marker.read_text()
    assert stage2.mark_test_scored(config) == marker and marker.read_text() == first  # a stopped scoring resumes
    stage2.mark_score_done(config)
    with pytest.raises(RuntimeError, match="scored already"):
        stage2.mark_test_scored(config)


def _units(accuracies):
    return {label: [{"seed": s, "test_accuracy_int8": a, "size_bytes": 1} for s, a in enumerate(values)]
            for label, values in accuracies.items()}


def test_targets_are_decided_on_the_intervals():
    units = _units({"fast": [0.905, 0.91, 0.915], "noisy": [0.85, 0.97, 0.90], "mobilenet_v2_1.0": [0.89, 0.895, 0.90],
                    "mobilenet_v2_0.35": [0.86, 0.865, 0.87]})
    rounds = [{"p50_ms": {"fast": 0.05 + 0.001 * r, "noisy": 0.05, "mobilenet_v2_1.0": 0.15 + 0.001 * r,
                          "mobilenet_v2_0.35": 0.06}} for r in range(11)]
    result = compare(units, rounds, ["fast", "noisy"])
    # fast: +1.5 pp over MobileNetV2 1.0 with a tight interval, ~3x faster; +4.5 pp over 0.35 and faster.
    assert result["target_1"] == ["fast"] and result["target_2"] == ["fast"]
    noisy = result["comparisons"]["noisy vs mobilenet_v2_1.0"]["accuracy_difference"]
    assert noisy["low"] < 0 < noisy["estimate"]  # higher on average, but the interval includes 0: no claim
    assert result["models"]["fast"]["latency_ms"] == pytest.approx(0.055)


def test_units_go_to_the_committed_folder_with_their_model_beside_them(tmp_path):
    config = load_v2_config("benchmarks/v2/cpu.yaml", out_dir=tmp_path)
    assert config.stage2_units == Path("benchmarks/results/v2_stage2_cpu_units")  # spans sessions
    smoke = load_v2_config("benchmarks/v2/smoke.yaml", out_dir=tmp_path)
    assert smoke.stage2_units == tmp_path / "smoke" / "stage2" / "units"
    assert stage2.tflite_path(config, {"tflite": "a-seed0.tflite"}) == config.stage2_units / "a-seed0.tflite"
    assert stage2.tflite_path(config, {"tflite": "/elsewhere/a.tflite"}) == Path("/elsewhere/a.tflite")


def _queue(config, count):
    models = stage2.stage2_models(config, _stage1_results())[:count]
    pending = [{"model": dataclasses.asdict(m), "seed": 0} for m in models]
    (config.folder / "stage2").mkdir(parents=True)
    (config.folder / "stage2" / "pending.json").write_text(json.dumps(pending))
    return models, pending


def test_workers_share_one_queue_and_skip_done_units(tmp_path):
    config = load_v2_config("benchmarks/v2/smoke.yaml", out_dir=tmp_path)
    models, pending = _queue(config, 3)
    done = stage2.unit_path(config, models[0], 0)
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    first, second = stage2.claim_next(config, pending), stage2.claim_next(config, pending)
    assert [first[0].label, second[0].label] == [models[1].label, models[2].label]  # two workers, two units
    assert stage2.claim_next(config, pending) is None


def test_a_worker_starts_no_unit_after_the_deadline(tmp_path, monkeypatch):
    config = load_v2_config("benchmarks/v2/smoke.yaml", out_dir=tmp_path)
    _queue(config, 2)
    results = tmp_path / "stage1.json"
    results.write_text(json.dumps(_stage1_results()))
    started = []
    monkeypatch.setattr(stage2, "run_unit", lambda config, model, seed, sample: started.append(model.label))
    stage2.run_stage2_worker(config, results, deadline=time.time() - 1)
    assert started == []
    stage2.run_stage2_worker(config, results)
    assert started == ["nsga2-seed0#7", "random-seed1#3"]


def test_a_unit_keeps_the_test_split_closed_and_names_its_model(tmp_path, monkeypatch):
    import evaluators.datasets as datasets

    config = load_v2_config("benchmarks/v2/smoke.yaml", out_dir=tmp_path)
    opened = []
    real = datasets.load_dataset
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: opened.append(k.get("with_test")) or real(*a, **k))
    cnn = stage2.Model("small_cnn", None, "baseline")
    sample = get_baseline("mobilenet_v2_0.35").with_input(resolution=16, channels=1, num_classes=10).to_string()
    record = stage2.run_unit(config, cnn, 0, sample)
    assert opened == [False]
    assert record["tflite"] == "small_cnn-seed0.tflite" and stage2.tflite_path(config, record).is_file()
    assert 0.0 <= record["val_accuracy_int8"] <= 1.0


def test_with_an_end_only_units_estimated_to_finish_in_time_start(tmp_path):
    config = load_v2_config("benchmarks/v2/smoke.yaml", out_dir=tmp_path)
    models, pending = _queue(config, 2)  # two finalists of the same architecture
    small = get_baseline("mobilenet_v2_0.35").with_input(**INPUT).to_string()
    big = get_baseline("mobilenet_v2_1.0").with_input(**INPUT).to_string()
    assert stage2.estimated_train_s(config, stage2.Model("big", big, "baseline")) is None  # nothing done yet
    config.stage2_units.mkdir(parents=True)
    (config.stage2_units / "done-seed0.json").write_text(json.dumps({"architecture": small, "train_s": 600.0}))
    estimate = stage2.estimated_train_s(config, stage2.Model("big", big, "baseline"))
    assert estimate > 3 * 600  # MobileNetV2 1.0 has several times 0.35's MACs
    pending = [{"model": dataclasses.asdict(stage2.Model("big", big, "baseline")), "seed": 0}] + pending
    unit = stage2.claim_next(config, pending, end=time.time() + 900)  # 15 minutes: the 10-minute ones fit
    assert unit[0].label == models[0].label
    assert stage2.claim_next(config, pending, end=time.time() + 300) is None  # 5 minutes: nothing fits


def test_the_time_model_keeps_a_fixed_cost_per_unit_so_small_units_are_not_underestimated(tmp_path):
    config = load_v2_config("benchmarks/v2/smoke.yaml", out_dir=tmp_path)
    small = get_baseline("mobilenet_v2_0.35").with_input(**INPUT).to_string()
    big = get_baseline("mobilenet_v2_1.0").with_input(**INPUT).to_string()
    config.stage2_units.mkdir(parents=True)
    # Today's units: 0.35 (6.4 M MACs) 1,200 s and 1.0 (36.4 M MACs) 3,055 s on one core.
    (config.stage2_units / "a-seed0.json").write_text(json.dumps({"architecture": small, "train_s": 1200.0}))
    (config.stage2_units / "b-seed0.json").write_text(json.dumps({"architecture": big, "train_s": 3055.0}))
    model = stage2.train_time_model(config)
    assert model is not None
    assert model(6428160) == pytest.approx(1200.0, rel=1e-6) and model(36381440) == pytest.approx(3055.0, rel=1e-6)
    assert model(0) == pytest.approx(802, abs=5)  # the fixed cost a rate per MAC alone would lose
    mid = get_baseline("mobilenet_v2_0.75").with_input(**INPUT).to_string()
    estimate = stage2.estimated_train_s(config, stage2.Model("mid", mid, "baseline"))
    assert 2000 < estimate < 2600  # the line through both; the median rate per MAC would say ~3,050 s


def test_one_seed_gives_estimates_and_decides_no_target():
    units = _units({"fast": [0.91], "mobilenet_v2_1.0": [0.89], "mobilenet_v2_0.35": [0.86]})
    rounds = [{"p50_ms": {"fast": 0.05, "mobilenet_v2_1.0": 0.15, "mobilenet_v2_0.35": 0.06}} for _ in range(3)]
    result = compare(units, rounds, ["fast"])
    difference = result["comparisons"]["fast vs mobilenet_v2_1.0"]["accuracy_difference"]
    assert difference["estimate"] == pytest.approx(0.02) and difference["low"] is None
    assert result["target_1"] == [] and result["target_2"] == []
    assert result["models"]["fast"]["test_accuracy_int8"] == {"estimate": 0.91}


def test_the_chart_draws_models_with_and_without_intervals(tmp_path):
    units = _units({"fast": [0.905, 0.91, 0.915], "mobilenet_v2_1.0": [0.89, 0.895, 0.90], "small_cnn": [0.8]})
    rounds = [{"p50_ms": {"fast": 0.05, "mobilenet_v2_1.0": 0.15, "small_cnn": 0.02}} for _ in range(3)]
    chart(compare(units, rounds, ["fast"]), tmp_path / "score.png")
    assert (tmp_path / "score.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_latency_is_measured_on_the_first_seed_xnnpack_accepts_and_a_label_without_one_stops_scoring():
    units = {"a": [{"seed": 0, "tflite": "a0"}, {"seed": 1, "tflite": "a1"}],
             "b": [{"seed": 0, "tflite": "b0"}, {"seed": 1, "tflite": "b1"}, {"seed": 2, "tflite": "b2"}]}
    refused = {"b0"}
    chosen = latency_models(units, lambda record: record["tflite"] not in refused)
    assert {label: record["tflite"] for label, record in chosen.items()} == {"a": "a0", "b": "b1"}
    assert [r["xnnpack"] for r in units["b"]] == [False, True, True] and units["b"][1]["latency_model"]
    refused.update({"a0", "a1"})
    with pytest.raises(RuntimeError, match="every seed of a"):
        latency_models(units, lambda record: record["tflite"] not in refused)


def test_xnnpack_refuses_an_int8_model_with_a_dead_squeeze_excite_branch(tmp_path):
    import numpy as np

    from evaluators.conversion import convert
    from search_spaces.builder import build_model

    arch = Architecture.from_string("in32x1-stem_c16_k3_s2_relu6-ir_r1_k3_s1_e1_c8_relu6-ir_r1_k3_s2_e6_c16_se0.25_relu6"
                                    "-head_c64_relu6-cls10")
    model = build_model(arch)
    alive = convert(model, "int8", calibration="random", calibration_samples=4).write(tmp_path / "alive.tflite")
    for layer in model.layers:  # a reduction far below 0 (ReLU6 gives 0 on any input) with weights large
        if layer.name.endswith("_se_reduce"):  # enough that input x weight / output scale passes XNNPACK's 256
            kernel, bias = layer.get_weights()
            layer.set_weights([100 * kernel, np.full_like(bias, -1e6)])
    dead = convert(model, "int8", calibration="random", calibration_samples=4).write(tmp_path / "dead.tflite")
    assert xnnpack_accepts(alive) is True and xnnpack_accepts(dead) is False
    from evaluators.metrics import evaluate_tflite

    images = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 1)).astype(np.float32)
    split, names = (images, np.arange(8) % 10), [str(i) for i in range(10)]
    assert evaluate_tflite(alive, split, names).xnnpack and not evaluate_tflite(dead, split, names).xnnpack
