"""nas.results.compare: dominance marking, speed-up and accuracy gain on a constructed case."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas.record.points import ModelPoint
from nas.results.compare import compare, side_by_side_rows, summary_lines
from nas.results.front import pareto_front


def _point(label: str, accuracy: float, latency_ms: float, size_bytes: int, **kw) -> ModelPoint:
    return ModelPoint(label=label, architecture=f"arch-{label}", accuracy=accuracy,
                      latency_ms_p50=latency_ms, size_bytes=size_bytes, **kw)


A = _point("trial 1", 0.90, 2.0, 100, trial_number=1)
B = _point("trial 2", 0.80, 1.0, 50, trial_number=2)
C = _point("trial 3", 0.86, 2.5, 400, trial_number=3)  # beats M1 on accuracy and latency, not size
M1 = _point("mobilenet_v2_0.5", 0.85, 3.0, 200, baseline="mobilenet_v2_0.5")
M2 = _point("mobilenet_v2_1.0", 0.95, 5.0, 300, baseline="mobilenet_v2_1.0")
M3 = _point("mobilenet_v2_0.35", 0.70, 0.5, 10, baseline="mobilenet_v2_0.35")


def test_dominance_speedup_and_gain() -> None:
    m1, m2, m3 = compare([A, B, C], [M1, M2, M3])

    assert m1.dominated_by == (A,)  # C is larger, B less accurate
    assert m1.fastest_as_accurate == A and m1.speedup == pytest.approx(3.0 / 2.0)
    assert m1.most_accurate_as_fast == A and m1.accuracy_gain == pytest.approx(0.05)

    assert m2.dominated_by == ()
    assert m2.fastest_as_accurate is None and m2.speedup is None
    assert m2.most_accurate_as_fast == A and m2.accuracy_gain == pytest.approx(-0.05)

    assert m3.dominated_by == ()
    assert m3.fastest_as_accurate == B and m3.speedup == pytest.approx(0.5)
    assert m3.most_accurate_as_fast is None and m3.accuracy_gain is None


def test_two_objective_dominance_ignores_size() -> None:
    (m1,) = compare([A, B, C], [M1], {"accuracy": "maximize", "latency_ms_p50": "minimize"})
    assert m1.dominated_by == (A, C)


def test_equal_points_do_not_dominate_but_count_as_equal_or_better() -> None:
    twin = _point("trial 9", M1.accuracy, M1.latency_ms_p50, M1.size_bytes, trial_number=9)
    (m1,) = compare([twin], [M1])
    assert m1.dominated_by == ()
    assert m1.speedup == pytest.approx(1.0) and m1.accuracy_gain == pytest.approx(0.0)


def test_side_by_side_rows_mark_both_sides() -> None:
    comparisons = compare([A, B, C], [M1, M2, M3])
    rows = {r.model: r for r in side_by_side_rows([A, B, C], comparisons)}
    assert rows["trial 1"].dominates == "mobilenet_v2_0.5"
    assert rows["trial 2"].dominates == "-"
    assert rows["mobilenet_v2_0.5"].dominated_by == "trial 1"
    assert rows["mobilenet_v2_0.5"].speedup_at_equal_accuracy == "1.50x (trial 1)"
    assert rows["mobilenet_v2_0.5"].accuracy_gain_at_equal_latency == "+5.0 pp (trial 1)"
    assert rows["mobilenet_v2_1.0"].speedup_at_equal_accuracy == "none as accurate"
    assert rows["mobilenet_v2_0.35"].accuracy_gain_at_equal_latency == "none as fast"
    assert rows["mobilenet_v2_0.5"].size_kib == pytest.approx(200 / 1024)
    ordered = [r.latency_ms_p50 for r in side_by_side_rows([A, B, C], comparisons)]
    assert ordered == sorted(ordered)
    lines = summary_lines(comparisons)
    assert lines[0].startswith("mobilenet_v2_0.5 (85.0 %, 3.00 ms): dominated by trial 1")


def test_front_and_bad_input() -> None:
    failed = _point("trial 4", 0.99, 0.1, 1, trial_number=4, feasible=False)
    pending = ModelPoint(label="trial 5", architecture="x", accuracy=None, latency_ms_p50=1.0, size_bytes=5)
    assert pareto_front([A, B, C, M1, failed, pending]) == [A, B]  # A dominates C and M1
    assert pareto_front([A, B, failed], feasible_only=False) == [failed]
    with pytest.raises(ValueError, match="no reference points"):
        compare([A], [])
    with pytest.raises(ValueError, match="trial 5 has no accuracy"):
        compare([A, pending], [M1])
    with pytest.raises(ValueError, match="unknown objective"):
        compare([A], [M1], {"flops": "minimize"})


def test_reference_grid_is_evaluated_once_and_cached(tmp_path) -> None:
    """The grid goes through the study's trial pipeline (here with the search tests' fake evaluator,
    no TensorFlow); the study's own MobileNetV2 trial is reused, the rest cached in the run folder."""
    from nas.record.study import open_study
    from nas.results import references as baselines_eval
    from tests.nas.constructed_study import make_trainable_study
    from tests.nas.fakes import FakeEvaluator

    name, runs = make_trainable_study(tmp_path)
    study = open_study(name, runs_dir=runs)
    fake = FakeEvaluator(channels=1, num_classes=10)
    names = baselines_eval.grid_names(None, ["0.35", "0.5"])
    first = baselines_eval.evaluate_grid(study=study, names=names, resolutions=[16], study_dir=runs / name,
                                         evaluator_factory=lambda: fake)
    assert [(p.label, source) for p, source in first] == [("mobilenet_v2_0.35", "study trial 0"),
                                                          ("mobilenet_v2_0.5", "evaluated")]
    assert len(fake.train_calls) == 1 and "-cls10" in fake.train_calls[0]
    assert first[0][0].accuracy == 0.5  # the study trial's own numbers
    assert first[1][0].baseline == "mobilenet_v2_0.5" and first[1][0].accuracy is not None

    again = baselines_eval.evaluate_grid(study=study, names=names, resolutions=[16], study_dir=runs / name,
                                         evaluator_factory=lambda: fake)
    assert [source for _, source in again] == ["study trial 0", "cache"]
    assert len(fake.train_calls) == 1  # nothing re-evaluated
    assert sorted(p.label for p in baselines_eval.load_cached(runs / name)) == ["mobilenet_v2_0.35", "mobilenet_v2_0.5"]

    # two resolutions: labels carry the size, and a new resolution is a new evaluation
    both = baselines_eval.evaluate_grid(study=study, names=names[:1], resolutions=[16, 24], study_dir=runs / name,
                                        evaluator_factory=lambda: fake)
    assert [(p.label, source) for p, source in both] == [("mobilenet_v2_0.35@16px", "study trial 0"),
                                                         ("mobilenet_v2_0.35@24px", "evaluated")]
    with pytest.raises(ValueError, match="unknown baseline"):
        baselines_eval.grid_names(["resnet_50"], None)


