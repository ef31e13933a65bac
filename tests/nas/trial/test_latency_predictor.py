"""Latency predictor (issue 15): fit, device key, resumable calibration, CLI JSON, the predicted sources.

The profiler here is a fake whose latency is a known linear function of the kernels' work, so the
fit must recover it; the real measurements are in benchmarks/latency_predictor.py.
"""

from __future__ import annotations

import json
import random

import pytest

from nas.cli import main
from nas.config import load_config
from nas.config.settings import LatencySettings
from nas.trial.latency import PredictedLatency, VerifiedPrediction, latency_source_for
from nas.trial.objectives import ObjectiveSet
from nas.trial.pipeline import TrialPipeline
from nas.trial.predictor.calibrate import PREDICTOR_FILE, calibrate, random_architecture, read_samples
from nas.trial.predictor.kernels import Kernel, kernel_features, kernels_of
from nas.trial.predictor.model import DeviceKey, Predictor, PredictorError, Sample, fit
from search_spaces import Architecture, SearchSpace, arch_cost
from tests.nas.fakes import FakeEvaluator

KEY = DeviceKey("AMD EPYC", "x86_64", "ai_edge_litert", "2.3.0", 1, True)
RESULT_DEVICE = {"cpu_model": "AMD EPYC", "architecture": "x86_64"}


def _true_ms(kernels) -> float:
    """A synthetic device: 0.05 ms per model + MACs at 2 GMAC/s + 1 us per operator."""
    total = 0.05
    for kernel in kernels:
        for name, value in kernel_features(kernel).items():
            total += value * (1e-6 if name.endswith(":ops") else 5e-7 if "macs" in name else 1e-8)
    return total


def _fake_measure(item, profiler, params, *, seed=0):
    kernels = (item,) if isinstance(item, Kernel) else tuple(kernels_of(item))
    name = item.key() if isinstance(item, Kernel) else f"arch:{item.to_string()}"
    params_count = 0 if isinstance(item, Kernel) else arch_cost(item).params
    latency = _true_ms(kernels)
    result = {"latency_ms": {"p50": latency}, "device": RESULT_DEVICE,
              "runtime": {"name": "ai_edge_litert", "version": "2.3.0"}, "params": {"threads": 1, "use_xnnpack": True}}
    return result, Sample(name, kernels, latency, params_count + 5000, not isinstance(item, Kernel), params_count)


def _space():
    return SearchSpace.default().with_input(resolutions=(96, 160), channels=3, num_classes=1000)


def test_fit_recovers_a_linear_device_on_unseen_architectures(tmp_path):
    predictor = calibrate(_space(), None, {}, tmp_path, budget_minutes=1, max_samples=150, progress=False,
                          measure=_fake_measure)
    rng = random.Random(99)
    for _ in range(20):
        arch = random_architecture(_space(), rng)
        truth = _true_ms(kernels_of(arch))
        assert predictor.predict(arch).latency_ms_p50 == pytest.approx(truth, rel=0.02)
        assert predictor.predict_size_bytes(arch) == pytest.approx(arch_cost(arch).params + 5000, rel=0.01)
    assert Predictor.load(tmp_path / PREDICTOR_FILE) == predictor


def test_key_mismatch_is_refused_naming_the_key(tmp_path):
    predictor = fit([_fake_measure(k, None, {})[1] for k in kernels_of(random_architecture(_space(), random.Random(1)))],
                    KEY)
    with pytest.raises(PredictorError, match="threads: predictor 1 != 2"):
        predictor.check_key(DeviceKey("AMD EPYC", "x86_64", "ai_edge_litert", "2.3.0", 2, True))
    with pytest.raises(PredictorError, match="no latency predictor at"):
        Predictor.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(PredictorError, match="is not a latency predictor"):
        Predictor.load(tmp_path / "bad.json")


def test_unseen_kernels_warn_or_refuse(caplog):
    arch = random_architecture(_space(), random.Random(2))
    predictor = fit([_fake_measure(arch, None, {})[1]] * 3, KEY)
    odd = arch.with_input(resolution=96)
    swish = type(arch)(**{**arch.__dict__, "stem": type(arch.stem)(32, 7, 2, "swish")})
    with pytest.raises(PredictorError, match="never seen in calibration: .*stem:act_swish_elems"):
        predictor.predict(swish, unseen="refuse")
    assert predictor.predict(swish).unseen and "never seen" in caplog.text
    assert predictor.predict(odd).latency_ms_p50 > 0


