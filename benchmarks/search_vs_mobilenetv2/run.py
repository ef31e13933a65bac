"""Searched nets against the MobileNetV2 family on Fashion-MNIST, side by side (issue 8).

    python -m benchmarks.search_vs_mobilenetv2 --config benchmarks/search_vs_mobilenetv2/full.yaml

Phases, each resumable (running the same command again continues where it stopped):

1. Two `nas search` studies with the same config and trial count: NSGA-II (searched) and random
   search (control), advanced alternately in rounds so a stopped run still compares equal trials.
2. The MobileNetV2 width grid at 32 px and the search's resolutions, evaluated by the searched
   study's own pipeline (same data, proxy budget, int8 conversion, profiler, threads); cached by
   ``nas.results.references``.
3. The final table: the front models of both studies (chosen on the validation split) and every
   MobileNetV2 point, their int8 .tflite re-evaluated on the test split through the LiteRT
   interpreter and their latency re-measured with the same profiler settings; hypervolumes against
   one reference point; the targets; JSON, PNG and Markdown.

``--report-only`` skips phase 1 and new grid evaluations and reports what exists (marked partial).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.search_vs_mobilenetv2 import logic
from benchmarks.search_vs_mobilenetv2.config import BenchmarkConfig, load_benchmark_config

logger = logging.getLogger("search_vs_mobilenetv2")

DEFAULT_CONFIG = Path(__file__).with_name("full.yaml")


# ---- phase 1: the two studies ------------------------------------------------------------------


def search_config(bench: BenchmarkConfig, strategy: str, n_trials: int) -> Any:
    """The `nas search` config of one study: the shared YAML section plus name, strategy and trials."""
    from nas.config import load_config

    bench.bench_dir.mkdir(parents=True, exist_ok=True)
    shared = bench.bench_dir / "search_config.yaml"
    shared.write_text(yaml.safe_dump(bench.search, sort_keys=False), encoding="utf-8")
    return load_config(shared, [("study.name", bench.study_name(strategy)), ("study.runs_dir", str(bench.runs_dir)),
                                ("strategy.name", strategy), ("strategy.n_trials", n_trials)])


def run_searches(bench: BenchmarkConfig) -> None:
    """Advance both studies in rounds of ``round_trials`` until each holds ``n_trials`` results; the
    MobileNetV2 grid is evaluated after the first round."""
    from nas.record.study import StudyError, count_done
    from nas.strategies import run_search

    target = 0
    while target < bench.n_trials:
        target = min(bench.n_trials, target + bench.round_trials)
        for strategy in (bench.searched_strategy, bench.control_strategy):
            try:  # a resumed run skips rounds already done without rebuilding the evaluator
                if count_done(open_bench_study(bench, strategy).get_trials(deepcopy=False)) >= target:
                    continue
            except StudyError:
                pass
            start = time.perf_counter()
            summary = run_search(search_config(bench, strategy, target), progress="json", stream=sys.stdout)
            logger.info("%s: %d/%d trials done (round target %d, %.0f s, load %s)", summary.study_name,
                        summary.n_done, bench.n_trials, target, time.perf_counter() - start, _load())
        if target == min(bench.n_trials, bench.round_trials):
            # MobileNetV2 right after the first round: a run stopped early still has its references.
            mobilenet_grid(bench, open_bench_study(bench, bench.searched_strategy), evaluate_missing=True)


def open_bench_study(bench: BenchmarkConfig, strategy: str) -> Any:
    """One of the benchmark's studies. A study recorded by an older `nas` whose stored config the
    current ``nas.config.build_config`` rejects (a renamed key) gets the same settings re-recorded in
    the current schema, so ``nas.results.references`` can read it."""
    from nas.config import ConfigError, build_config
    from nas.record.study import StudyAttributes, open_study

    study = open_study(bench.study_name(strategy), None, bench.runs_dir)
    attributes = StudyAttributes.from_study(study)
    stored = attributes.config
    if stored:
        try:
            build_config(stored)
        except (ConfigError, KeyError) as exc:
            current = search_config(bench, strategy, bench.n_trials).as_dict()
            logger.warning("%s: stored config is in an older schema (%s); re-recording the benchmark's settings",
                           study.study_name, exc)
            attributes.replace(config=current).write(study)
    return study


# ---- phase 2: the MobileNetV2 grid -------------------------------------------------------------


def mobilenet_grid(bench: BenchmarkConfig, study: Any, *, evaluate_missing: bool) -> list[Any]:
    """MobileNetV2 points (validation numbers), evaluated like the searched study's trials."""
    from nas.record.points import study_dir
    from nas.results import references as baselines_eval

    folder = study_dir(study)
    if evaluate_missing:
        names = [f"mobilenet_v2_{w}" for w in bench.widths]
        pairs = baselines_eval.evaluate_grid(study=study, names=names, resolutions=bench.grid_resolutions(),
                                             study_dir=folder)
        for point, source in pairs:
            logger.info("%s: %s", point.label, source)
        return [point for point, _ in pairs]
    return [p for p in baselines_eval.load_cached(folder) if p.is_mobilenet_v2]