def test_a_reference_that_dominates_a_discovered_model_is_reported() -> None:
    strong = _point("mobilenet_v2_0.75", 0.81, 0.9, 45, baseline="mobilenet_v2_0.75")  # beats B everywhere
    (c,) = compare([A, B], [strong])
    assert c.dominates == (B,) and c.dominated_by == ()
    rows = {r.model: r for r in side_by_side_rows([A, B], [c])}
    assert rows["trial 2"].dominated_by == "mobilenet_v2_0.75"
    assert rows["mobilenet_v2_0.75"].dominates == "trial 2"
    assert "it dominates trial 2" in summary_lines([c])[0]


def test_nas_compare_on_the_tiny_search(tiny_search_study, tmp_path, capsys) -> None:
    """EfficientNet-B0 evaluated through the study's real pipeline and cached; MobileNetV2 0.35 taken
    from the study's reference trial; the printed dominance agrees with the numbers."""
    import json
    import time

    from nas.cli import main
    from nas.record.points import point_from_attrs
    from nas.results.front import point_dominates
    from tests.nas.conftest import copy_study

    assert tiny_search_study["exit_code"] == 0
    info = copy_study(tiny_search_study, tmp_path)
    args = ["compare", "--study", "tiny", "--runs-dir", str(info["runs_dir"]),
            "--baseline", "mobilenet_v2_0.35", "--baseline", "efficientnet_b0", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sources"] == {"mobilenet_v2_0.35": "study trial 0", "efficientnet_b0": "evaluated"}
    cached = json.loads((info["runs_dir"] / "tiny" / "baselines" / "efficientnet_b0_r16" / "result.json").read_text())
    assert cached["attrs"]["status"] == "complete" and cached["attrs"]["latency_ms"]["count"] >= 5
    assert cached["attrs"]["architecture"].startswith("in16x1-") and cached["attrs"]["architecture"].endswith("-cls10")
    assert not (Path(tiny_search_study["runs_dir"]) / "tiny" / "baselines").exists()  # the copy was used

    rows = {r["model"]: r for r in out["rows"]}
    points = {name: point_from_attrs(None, {**row, "size_bytes": round(row["size_kib"] * 1024)}, label=name)
              for name, row in rows.items()}
    for name, row in rows.items():
        if row["kind"] != "reference":
            continue
        beaten_by = sorted(d for d, r in rows.items() if r["kind"] == "discovered"
                           and point_dominates(points[d], points[name]))
        assert sorted(filter(None, row["dominated_by"].replace("-", "").split(", "))) == beaten_by

    start = time.perf_counter()
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["sources"]["efficientnet_b0"] == "cache" and time.perf_counter() - start < 20
    assert again["rows"] == out["rows"]

    assert main(["compare", "--study", "tiny", "--runs-dir", str(info["runs_dir"]), "--widths", "0.35"]) == 0
    printed = capsys.readouterr().out
    assert "mobilenet_v2_0.35: study trial 0" in printed and "speed-up at equal-or-better accuracy" in printed
    assert main(["compare", "--study", "tiny", "--runs-dir", str(info["runs_dir"]), "--baseline", "resnet_50"]) == 2
    assert "unknown baseline(s) resnet_50" in capsys.readouterr().err
