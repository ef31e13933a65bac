"""Benchmark v2 stage 1: the configuration, the run clock across sessions, fronts, re-scoring to a fixed
point, hypervolume at the fixed reference and the finalist rules (docs/benchmark_v2_protocol.md)."""

from __future__ import annotations

import json

import pytest

from benchmarks.v2 import analysis
from benchmarks.v2.config import HypervolumeReference, V2ConfigError, load_v2_config, study_name
from benchmarks.v2.stage1 import HEARTBEAT_S, RunClock, Session, pending_batches, unit_order, write_json

REFERENCE = HypervolumeReference(accuracy=0.1, latency_ms_p50=1.0, size_bytes=1000)


def _row(trial, accuracy, latency, *, size=100, source="trained", clock_s=10.0, counted=True, arch=None):
    return {"trial": trial, "architecture": arch or f"arch{trial}", "accuracy": accuracy, "latency_ms_p50": latency,
            "size_bytes": size, "feasible": True, "complete": True, "accuracy_source": source, "clock_s": clock_s,
            "counted": counted}


def test_the_shipped_configs_load_and_bad_ones_name_the_key(tmp_path):
    cpu = load_v2_config("benchmarks/v2/cpu.yaml")
    assert cpu.minutes_per_run == 22 and cpu.seeds == (0, 1, 2) and len(cpu.strategies) == 4
    assert cpu.search_config("nsga2+early_stopping", 1, tmp_path)["early_stopping"]["rungs"] == [1]
    assert cpu.search_config("nsga2+supernet", 2, tmp_path)["evaluator"]["name"] == "supernet"
    assert cpu.search_config("random", 2, tmp_path)["study"] == {"name": "random-seed2", "runs_dir": str(tmp_path),
                                                                  "seed": 2}
    smoke = load_v2_config("benchmarks/v2/smoke.yaml")
    assert smoke.search["dataset"]["name"] == "digits"  # a smoke run never touches Fashion-MNIST
    bad = tmp_path / "bad.yaml"
    text = (tmp_path / "ok.yaml")
    text.write_text(open("benchmarks/v2/smoke.yaml").read())
    bad.write_text(text.read_text().replace("nsga2+supernet", "nsga2+magic"))
    with pytest.raises(V2ConfigError, match=r"stage1.strategies: \['nsga2\+magic'\] not available"):
        load_v2_config(bad)
    bad.write_text(text.read_text().replace("minutes_per_run: 2.5", "minutes_per_run: -1"))
    with pytest.raises(V2ConfigError, match="stage1.minutes_per_run"):
        load_v2_config(bad)
    with pytest.raises(V2ConfigError, match="cannot read"):
        load_v2_config(tmp_path / "missing.yaml")


def test_runs_alternate_cores_and_seeds_shift_them():
    config = load_v2_config("benchmarks/v2/cpu.yaml")
    order = unit_order(config)
    assert order[:4] == [("random", 0, 0), ("nsga2", 0, 1), ("nsga2+early_stopping", 0, 0), ("nsga2+supernet", 0, 1)]
    assert order[4:6] == [("random", 1, 1), ("nsga2", 1, 0)]


def test_the_run_clock_adds_sessions_and_places_trials_on_it(tmp_path):
    path = tmp_path / "clock.json"
    path.write_text(json.dumps({"sessions": [{"started": 1000.0, "heartbeat": 1300.0, "elapsed_before_s": 0.0},
                                             {"started": 5000.0, "heartbeat": 5100.0, "elapsed_before_s": 300.0}]}))
    clock = RunClock(path)
    assert clock.elapsed_s == 400.0
    assert clock.on_clock_s(1200.0) == 200.0
    assert clock.on_clock_s(5050.0) == 350.0  # 300 s of the first session + 50 s into the second
    assert clock.on_clock_s(3000.0) is None  # between sessions: not on the clock
    assert clock.on_clock_s(1300.0 + HEARTBEAT_S / 2) == pytest.approx(300 + HEARTBEAT_S / 2)
    clock.start()
    clock.stop()
    again = RunClock(path)
    assert len(again.sessions) == 3 and again.sessions[2].elapsed_before_s == 400.0
    assert Session(10.0, 15.0, 3.0).elapsed_after_s == 8.0


def test_candidates_keep_counted_complete_first_of_each_architecture():
    rows = [_row(0, 0.8, 0.5), _row(1, 0.9, 0.4, counted=False), _row(2, 0.7, 0.3, arch="arch0"),
            _row(3, None, 0.2), _row(4, 0.6, 0.2, clock_s=500.0)]
    assert [r["trial"] for r in analysis.candidates(rows)] == [0, 4]
    assert [r["trial"] for r in analysis.candidates(rows, until_s=100.0)] == [0]


def test_hypervolume_at_the_fixed_reference_by_hand():
    rows = [_row(0, 0.9, 0.5), _row(1, 0.6, 0.2), _row(2, 0.05, 0.1), _row(3, 0.95, 1.5)]
    accuracy = [r["accuracy"] for r in rows]
    # Points beyond the reference (chance accuracy, slower than 1 ms) add nothing.
    # Union of [0.1, 0.9] x [0.5, 1.0] and [0.1, 0.6] x [0.2, 1.0]: 0.8*0.5 + 0.5*0.3
    assert analysis.hypervolume(rows, accuracy, REFERENCE) == pytest.approx(0.8 * 0.5 + 0.5 * 0.3)
    assert analysis.curve(rows, [0.1, 1.0], REFERENCE) == [0.0, pytest.approx(0.55)]