# ---- phase 3: test split, re-measured latency --------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class FinalEvaluator:
    """Test-split accuracy of int8 .tflite files (cached by content hash) and re-measured latency."""

    def __init__(self, bench: BenchmarkConfig, search_cfg: Any) -> None:
        self.bench = bench
        self.search_cfg = search_cfg
        self.cache_path = bench.bench_dir / "final" / "test_accuracy.json"
        self.cache: dict[str, Any] = (json.loads(self.cache_path.read_text(encoding="utf-8"))
                                      if self.cache_path.is_file() else {})
        self._datasets: dict[tuple[int, int], Any] = {}
        self._profiler = None

    def _dataset(self, resolution: int, channels: int) -> Any:
        from evaluators import load_dataset

        key = (resolution, channels)
        if key not in self._datasets:
            cfg = self.search_cfg.dataset
            data = load_dataset(cfg, resolution=resolution, channels=channels, batch_size=self.bench.test_batch_size)
            if data.test is None:
                raise RuntimeError(f"dataset {cfg.name} has no test split; the benchmark needs one")
            self._datasets[key] = data
        return self._datasets[key]

    def test_accuracy(self, point: Any) -> dict[str, Any]:
        from evaluators import evaluate_tflite
        from search_spaces.architecture import Architecture

        path = Path((point.extra.get("artifacts") or {}).get("tflite_int8", ""))
        if not path.is_file():
            raise RuntimeError(f"{point.label}: trained int8 model {path} is missing")
        digest = _sha256(path)
        if digest not in self.cache:
            arch = Architecture.from_string(point.architecture)
            data = self._dataset(arch.resolution, arch.channels)
            metrics = evaluate_tflite(path, data.test, data.class_names)
            self.cache[digest] = {"accuracy": metrics.accuracy, "f1_macro": metrics.f1_macro,
                                  "num_samples": metrics.num_samples, "seconds": metrics.seconds,
                                  "path": str(path)}
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            self.cache_path.write_text(json.dumps(self.cache, indent=1) + "\n", encoding="utf-8")
            logger.info("%s: test accuracy %.4f (%d images)", point.label, metrics.accuracy, metrics.num_samples)
        return self.cache[digest]

    def latency(self, point: Any) -> dict[str, Any]:
        from nas.trial.evaluation import make_profiler

        if self._profiler is None:
            self._profiler = make_profiler(self.search_cfg.profiler)
        path = Path(point.extra["artifacts"]["tflite_int8"])
        result = self._profiler.measure(path, **self.search_cfg.profiler.measure_kwargs())
        return {"latency_ms": result["latency_ms"], "load_1min": _load()[0]}

    def test_point(self, point: Any) -> Any:
        """``point`` with its test accuracy; the validation accuracy and search-time latency kept in ``extra``."""
        test = self.test_accuracy(point)
        extra = dict(point.extra) | {"accuracy_val": point.accuracy, "latency_ms_p50_search": point.latency_ms_p50,
                                     "test": test}
        return dataclasses.replace(point, accuracy=test["accuracy"], extra=extra)

    def remeasure(self, sets: dict[str, list[Any]], repeats: int) -> dict[str, list[Any]]:
        """Latency of every architecture again, same profiler settings, ``repeats`` rounds in turn over
        all of them (a burst of load then hits every model alike); the p50 shown is the median of the
        rounds' p50s. Int8 latency depends on the graph, not the weights, so an architecture found by
        both studies is measured once and gets one number (else noise alone would separate them).
        A model whose every measurement fails keeps its search-time number, flagged."""
        by_arch: dict[str, Any] = {}
        for points in sets.values():
            for point in points:
                by_arch.setdefault(point.architecture, point)
        samples: dict[str, list[dict[str, Any]]] = {arch: [] for arch in by_arch}
        errors: dict[str, str] = {}
        for round_index in range(repeats):
            for arch, point in by_arch.items():
                try:
                    samples[arch].append(self.latency(point))
                except Exception as exc:  # ProfilerError or a client error: recorded, the table goes on
                    errors[arch] = str(exc)
                    logger.warning("%s: latency re-measurement failed (%s)", point.label, exc)
            logger.info("latency round %d/%d over %d architectures done (load %s)", round_index + 1, repeats,
                        len(by_arch), _load())
        out: dict[str, list[Any]] = {}
        for kind, points in sets.items():
            out[kind] = []
            for point in points:
                measured = samples[point.architecture]
                if not measured:
                    out[kind].append(dataclasses.replace(point, extra=dict(point.extra) | {
                        "latency_remeasure_error": errors.get(point.architecture, "not measured")}))
                    continue
                p50s = sorted(m["latency_ms"]["p50"] for m in measured)
                median = float(np.median(p50s))
                record = {"p50_each_ms": p50s, "p50_median_ms": median, "runs_each": measured[0]["latency_ms"]["count"],
                          "load_1min": [m["load_1min"] for m in measured],
                          "measured_file": str(by_arch[point.architecture].extra["artifacts"]["tflite_int8"])}
                out[kind].append(dataclasses.replace(point, latency_ms_p50=median,
                                                     extra=dict(point.extra) | {"latency_remeasured": record}))
        return out