def test_calibration_resumes_after_an_unreachable_agent(tmp_path):
    calls = []

    class Unreachable(Exception):
        pass

    def flaky(item, profiler, params, *, seed=0):
        calls.append(item)
        if len(calls) == 7:
            raise Unreachable("agent http://pi.local:8600 unreachable")
        return _fake_measure(item, profiler, params)

    with pytest.raises(Unreachable):
        calibrate(_space(), None, {}, tmp_path, budget_minutes=1, max_samples=20, progress=False, measure=flaky)
    kept = read_samples(tmp_path)
    assert len(kept) == 6
    with open(tmp_path / "samples.jsonl", "a") as handle:  # a kill mid-write leaves a torn line
        handle.write('{"name": "torn')
    predictor = calibrate(_space(), None, {}, tmp_path, budget_minutes=1, max_samples=20, progress=False,
                          measure=flaky)
    names = [s.name for s in read_samples(tmp_path)]
    assert predictor.samples == 20 and len(names) == len(set(names)) == 20 and names[:6] == [s.name for s in kept]


def test_calibration_on_another_device_is_refused(tmp_path):
    calibrate(_space(), None, {}, tmp_path, budget_minutes=1, max_samples=3, progress=False, measure=_fake_measure)

    def other(item, profiler, params, *, seed=0):
        result, sample = _fake_measure(item, profiler, params)
        return {**result, "params": {"threads": 4, "use_xnnpack": True}}, sample

    with pytest.raises(PredictorError, match="threads: predictor 1 != 4"):
        calibrate(_space(), None, {}, tmp_path, budget_minutes=1, max_samples=6, progress=False, measure=other)


def test_cli_predict_json(tmp_path, capsys):
    calibrate(_space(), None, {}, tmp_path, budget_minutes=1, max_samples=60, progress=False, measure=_fake_measure)
    path = str(tmp_path / PREDICTOR_FILE)
    assert main(["latency", "predict", "--arch", "mobilenet_v2_0.35", "--resolution", "96", "--predictor", path,
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["latency_ms_p50"] > 0 and out["architecture"].startswith("in96x3")
    (tmp_path / "cfg.yaml").write_text("profiler:\n  threads: 2\n")
    assert main(["latency", "predict", "--arch", "mobilenet_v2_0.35", "--predictor", path, "--json",
                 "--config", str(tmp_path / "cfg.yaml")]) == 2
    assert "threads: predictor 1 != 2" in capsys.readouterr().err
    assert main(["latency", "predict", "--arch", "nonsense", "--predictor", path]) == 2
    assert main(["latency", "predict", "--arch", "mobilenet_v2_0.35", "--predictor", str(tmp_path / "no.json")]) == 2
    assert "nas latency calibrate" in capsys.readouterr().err


def _search(tmp_path, source: str, **latency):
    calibrate(_space(), None, {}, tmp_path / "cal", budget_minutes=1, max_samples=60, progress=False,
              measure=_fake_measure)
    config = load_config(overrides={"latency.source": source, "latency.predictor": str(tmp_path / "cal" / PREDICTOR_FILE),
                                    **{f"latency.{k}": v for k, v in latency.items()}})
    evaluator = FakeEvaluator(channels=3, num_classes=1000)
    source_obj = latency_source_for(config)
    pipeline = TrialPipeline(evaluator, ObjectiveSet.from_config(config), config.constraints, tmp_path / "study",
                             latency_source=source_obj)
    space = _space().with_input(resolutions=(96,))
    rng = random.Random(5)
    records = [pipeline.run(random_architecture(space, rng), trial_number=i).record for i in range(12)]
    return evaluator, source_obj, records


def test_search_with_predicted_measures_nothing_before_training(tmp_path):
    evaluator, source, records = _search(tmp_path, "predicted")
    assert isinstance(source, PredictedLatency) and evaluator.cost_calls == []
    assert all(r.latency_source == "predicted" and r.latency_ms_p50 > 0 for r in records)
    # The trained model's size replaces the estimate; the estimate stays as the untrained size.
    for record in records:  # the gate's size is the fitted estimate; a trained model's real size replaces it
        estimate = source.predictor.predict_size_bytes(Architecture.from_string(record.architecture))
        assert estimate in (record.size_bytes, record.size_bytes_untrained)


def test_search_with_verification_records_residuals_and_refits_on_drift(tmp_path, caplog):
    evaluator, source, records = _search(tmp_path, "predicted+verify", verify_fraction=0.5, drift_threshold=0.05)
    assert isinstance(source, VerifiedPrediction)
    verified = [r for r in records if r.profiler.get("verified")]
    assert 0 < len(verified) == len(evaluator.cost_calls) < len(records)
    for record in verified:  # the fake evaluator's latency (MACs / 1e6) is not the fitted device's
        predicted = record.profiler["latency_ms_p50_predicted"]
        assert record.profiler["latency_residual"] == pytest.approx(record.latency_ms_p50 / predicted - 1)
    assert "latency predictor drifted" in caplog.text and source.predictor.scale != 1.0


def test_settings_without_predictor_are_refused():
    with pytest.raises(PredictorError, match="needs latency.predictor"):
        PredictedLatency(LatencySettings(source="predicted"))
