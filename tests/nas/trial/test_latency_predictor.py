"""Latency predictor (issue 15): fit, device key, resumable calibration, CLI JSON, the predicted sources.

The profiler here is a fake whose latency is a known linear function of the kernels' work, so the
fit must recover it; the real measurements are in benchmarks/latency_predictor.py.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import statistics

import pytest

from nas.cli import main
from nas.config import load_config
from nas.config.settings import LatencySettings
from nas.trial.latency import (
    REFIT_DIR,
    REFIT_FILE,
    VERIFIED_FILE,
    PredictedLatency,
    VerifiedPrediction,
    latency_source_for,
)
from nas.trial.objectives import ObjectiveSet
from nas.trial.pipeline import TrialPipeline
from nas.trial.predictor.calibrate import PREDICTOR_FILE, calibrate, random_architecture, read_samples
from nas.trial.predictor.kernels import Kernel, kernel_features, kernels_of
from nas.trial.predictor.model import DeviceKey, Predictor, PredictorError, Sample, fit, refit_on_models
from nas.trial.protocol import CostMeasurement
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


def _in_model_measure(item, profiler, params, *, seed=0):
    """A device where a kernel inside a whole model costs 1.3x what it costs alone (as on a quiet x86 core)."""
    result, sample = _fake_measure(item, profiler, params, seed=seed)
    if sample.whole_model:
        sample = dataclasses.replace(sample, latency_ms_p50=0.05 + 1.3 * (sample.latency_ms_p50 - 0.05))
    return result, sample


def test_the_second_stage_fits_whole_models_where_kernels_alone_mislead(tmp_path):
    predictor = calibrate(_space(), None, {}, tmp_path, budget_minutes=1, max_samples=300, progress=False,
                          measure=_in_model_measure)
    samples = read_samples(tmp_path)
    assert sum(s.whole_model for s in samples) >= 10  # enough whole models for the second stage
    first_stage = dataclasses.replace(fit([s for s in samples if not s.whole_model], KEY), key=predictor.key)
    rng, errors, kernel_errors = random.Random(7), [], []
    for _ in range(20):
        arch = random_architecture(_space(), rng)
        truth = 0.05 + 1.3 * (_true_ms(kernels_of(arch)) - 0.05)
        errors.append(predictor.predict(arch).latency_ms_p50 / truth - 1)
        kernel_errors.append(first_stage.predict(arch).latency_ms_p50 / truth - 1)
    assert max(abs(e) for e in errors) < 0.05
    assert statistics.median(kernel_errors) < -0.15  # what the kernels alone would predict: ~23 % too fast


def _bent_ms(kernels) -> float:
    """A device whose time per MAC is not linear in the work: channels fill 16-wide vector lanes, so 24
    channels cost what 32 do (as on XNNPACK's int8 kernels), and a whole model costs 1.2x its kernels alone."""
    total = 0.05
    for k in kernels:
        lanes = 16 * math.ceil(k.out_channels / 16) / k.out_channels
        for name, value in kernel_features(k).items():
            total += value * (1e-6 if name.endswith(":ops") else 5e-7 * lanes if "macs" in name else 1e-8)
    return total if len(kernels) == 1 else 0.05 + 1.2 * (total - 0.05)


def _bent_measure(item, profiler, params, *, seed=0):
    result, sample = _fake_measure(item, profiler, params, seed=seed)
    return result, dataclasses.replace(sample, latency_ms_p50=_bent_ms(sample.kernels))


def test_the_trees_are_chosen_where_time_per_mac_bends_and_survive_a_save_and_a_refit(tmp_path):
    predictor = calibrate(_space(), None, {}, tmp_path, budget_minutes=1, max_samples=300, progress=False,
                          measure=_bent_measure)
    assert predictor.kernel_model == "trees" and predictor.selection["trees"] > predictor.selection["linear"]
    linear = dataclasses.replace(predictor, trees=None, trees_multipliers={})
    rng = random.Random(11)
    archs = [random_architecture(_space(), rng) for _ in range(30)]
    errors = [abs(predictor.predict(a).latency_ms_p50 / _bent_ms(kernels_of(a)) - 1) for a in archs]
    assert sum(e <= 0.10 for e in errors) >= 27
    linear_errors = [abs(linear.predict(a).latency_ms_p50 / _bent_ms(kernels_of(a)) - 1) for a in archs]
    assert statistics.median(linear_errors) > 2 * statistics.median(errors)
    loaded = Predictor.load(tmp_path / PREDICTOR_FILE)
    assert loaded == predictor and loaded.predict(archs[0]) == predictor.predict(archs[0])
    measured = [(tuple(kernels_of(a)), 1.5 * _bent_ms(kernels_of(a))) for a in archs[:20]]
    refit = refit_on_models(predictor, measured, source="cal")
    assert refit.kernel_model == "trees"

    def drifted_errors(p):
        return [abs(p.predict(a).latency_ms_p50 / (1.5 * _bent_ms(kernels_of(a))) - 1) for a in archs[20:]]

    assert statistics.median(drifted_errors(refit)) < 0.05 and statistics.median(drifted_errors(predictor)) > 0.3


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
                                    "study.runs_dir": str(tmp_path / "runs"),
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
    assert "latency predictor drifted" in caplog.text and source.predictor.refit_measurements >= 3


def test_settings_without_predictor_are_refused():
    with pytest.raises(PredictorError, match="needs latency.predictor"):
        PredictedLatency(LatencySettings(source="predicted"))


class DriftingDevice(FakeEvaluator):
    """The synthetic device of :func:`_true_ms` whose latency is multiplied by ``factor`` (per kernel
    kind: ``kinds``; all kinds when empty) from its ``after``-th measurement on (thermal throttling,
    a governor change, a neighbour's load)."""

    def __init__(self, *, after: int, factor: float, kinds: tuple[str, ...] = ()) -> None:
        super().__init__(channels=3, num_classes=1000)
        self.after, self.factor, self.kinds = after, factor, kinds

    def truth_ms(self, arch, *, drifted: bool) -> float:
        return sum(_true_ms([k]) - 0.05 for k in kernels_of(arch) if not drifted or not self._drifts(k)) + 0.05 + sum(
            self.factor * (_true_ms([k]) - 0.05) for k in kernels_of(arch) if drifted and self._drifts(k))

    def _drifts(self, kernel) -> bool:
        return not self.kinds or kernel.kind in self.kinds

    def measure_cost(self, arch, trial_dir):
        self.cost_calls.append(arch.to_string())
        latency = self.truth_ms(arch, drifted=len(self.cost_calls) > self.after)
        return CostMeasurement(size_bytes=arch_cost(arch).params + 5000, latency_ms={"p50": latency},
                               device=RESULT_DEVICE, profiler={"measured_by": "fake", "params": {"threads": 1}})


def _drifting_search(tmp_path, device, trials: int, *, first: int = 0):
    config = load_config(overrides={"latency.source": "predicted+verify", "latency.verify_fraction": 1.0,
                                    "latency.drift_threshold": 0.1, "study.runs_dir": str(tmp_path / "runs"),
                                    "latency.predictor": str(tmp_path / "cal" / PREDICTOR_FILE)})
    source = latency_source_for(config)
    pipeline = TrialPipeline(device, ObjectiveSet.from_config(config), config.constraints,
                             config.study.study_dir, latency_source=source)
    space, rng = _space().with_input(resolutions=(96, 160)), random.Random(11 + first)
    records = [pipeline.run(random_architecture(space, rng), trial_number=first + i).record for i in range(trials)]
    return config, source, records


def _calibrated(tmp_path) -> bytes:
    calibrate(_space(), None, {}, tmp_path / "cal", budget_minutes=1, max_samples=150, progress=False,
              measure=_fake_measure)
    return (tmp_path / "cal" / PREDICTOR_FILE).read_bytes()


def test_drift_refits_persists_beside_the_study_and_later_predictions_move_to_the_truth(tmp_path, caplog):
    calibration = _calibrated(tmp_path)
    device = DriftingDevice(after=6, factor=1.6)
    config, source, records = _drifting_search(tmp_path, device, 30)
    residuals = [abs(r.profiler["latency_residual"]) for r in records if r.profiler.get("verified")]
    assert len(residuals) == 30 and max(residuals[:6]) < 0.05  # calibrated device: right
    assert min(residuals[6:9]) > 0.4  # the device is 1.6x slower: the calibrated predictor is off
    assert max(residuals[-10:]) < 0.05  # after the refit the predictions follow the drifted device
    assert "latency predictor drifted" in caplog.text and "since the drift began" in caplog.text
    refit_path = config.study.study_dir / REFIT_DIR / REFIT_FILE
    refit = Predictor.load(refit_path)
    assert refit == source.predictor and refit.refitted_from == str((tmp_path / "cal" / PREDICTOR_FILE).resolve())
    assert (tmp_path / "cal" / PREDICTOR_FILE).read_bytes() == calibration  # the user's file is never written
    assert records[-1].profiler["predictor"] == str(refit_path)
    # Resume: a new run of the study starts from the refit and the verified measurements it left.
    caplog.clear()
    _, resumed, later = _drifting_search(tmp_path, device, 5, first=30)
    assert resumed.predictor == refit and len(resumed.verified) == 35
    assert all(abs(r.profiler["latency_residual"]) < 0.05 for r in later) and "drifted" not in caplog.text
    assert len((refit_path.parent / VERIFIED_FILE).read_text().splitlines()) == 35


def test_refit_separates_a_kernel_kind_that_drifted_alone(tmp_path):
    _calibrated(tmp_path)
    device = DriftingDevice(after=0, factor=2.0, kinds=("fused_mbconv",))
    calibrated = Predictor.load(tmp_path / "cal" / PREDICTOR_FILE)
    rng = random.Random(3)
    archs = [random_architecture(_space(), rng) for _ in range(40)]
    measured = [(tuple(kernels_of(a)), device.truth_ms(a, drifted=True)) for a in archs[:20]]
    refit = refit_on_models(calibrated, measured, source="cal")
    rescaled = calibrated.with_scale(sorted(m / calibrated.predict_kernels(k).latency_ms_p50 for k, m in measured)[10])

    def errors(predictor):  # median and largest |relative error| on the 20 architectures not refitted on
        found = [abs(predictor.predict(a).latency_ms_p50 / device.truth_ms(a, drifted=True) - 1) for a in archs[20:]]
        return statistics.median(found), max(found)

    assert errors(refit)[0] < 0.03 < errors(rescaled)[0] < errors(calibrated)[0]
    assert errors(refit)[1] < 0.5 * errors(rescaled)[1]


def test_a_refit_of_another_calibration_is_not_used_on_resume(tmp_path, caplog):
    _calibrated(tmp_path)
    config, source, _ = _drifting_search(tmp_path, DriftingDevice(after=0, factor=1.6), 12)
    refit_path = config.study.study_dir / REFIT_DIR / REFIT_FILE
    stale = dataclasses.replace(Predictor.load(refit_path), refitted_from="/elsewhere/predictor.json")
    stale.save(refit_path)
    _, resumed, _ = _drifting_search(tmp_path, DriftingDevice(after=99, factor=1.0), 0, first=12)
    assert resumed.predictor.refitted_from == "" and "was refitted from another predictor" in caplog.text
    with pytest.raises(PredictorError, match="no verified measurements"):
        refit_on_models(resumed.predictor, [])


def _verifier(tmp_path, fraction: float) -> VerifiedPrediction:
    config = load_config(overrides={"latency.source": "predicted+verify", "latency.verify_fraction": fraction,
                                    "latency.drift_threshold": 10.0, "study.runs_dir": str(tmp_path / "runs"),
                                    "latency.predictor": str(tmp_path / "cal" / PREDICTOR_FILE)})
    return latency_source_for(config)


def test_a_resumed_search_judges_the_front_against_the_predictions_before_it(tmp_path):
    _calibrated(tmp_path)
    device = DriftingDevice(after=10**6, factor=1.0)
    archs = sorted((random_architecture(_space(), random.Random(seed)) for seed in range(12)),
                   key=lambda a: arch_cost(a).macs)
    smallest, largest = archs[0], archs[-1]
    first = _verifier(tmp_path, 0.0)
    first.measure_cost(device, smallest, tmp_path)  # the first candidate may always enter the front
    assert device.cost_calls == [smallest.to_string()]
    resumed = _verifier(tmp_path, 0.0)
    assert smallest.to_string() in resumed.points
    predicted = resumed.predict_cost(largest)
    assert predicted.latency_ms_p50 >= resumed.points[smallest.to_string()][0]
    assert predicted.size_bytes >= resumed.points[smallest.to_string()][1]
    resumed.measure_cost(device, largest, tmp_path)  # dominated by the smallest: predicted only
    assert device.cost_calls == [smallest.to_string()]


def test_a_retried_trial_replaces_its_measurement_it_does_not_count_twice(tmp_path):
    _calibrated(tmp_path)
    device = DriftingDevice(after=1, factor=1.3)
    arch, other = (random_architecture(_space(), random.Random(seed)) for seed in (1, 2))
    source = _verifier(tmp_path, 1.0)
    for candidate in (arch, other, arch):  # ``arch`` is retried after ``other``
        assert source.measure_cost(device, candidate, tmp_path).profiler["verified"] is True
    assert [latency for _, latency in source.verified] == [
        device.truth_ms(other, drifted=True), device.truth_ms(arch, drifted=True)]
    resumed = _verifier(tmp_path, 1.0)
    assert resumed.verified == source.verified and set(resumed.points) == {arch.to_string(), other.to_string()}


def test_the_activation_weighted_plan_measures_more_large_kernels_early():
    from nas.trial.predictor.calibrate import plan

    def large_share(weighting: str) -> float:
        kernels = [item for _, item in plan(_space(), seed=0, limit=450, weighting=weighting)
                   if isinstance(item, Kernel)][:400]
        assert len({k.key() for k in kernels}) == 400
        return sum(k.in_px * k.in_px * k.in_channels * k.expansion > 200_000 for k in kernels) / len(kernels)

    assert large_share("activation") > 1.4 * large_share("uniform")
    items = list(plan(_space(), seed=0, limit=30, weighting="activation"))
    assert items == list(plan(_space(), seed=0, limit=30, weighting="activation"))  # deterministic: resumable
    assert sum(isinstance(item, Architecture) for _, item in items) == 3  # every 10th sample a whole model
    with pytest.raises(ValueError, match="calibration plan 'big' is not one of uniform, activation"):
        next(plan(_space(), weighting="big"))
