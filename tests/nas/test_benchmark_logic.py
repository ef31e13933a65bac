"""The search-vs-MobileNetV2 benchmark's pure logic on constructed points (no training, no TensorFlow):
target verdicts with their numbers, hypervolumes against one reference point, the config checks and
the Markdown section that a re-run replaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.search_vs_mobilenetv2 import logic
from benchmarks.search_vs_mobilenetv2.config import BenchmarkConfigError, load_benchmark_config
from benchmarks.search_vs_mobilenetv2.report import END, START, write_doc
from nas.record.points import ModelPoint

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "search_vs_mobilenetv2"


def point(label: str, accuracy: float | None, latency_ms: float, size_bytes: int = 1000, baseline: str | None = None) -> ModelPoint:
    return ModelPoint(label=label, architecture=label, accuracy=accuracy, latency_ms_p50=latency_ms,
                      size_bytes=size_bytes, baseline=baseline)


SEARCHED = [point("A", 0.92, 1.0), point("B", 0.90, 0.5), point("C", 0.85, 0.2)]


def test_speedup_met_picks_the_fastest_net_at_least_as_accurate() -> None:
    largest = point("mnv2_1.0", 0.90, 2.0, baseline="mobilenet_v2_1.0")
    check = logic.speedup_check(SEARCHED, largest, min_speedup=2.5)
    assert check.met and check.value == pytest.approx(4.0)  # B: 2.0 ms / 0.5 ms
    assert check.detail.startswith("B:") and check.needs is None


def test_speedup_missed_says_what_accuracy_is_needed_at_which_latency() -> None:
    largest = point("mnv2_1.0", 0.90, 1.0, baseline="mobilenet_v2_1.0")
    check = logic.speedup_check(SEARCHED, largest, min_speedup=2.5)
    assert not check.met and check.value == pytest.approx(2.0)
    # budget 1.0 / 2.5 = 0.4 ms; the best net that fast is C (85 %), 5 pp short of 90 %
    assert "<= 0.400 ms" in check.needs and "(C)" in check.needs and "5.00 pp short" in check.needs


def test_speedup_missed_when_no_net_is_as_accurate() -> None:
    largest = point("mnv2_1.0", 0.95, 3.0, baseline="mobilenet_v2_1.0")
    check = logic.speedup_check(SEARCHED, largest, min_speedup=2.5)
    assert not check.met and check.value is None
    assert "no searched net reaches" in check.detail and "(A)" in check.needs  # A: 92 % at 1.0 <= 1.2 ms


def test_accuracy_gain_at_equal_or_lower_latency() -> None:
    met = logic.accuracy_gain_check(SEARCHED, point("mnv2_0.35", 0.84, 0.3))
    assert met.met and met.value == pytest.approx(1.0)  # C: 85 % vs 84 %, in percentage points
    missed = logic.accuracy_gain_check(SEARCHED, point("mnv2_0.35", 0.86, 0.3))
    assert not missed.met and missed.value == pytest.approx(-1.0) and "1.00 pp more" in missed.needs
    too_slow = logic.accuracy_gain_check(SEARCHED, point("mnv2_0.35", 0.80, 0.1))
    assert not too_slow.met and too_slow.value is None and "fastest searched net takes 0.200 ms" in too_slow.needs


def test_equal_accuracy_at_equal_latency_is_not_a_gain() -> None:
    check = logic.accuracy_gain_check(SEARCHED, point("mnv2_0.35", 0.85, 0.2))
    assert not check.met and check.value == pytest.approx(0.0)


def test_hypervolumes_share_one_reference_point() -> None:
    objectives = logic.ACCURACY_LATENCY
    sets = {"searched": [point("s", 0.9, 1.0)], "random": [point("r", 0.5, 1.0)],
            "mobilenet_v2": [point("m", 0.8, 1.5)]}
    reference = logic.shared_reference(sets, objectives)
    assert reference == pytest.approx([0.0, 1.65])  # accuracy 0, 1.1 x the worst latency of the union
    hv = logic.hypervolumes(sets, [0.0, 2.0], objectives)
    assert hv == pytest.approx({"searched": 0.9, "random": 0.5, "mobilenet_v2": 0.4})
    assert logic.hypervolumes({"empty": []}, [0.0, 2.0], objectives) == {"empty": 0.0}
    check = logic.hypervolume_check(hv)
    assert check.met and check.value == pytest.approx(1.8)
    tie = logic.hypervolume_check({"searched": 0.5, "random": 0.5})
    assert not tie.met and tie.needs


def test_hypervolume_of_a_dominated_point_adds_nothing() -> None:
    objectives = logic.ACCURACY_LATENCY
    front = [point("a", 0.9, 1.0), point("b", 0.6, 0.5)]
    # a: 0.9 x (2 - 1) = 0.9; b adds 0.6 x (1 - 0.5) = 0.3
    assert logic.hypervolumes({"f": front}, [0.0, 2.0], objectives)["f"] == pytest.approx(1.2)
    dominated = front + [point("c", 0.5, 1.5)]
    assert logic.hypervolumes({"f": dominated}, [0.0, 2.0], objectives)["f"] == pytest.approx(1.2)


def test_target_checks_in_order_and_bad_input() -> None:
    largest = point("mnv2_1.0", 0.90, 2.0)
    smallest = point("mnv2_0.35", 0.84, 0.3)
    checks = logic.target_checks(SEARCHED, largest, smallest, {"searched": 2.0, "random": 1.0})
    assert [c.name for c in checks] == ["speedup_vs_largest", "accuracy_gain_vs_smallest", "hypervolume_vs_random"]
    assert all(c.met for c in checks)
    with pytest.raises(ValueError, match="no searched model"):
        logic.target_checks([], largest, smallest, {"searched": 0.0, "random": 0.0})
    with pytest.raises(ValueError, match="untrained has no accuracy"):
        logic.target_checks([point("untrained", None, 0.1)], largest, smallest, {"searched": 0.0, "random": 0.0})


def test_dominance_lists_searched_nets_beating_each_reference() -> None:
    refs = [point("mnv2_1.0", 0.90, 2.0), point("mnv2_0.35", 0.95, 0.1)]
    assert logic.dominance(SEARCHED, refs, logic.ACCURACY_LATENCY) == {"mnv2_1.0": ["A", "B"], "mnv2_0.35": []}


@pytest.mark.parametrize("name", ["smoke.yaml", "full.yaml"])
def test_shipped_configs_load(name: str) -> None:
    bench = load_benchmark_config(BENCH_DIR / name)
    assert set(bench.search_resolutions()) <= set(bench.grid_resolutions())
    assert 32 in bench.grid_resolutions() and {"0.35", "1.0"} <= set(bench.widths)
    assert bench.study_name(bench.searched_strategy) != bench.study_name(bench.control_strategy)


@pytest.mark.parametrize("text, message", [
    ("name: x\nn_trials: 4\nbaselines: {widths: ['0.35']}\nsearch: {search_space: {resolutions: [32]}}\n",
     "must include 1.0"),
    ("name: x\nn_trials: 4\nsearch: {strategy: {n_trials: 3}, search_space: {resolutions: [32]}}\n",
     "search.strategy.n_trials is set by the benchmark"),
    ("name: x\nn_trials: 0\nsearch: {search_space: {resolutions: [32]}}\n", "n_trials: expected an integer >= 1"),
    ("name: x\nn_trials: 4\nsearch: {}\n", "search.search_space.resolutions"),
    ("name: x\nn_trials: 4\ntrials: 3\n", "unknown key 'trials'"),
])
def test_bad_configs_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(text)
    with pytest.raises(BenchmarkConfigError, match=message):
        load_benchmark_config(path)


def test_doc_section_is_replaced_and_the_text_around_it_kept(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    write_doc(doc, f"{START}\nfirst\n{END}\n", title="Benchmarks")
    doc.write_text("intro written by hand\n\n" + doc.read_text().split("\n", 2)[2] + "\nnotes after\n")
    write_doc(doc, f"{START}\nsecond\n{END}\n", title="Benchmarks")
    text = doc.read_text()
    assert "intro written by hand" in text and "notes after" in text
    assert "second" in text and "first" not in text and text.count(START) == 1


class _FakeProfiler:
    """Returns a scripted p50 per file, one per call, like ``LocalProfiler.measure``'s result."""

    def __init__(self, p50s: dict[str, list[float]]) -> None:
        self.p50s = {k: list(v) for k, v in p50s.items()}
        self.calls: list[str] = []

    def measure(self, path, **params):
        self.calls.append(Path(path).name)
        if Path(path).name == "broken.tflite":
            raise RuntimeError("crashed")
        return {"latency_ms": {"p50": self.p50s[Path(path).name].pop(0), "count": params["runs"]}}


