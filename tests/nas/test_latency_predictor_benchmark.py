"""The latency predictor benchmark's logic without measuring (issue 15): the test spaces load and
differ from the calibrated one, test architectures avoid the calibration log, and the test phase
resumes after a kill keeping every measured round."""

from __future__ import annotations

import json

import pytest

from benchmarks import latency_predictor as bench
from nas.trial.predictor.kernels import kernels_of


class Killed(Exception):
    pass


class FakeProfiler:
    """p50 = the model's length in ms; killed (an exception) at its ``kill_at``-th call."""

    def __init__(self, kill_at: int | None = None) -> None:
        self.calls, self.kill_at = 0, kill_at

    def measure(self, model, **params):
        self.calls += 1
        if self.calls == self.kill_at:
            raise Killed("killed half way")
        return {"latency_ms": {"p50": float(len(model))}}


def test_test_spaces_are_not_the_calibrated_one():
    default = bench._space("default")
    archs = {name: bench.draw_test_architectures(name, 3, set()) for name in bench.TEST_SPACES}
    assert all(len(a) == 6 and {x.resolution for x in a} == {96, 160} for a in archs.values())
    fused = [k for a in archs["fused_heavy"] for k in kernels_of(a) if k.kind == "fused_mbconv"]
    assert any(k.in_channels >= 64 for k in fused)  # fused blocks where the default space has none
    assert bench._space("other_widths").width == (0.25, 1.4) and default.width != (0.25, 1.4)
    first = archs["default"][0]
    again = bench.draw_test_architectures("default", 3, {f"arch:{first.to_string()}"})
    assert first not in again and len(again) == 6


def test_test_phase_resumes_with_its_measured_rounds(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "_model", lambda arch, folder, index: b"x" * (index + 1))
    archs = bench.draw_test_architectures("fused_heavy", 2, set())
    with pytest.raises(Killed):
        bench.measured_rounds(archs, 3, FakeProfiler(kill_at=7), tmp_path)
    kept = (tmp_path / "rounds.jsonl").read_text().splitlines()
    assert len(kept) == 6 and [json.loads(line)["round"] for line in kept] == [0, 0, 0, 0, 1, 1]
    with open(tmp_path / "rounds.jsonl", "a") as handle:
        handle.write('{"round": 1, "ind')  # a kill mid-write
    profiler = FakeProfiler()
    rounds, _ = bench.measured_rounds(archs, 3, profiler, tmp_path)
    assert profiler.calls == 12 - 6  # only what was missing
    assert rounds == [[float(i + 1) for i in range(4)]] * 3


def test_summary_skips_unmeasurable_models_and_scores_the_median_round():
    from nas.trial.predictor.model import Prediction

    class Fixed:
        samples = 5
        kernel_model = "linear"
        selection = {"linear": 0.9}

        def predict(self, arch):
            return Prediction(10.0)

    archs = bench.draw_test_architectures("default", 2, set())
    rounds = [[10.0, 10.5, None, 20.0], [9.0, 10.5, 1.0, 20.0], [11.0, 12.0, 1.0, 20.0]]
    result = bench.summary(archs, rounds, Fixed())
    assert result["skipped_unmeasurable"] == 1 and result["archs"] == 3
    assert result["within_10pct"] == pytest.approx(2 / 3) and result["median_signed_error"] == pytest.approx(-0.05 / 1.05)
    assert result["kernel_model"] == "linear" and result["kernel_model_selection"] == {"linear": 0.9}


def test_a_fresh_test_seed_draws_other_architectures():
    first = [a.to_string() for a in bench.draw_test_architectures("default", 3, set())]
    assert [a.to_string() for a in bench.draw_test_architectures("default", 3, set(), bench.TEST_SEED)] == first
    fresh = [a.to_string() for a in bench.draw_test_architectures("default", 3, set(), 2026)]
    assert not set(fresh) & set(first)


def test_also_scores_a_second_calibration_on_the_same_rounds(tmp_path, monkeypatch):
    from nas.trial.predictor.calibrate import calibrate, read_samples
    from tests.nas.trial.test_latency_predictor import _fake_measure

    space = bench._space("default")
    for name, plan in (("a", "uniform"), ("b", "activation")):
        calibrate(space, None, {}, tmp_path / name, budget_minutes=1, max_samples=40, progress=False,
                  measure=_fake_measure, weighting=plan)
    assert {s.name for s in read_samples(tmp_path / "a")} != {s.name for s in read_samples(tmp_path / "b")}
    monkeypatch.setattr(bench, "_model", lambda arch, folder, index: b"x" * (index + 1))
    monkeypatch.setattr("edge_profiler.client.LocalProfiler", FakeProfiler)
    monkeypatch.setattr("sys.argv", ["latency_predictor.py", "--out", str(tmp_path / "out"), "--calibration",
                                     str(tmp_path / "a"), "--recheck", "0", "--also", str(tmp_path / "b"),
                                     "--archs", "2", "--rounds", "1", "--test-seed", "7"])
    bench.main()
    first = json.loads((tmp_path / "out" / "result_default_seed7.json").read_text())
    also = json.loads((tmp_path / "out" / "result_default_seed7_also.json").read_text())
    assert [a["measured"] for a in first["per_arch"]] == [a["measured"] for a in also["per_arch"]]  # one truth
    assert also["calibration"] == str(tmp_path / "b") and first["calibration"] == str(tmp_path / "a")
    used = {s.name for folder in ("a", "b") for s in read_samples(tmp_path / folder)}
    assert not {f"arch:{a['arch']}" for a in first["per_arch"]} & used
    monkeypatch.setattr("sys.argv", ["latency_predictor.py", "--calibration", str(tmp_path / "a"),
                                     "--also", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit):
        bench.main()