# ---- record ------------------------------------------------------------------------------------


def _load() -> tuple[float, float, float]:
    return tuple(round(v, 2) for v in os.getloadavg())  # type: ignore[return-value]


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {"host": platform.node(), "platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gb": memory_gb, "python": platform.python_version()}


def versions() -> dict[str, str]:
    from importlib import metadata

    from evaluators import runtime_versions

    out = runtime_versions()
    for dist in ("optuna", "numpy", "ray"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    out["git_commit"] = _git_commit()
    return out


def _git_commit() -> str:
    """HEAD of the checkout, ``+dirty`` when tracked files differ from it ("unknown" outside git)."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def study_record(study: Any, n_target: int) -> dict[str, Any]:
    """Trial counts and wall time (first trial start to last trial end) of one study."""
    from nas.record.study import count_done

    trials = study.get_trials(deepcopy=False)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    trial_s = [t.user_attrs.get("timings_s", {}).get("total") for t in trials]
    return {"study": study.study_name, "n_done": count_done(trials), "n_target": n_target,
            "n_trials_recorded": len(trials),
            "wall_time_s": (max(ends) - min(starts)).total_seconds() if starts and ends else None,
            "trial_time_s_total": round(sum(s for s in trial_s if s), 1)}


def sessions_file(bench: BenchmarkConfig) -> Path:
    return bench.bench_dir / "sessions.json"


def record_session(bench: BenchmarkConfig, entry: dict[str, Any]) -> list[dict[str, Any]]:
    path = sessions_file(bench)
    sessions = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    sessions.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sessions, indent=1) + "\n", encoding="utf-8")
    return sessions


def point_row(point: Any, kind: str) -> dict[str, Any]:
    remeasured = point.extra.get("latency_remeasured") or {}
    return {
        "kind": kind,
        "model": point.label,
        "accuracy_int8_test": point.accuracy,
        "accuracy_int8_val": point.extra.get("accuracy_val"),
        "latency_ms_p50": point.latency_ms_p50,
        "latency_ms_p50_search": point.extra.get("latency_ms_p50_search"),
        "latency_ms_p50_each_round": remeasured.get("p50_each_ms"),
        "load_1min_at_measure": remeasured.get("load_1min"),
        "latency_remeasure_error": point.extra.get("latency_remeasure_error"),
        "size_bytes": point.size_bytes,
        "params": point.params,
        "macs": point.macs,
        "architecture": point.architecture,
        "trial_number": point.trial_number,
    }


def _relabel(points: list[Any], prefix: str) -> list[Any]:
    return [dataclasses.replace(p, label=f"{prefix} #{p.trial_number}") for p in points]


def build_results(bench: BenchmarkConfig, *, report_only: bool, remeasure: bool) -> dict[str, Any]:
    """Phases 2 and 3 on whatever the studies hold; the JSON document of the benchmark."""
    from nas.record.points import OBJECTIVES, distinct, study_objectives, study_points
    from search_spaces.architecture import Architecture

    searched_study = open_bench_study(bench, bench.searched_strategy)
    control_study = open_bench_study(bench, bench.control_strategy)
    objectives = study_objectives(searched_study)
    fronts_val, discovered = {}, {}
    for key, study in (("searched", searched_study), ("random", control_study)):
        discovered[key] = [p for p in distinct(study_points(study)) if not p.baseline]
        fronts_val[key] = _relabel(logic.front_of(discovered[key], objectives), key)
    grid = mobilenet_grid(bench, searched_study, evaluate_missing=not report_only)
    multi_res = len({Architecture.from_string(p.architecture).resolution for p in grid}) > 1
    grid = [dataclasses.replace(p, label=p.baseline + (f"@{Architecture.from_string(p.architecture).resolution}px"
                                                       if multi_res else "")) for p in grid]
    cfg = search_config(bench, bench.searched_strategy, bench.n_trials)
    final = FinalEvaluator(bench, cfg)
    load_before = _load()
    test_sets = {name: [final.test_point(p) for p in points]
                 for name, points in (("searched", fronts_val["searched"]), ("random", fronts_val["random"]),
                                      ("mobilenet_v2", grid))}
    if remeasure:
        test_sets = final.remeasure(test_sets, bench.latency_repeats)
    load_after = _load()
    val_sets = {"searched": fronts_val["searched"], "random": fronts_val["random"], "mobilenet_v2": grid}

    def hv_block(sets: dict[str, list[Any]], objs: dict[str, str], reference: list[float] | None) -> dict[str, Any]:
        ref = reference or logic.shared_reference(sets, objs)
        return {"objectives": objs, "reference": dict(zip(objs, ref)),
                "hypervolume": logic.hypervolumes({k: logic.front_of(v, objs) for k, v in sets.items()}, ref, objs)}

    configured = bench.hypervolume_reference
    hv = {
        "test_3d": hv_block(test_sets, dict(OBJECTIVES),
                            [configured[k] for k in OBJECTIVES] if configured else None),
        "test_accuracy_latency": hv_block(test_sets, logic.ACCURACY_LATENCY,
                                          [configured[k] for k in logic.ACCURACY_LATENCY] if configured else None),
        "validation_3d": hv_block(val_sets, dict(OBJECTIVES), None),
    }
    checkpoints = sorted({*range(bench.round_trials, bench.n_trials + 1, bench.round_trials), bench.n_trials})
    hv_by_trials = logic.hypervolume_by_trials(discovered, checkpoints,
                                               list(hv["validation_3d"]["reference"].values()), dict(OBJECTIVES))
    checks = []
    if test_sets["searched"] and grid:
        for resolution in bench.search_resolutions():
            at_res = [p for p in test_sets["mobilenet_v2"]
                      if Architecture.from_string(p.architecture).resolution == resolution]
            largest = next((p for p in at_res if p.baseline == "mobilenet_v2_1.0"), None)
            smallest = next((p for p in at_res if p.baseline == "mobilenet_v2_0.35"), None)
            if largest is None or smallest is None:
                continue
            for check in logic.target_checks(test_sets["searched"], largest, smallest, hv["test_3d"]["hypervolume"],
                                             min_speedup=bench.min_speedup):
                checks.append({"resolution": resolution, **check.to_dict()})
    records = {"searched": study_record(searched_study, bench.n_trials),
               "random": study_record(control_study, bench.n_trials)}
    partial = (any(r["n_done"] < bench.n_trials for r in records.values())
               or len(grid) < len(bench.widths) * len(bench.grid_resolutions()))
    rows = [point_row(p, kind) for kind, points in test_sets.items() for p in points]
    rows.sort(key=lambda r: (r["kind"] != "searched", r["kind"] != "random", r["latency_ms_p50"]))
    search_dict = cfg.as_dict()
    return {
        "benchmark": "search_vs_mobilenetv2",
        "partial": partial,
        "config_file": str(bench.source),
        "search_config": {k: search_dict[k] for k in ("dataset", "training", "search_space", "objectives",
                                                      "profiler", "reference", "backend")},
        "n_trials": bench.n_trials,
        "strategies": {"searched": bench.searched_strategy, "control": bench.control_strategy},
        "studies": records,
        "rows": rows,
        "hypervolume": hv,
        "hypervolume_by_trials_validation_3d": hv_by_trials,
        "targets": checks,
        "dominance_accuracy_latency": logic.dominance(test_sets["searched"], test_sets["mobilenet_v2"],
                                                      logic.ACCURACY_LATENCY),
        "dominance_3d": logic.dominance(test_sets["searched"], test_sets["mobilenet_v2"], dict(OBJECTIVES)),
        "final_measurement": {"latency_remeasured": remeasure,
                              "latency_repeats": bench.latency_repeats if remeasure else 0,
                              "load_before": load_before, "load_after": load_after,
                              "profiler": {k: v for k, v in search_dict["profiler"].items() if k != "token"}},
        "_points": test_sets,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="benchmark YAML (default: full.yaml)")
    parser.add_argument("--report-only", action="store_true",
                        help="no new trials or grid evaluations; report what exists (marked partial if incomplete)")
    parser.add_argument("--no-remeasure", action="store_true", help="keep the search-time latencies")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    from benchmarks.search_vs_mobilenetv2.report import write_outputs

    bench = load_benchmark_config(args.config)
    command = "python -m benchmarks.search_vs_mobilenetv2 " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    started = datetime.now(timezone.utc)
    start = time.perf_counter()
    logger.info("benchmark %s: load %s", bench.name, _load())
    if not args.report_only:
        run_searches(bench)
    results = build_results(bench, report_only=args.report_only,
                            remeasure=bench.remeasure_latency and not args.no_remeasure)
    sessions = record_session(bench, {"command": command, "started": started.isoformat(timespec="seconds"),
                                      "seconds": round(time.perf_counter() - start, 1),
                                      "report_only": args.report_only})
    results.update(command=command, machine=machine(), versions=versions(), sessions=sessions,
                   wall_time_s=round(sum(s["seconds"] for s in sessions), 1),
                   finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    write_outputs(bench, results)
    for check in results["targets"]:
        print(f"{'MET   ' if check['met'] else 'MISSED'} {check['description']} @ {check['resolution']}px: "
              f"{check['detail']}" + (f" -- needs {check['needs']}" if check["needs"] else ""))
    print(f"{'PARTIAL ' if results['partial'] else ''}results: {bench.json_path}, {bench.png_path}, {bench.doc_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