def test_rescoring_reaches_a_front_of_proxy_trained_accuracies():
    # The supernet over-rates trial 1, which hides trial 2; re-scoring 1 uncovers 2, which is re-scored next.
    rows = [_row(0, 0.70, 0.50), _row(1, 0.95, 0.30, source="inherited"), _row(2, 0.90, 0.35, source="inherited"),
            _row(3, 0.50, 0.40, source="inherited")]
    rescored: dict[str, float] = {}
    rounds = []
    while pending := analysis.pending_rescores(rows, rescored):
        rounds.append(pending)
        truth = {"arch1": 0.60, "arch2": 0.85, "arch3": 0.40}
        rescored.update({arch: truth[arch] for arch in pending})
    assert rounds == [["arch1"], ["arch2"]]
    front = analysis.rescored_front(rows, rescored)
    assert [(r["trial"], r["accuracy_proxy"]) for r in front] == [(1, 0.60), (2, 0.85)]
    finals = analysis.final_hypervolumes(rows, rescored, REFERENCE)
    assert finals["primary"] == pytest.approx(analysis.hypervolume(front, [0.60, 0.85], REFERENCE))


def _model(trial, accuracy, latency, size=100):
    return {"study": "nsga2-seed0", "trial": trial, "architecture": f"arch{trial}", "accuracy": accuracy,
            "latency_ms": latency, "size_bytes": size}


def test_finalists_follow_the_protocol_rules():
    accuracy = {"big": 0.80, "small": 0.70}
    latency = {"big": 1.0, "small": 0.20}
    union = [_model(1, 0.60, 0.10), _model(2, 0.74, 0.18), _model(3, 0.76, 0.19), _model(4, 0.81, 0.35),
             _model(5, 0.83, 0.39), _model(6, 0.86, 0.90)]
    picks = analysis.finalists(union, accuracy, latency, big="big", small="small")
    # Knee first; target 1: latency <= 1.0 / 2.5, the two most accurate (5 is the knee already: counted
    # once, not refilled); target 2: no slower than 0.20 ms, the two most accurate; then the most
    # accurate model faster than "big".
    assert [(m["trial"], m["reason"]) for m in picks] == [
        (5, "knee"), (4, "target 1"), (3, "target 2"), (2, "target 2"), (6, "most accurate faster than big")]


def test_finalists_fill_a_target_nobody_meets_with_the_fastest_accurate_enough():
    accuracy = {"big": 0.80, "small": 0.70}
    latency = {"big": 0.50, "small": 0.10}  # nothing is within 0.50 / 2.5 = 0.2 ms or as fast as 0.10 ms
    union = [_model(1, 0.85, 0.30), _model(2, 0.90, 0.45), _model(3, 0.95, 0.70)]
    picks = analysis.finalists(union, accuracy, latency, big="big", small="small")
    reasons = [(m["trial"], m["reason"]) for m in picks]
    assert reasons[0][1] == "knee" and len(reasons) == len({t for t, _ in reasons})
    assert {t for t, r in reasons if r == "target 1"} | {reasons[0][0]} >= {1, 2}  # accurate enough, fastest
    assert analysis.finalists([], accuracy, latency, big="big", small="small") == []


def test_a_run_that_failed_is_not_taken_for_one_that_ran_out_of_time(tmp_path):
    from benchmarks.v2.stage1 import _check_exit

    log = tmp_path / "run.log"
    log.write_text("nas search: incomplete: only 6 of 100000 trials done (strategy.timeout_s 1320 s reached)\n")
    _check_exit("nsga2-seed0", "search", 1, log)  # the clock ran out: expected
    _check_exit("nsga2-seed0", "search", 0, log)
    log.write_text("nas search: stopped: the profiler is unreachable\n")
    with pytest.raises(RuntimeError, match="nsga2-seed0: nas search exited 1; nothing recorded as done"):
        _check_exit("nsga2-seed0", "search", 1, log)
    with pytest.raises(RuntimeError, match="nas supernet train exited 2"):
        _check_exit("nsga2-seed0", "supernet train", 2, log)


def test_stage1_goes_on_from_the_records_in_the_repository(tmp_path):
    """A run whose record is in ``units_dir`` is done whatever ``runs/`` holds; batches keep the order."""
    import dataclasses

    cpu = load_v2_config("benchmarks/v2/cpu.yaml", out_dir=tmp_path / "runs")
    assert str(cpu.stage1_units) == "benchmarks/results/v2_stage1_cpu_units"
    config = dataclasses.replace(cpu, units_dir=tmp_path / "units")
    order = unit_order(config)
    assert pending_batches(config) == [order[i:i + 2] for i in range(0, 12, 2)]
    for strategy, seed, _ in order[:3]:  # two whole batches... minus one run of the second
        write_json(config.stage1_units / f"{study_name(strategy, seed)}.json", {"done": True})
    assert pending_batches(config) == [[order[3]], *[order[i:i + 2] for i in range(4, 12, 2)]]
    smoke = load_v2_config("benchmarks/v2/smoke.yaml", out_dir=tmp_path)
    assert smoke.stage1_units == tmp_path / "smoke" / "stage1" / "units"  # no units_dir: under runs/