def test_remeasure_takes_the_median_of_rounds_and_one_number_per_architecture() -> None:
    from types import SimpleNamespace

    from benchmarks.search_vs_mobilenetv2.run import FinalEvaluator

    def trained(label: str, arch: str, file: str) -> ModelPoint:
        return ModelPoint(label=label, architecture=arch, accuracy=0.8, latency_ms_p50=9.0, size_bytes=1,
                          extra={"artifacts": {"tflite_int8": f"/nowhere/{file}"}})

    final = FinalEvaluator.__new__(FinalEvaluator)  # no study, dataset or cache needed for latency
    final.search_cfg = SimpleNamespace(profiler=SimpleNamespace(measure_kwargs=lambda: {"threads": 1, "runs": 50}))
    final._profiler = _FakeProfiler({"a.tflite": [3.0, 1.0, 2.0], "m.tflite": [5.0, 5.0, 8.0]})
    sets = {"searched": [trained("s", "arch-a", "a.tflite")], "random": [trained("r", "arch-a", "a-copy.tflite")],
            "mobilenet_v2": [trained("m", "arch-m", "m.tflite"), trained("x", "arch-x", "broken.tflite")]}
    out = final.remeasure(sets, repeats=3)
    # one file per architecture, rounds in turn over all of them
    assert final._profiler.calls == ["a.tflite", "m.tflite", "broken.tflite"] * 3
    assert out["searched"][0].latency_ms_p50 == out["random"][0].latency_ms_p50 == 2.0
    assert out["searched"][0].extra["latency_remeasured"]["p50_each_ms"] == [1.0, 2.0, 3.0]
    assert out["mobilenet_v2"][0].latency_ms_p50 == 5.0
    broken = out["mobilenet_v2"][1]
    assert broken.latency_ms_p50 == 9.0 and "crashed" in broken.extra["latency_remeasure_error"]


def test_hypervolume_by_trials_counts_only_the_first_n_trials() -> None:
    def trial(n: int, acc: float, lat: float) -> ModelPoint:
        return ModelPoint(label=f"t{n}", architecture=f"a{n}", accuracy=acc, latency_ms_p50=lat, size_bytes=1,
                          trial_number=n)

    studies = {"searched": [trial(1, 0.5, 1.0), trial(5, 0.9, 1.0)], "random": [trial(1, 0.5, 1.0)]}
    rows = logic.hypervolume_by_trials(studies, [2, 6], [0.0, 2.0], logic.ACCURACY_LATENCY)
    assert [r["trials"] for r in rows] == [2, 6]
    assert rows[0]["hypervolume"] == pytest.approx({"searched": 0.5, "random": 0.5})
    assert rows[1]["hypervolume"] == pytest.approx({"searched": 0.9, "random": 0.5})
    assert rows[1]["front_size"] == {"searched": 1, "random": 1}  # trial 5 dominates trial 1
