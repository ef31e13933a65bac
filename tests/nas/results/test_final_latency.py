"""Final numbers of compared models are measured (issue 15): `nas compare` and the export's comparison
measure front models whose latency a predictor gave, with the study's profiler (here the search
tests' fake evaluator: latency = MACs / 1e6), and cache the measurements."""

from __future__ import annotations

import io

import optuna
import pytest

from nas.cli._output import print_comparison
from nas.record.study import open_study
from nas.results.final_latency import FINAL_DIR, PREDICTED_KEY
from nas.results.references import compare_study, comparison_lines
from nas.results.study import StudyResults
from search_spaces import arch_cost
from search_spaces.architecture import Architecture
from tests.nas.constructed_study import SMALL_16PX, make_trainable_study, trial_attrs
from tests.nas.fakes import FakeEvaluator

E6_C16 = SMALL_16PX.replace("e3_c16", "e6_c16")
E6_C24 = SMALL_16PX.replace("e3_c16", "e6_c24")
HEAD32 = SMALL_16PX.replace("head_c64", "head_c32")
VERIFIED = SMALL_16PX.replace("k3_s1_e1_c8", "k5_s1_e1_c8")
PREDICTED = {"latency_source": "predicted", "profiler": {"measured_by": "predictor"}}


def _truth_ms(arch: str) -> float:
    return arch_cost(Architecture.from_string(arch)).macs / 1e6


def _predicted_study(tmp_path):
    """Trials 0-1 of make_trainable_study (reference and SMALL_16PX) with predicted latencies, and:
    2 the most accurate (stays on the front), 3 predicted fastest but really slower than 1 (leaves the
    front once measured), 4 predicted+verify unverified, dominated by 1's prediction but not by its
    measurement (enters, then is measured), 5 verified (measured in the search: not measured again)."""
    template_name, template_runs = make_trainable_study(tmp_path / "template")
    template = open_study(template_name, runs_dir=template_runs)
    name, runs = "predicted", tmp_path / "runs"
    (runs / name).mkdir(parents=True)
    study = optuna.create_study(study_name=name, storage=f"sqlite:///{runs / name / 'study.db'}",
                                directions=["maximize", "minimize", "minimize"])
    for key, value in template.user_attrs.items():  # the stored search config and objectives
        study.set_user_attr(key, value if key != "study_dir" else str((runs / name).resolve()))
    rows = [(template.trials[0].user_attrs["architecture"], 0.5, 0.5, 422_730, PREDICTED),
            (SMALL_16PX, 0.8, 0.01, 20_000, PREDICTED), (E6_C24, 0.85, 0.05, 30_000, PREDICTED),
            (E6_C16, 0.78, 0.005, 25_000, PREDICTED),
            (HEAD32, 0.6, 0.05, 21_000, {"latency_source": "predicted+verify", "profiler": {"verified": False}}),
            (VERIFIED, 0.55, 0.03, 10_000, {"latency_source": "predicted+verify", "profiler": {"verified": True}})]
    for number, (arch, acc, lat, size, source) in enumerate(rows):
        attrs = trial_attrs(number, acc, lat, size, "complete") | {"architecture": arch} | source
        study.add_trial(optuna.trial.create_trial(params={}, distributions={}, values=[acc, lat, size],
                                                  user_attrs=attrs))
    return name, runs


def test_compare_measures_predicted_front_models_and_the_reference(tmp_path):
    name, runs = _predicted_study(tmp_path)
    fake = FakeEvaluator(channels=1, num_classes=10)
    results = StudyResults.read(open_study(name, runs_dir=runs), runs_dir=runs)
    result = compare_study(results, widths=["0.35"], evaluator_factory=lambda: fake)
    front = {p.label: p for p in result.discovered}
    assert sorted(front) == ["trial 1", "trial 2", "trial 4", "trial 5"]  # trial 3 left once measured
    for label, arch in (("trial 1", SMALL_16PX), ("trial 2", E6_C24), ("trial 4", HEAD32)):
        assert front[label].latency_ms_p50 == pytest.approx(_truth_ms(arch)) and PREDICTED_KEY in front[label].extra
    assert front["trial 5"].latency_ms_p50 == 0.03  # verified in the search: its measurement is kept
    measured = sorted(fake.cost_calls)
    assert measured == sorted([SMALL_16PX, E6_C24, E6_C16, HEAD32, template_reference(results)])
    assert fake.train_calls == []  # the reference's accuracy is the study's; only its latency is measured
    (comparison,) = result.comparisons
    assert comparison.reference.latency_ms_p50 == pytest.approx(_truth_ms(template_reference(results)))
    out = result.to_dict()["latency_measured_for_comparison"]
    assert sorted(out) == ["trial 1", "trial 2", "trial 4"]  # the front's: trial 3 left it
    assert out["trial 1"] == {"predicted_ms": 0.01, "measured_ms": pytest.approx(_truth_ms(SMALL_16PX))}
    printed = io.StringIO()
    print_comparison(result, file=printed)
    assert "trial 1: latency predicted 0.010 ms in the search, measured 0.084 ms" in printed.getvalue()
    # Run again: every measurement comes from runs/<study>/final_latency/.
    compare_study(results, widths=["0.35"], evaluator_factory=lambda: fake)
    assert len(fake.cost_calls) == 5 and (runs / name / FINAL_DIR / "trial_4" / "result.json").is_file()


def template_reference(results: StudyResults) -> str:
    return results.study.trials[0].user_attrs["architecture"]


def test_the_export_comparison_measures_a_predicted_chosen_model(tmp_path):
    name, runs = _predicted_study(tmp_path)
    fake = FakeEvaluator(channels=1, num_classes=10)
    results = StudyResults.read(open_study(name, runs_dir=runs), runs_dir=runs)
    chosen = next(p for p in results.points if p.trial_number == 1)
    lines = comparison_lines(chosen, results, measure=lambda arch, folder: fake.measure_cost(
        Architecture.from_string(arch), folder))
    reference = template_reference(results)
    assert sorted(fake.cost_calls) == sorted([SMALL_16PX, reference])  # both sides measured
    speedup = _truth_ms(reference) / _truth_ms(SMALL_16PX)
    assert f"({100 * 0.5:.1f} %, {_truth_ms(reference):.2f} ms)" in lines[0] and f"{speedup:.2f}x" in lines[0]


def test_an_unreachable_profiler_stops_the_comparison_with_its_reason(tmp_path):
    name, runs = _predicted_study(tmp_path)
    fake = FakeEvaluator(channels=1, num_classes=10, fatal_after=0)
    results = StudyResults.read(open_study(name, runs_dir=runs), runs_dir=runs)
    with pytest.raises(RuntimeError, match="unreachable"):  # `nas compare` prints it as one line
        compare_study(results, widths=["0.35"], evaluator_factory=lambda: fake)
