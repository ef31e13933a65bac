"""Stage 1 of benchmark v2 from the finished runs to its results: re-scoring to a fixed point, the
MobileNetV2 proxy references, the union front's interleaved latency rounds, the finalists, the
hypervolume curves and target 3 (docs/benchmark_v2_protocol.md, sections 2, 3 and 6). The test split
is never read here.
"""

from __future__ import annotations

import logging
import os
import statistics
from pathlib import Path
from typing import Any

from benchmarks.v2 import analysis
from benchmarks.v2.baselines import BIG, SMALL, v2_baseline_like
from benchmarks.v2.config import V2Config
from benchmarks.v2.jobs import TrainJob, latency_rounds, run_train_jobs, train_path
from benchmarks.v2.stage1 import read_json
from benchmarks.v2.stats import paired_latency_ratio

logger = logging.getLogger(__name__)


def _rescored(config: V2Config, unit: dict[str, Any]) -> dict[str, float]:
    out = {}
    for row in unit["trials"]:
        done = read_json(train_path(config, TrainJob(row["architecture"], unit["seed"], f"rescore:{unit['study']}")))
        if done is not None and done["accuracy"] is not None:
            out[row["architecture"]] = float(done["accuracy"])
    return out


def baseline_architectures(config: V2Config, units: list[dict[str, Any]]) -> dict[str, str]:
    """The configured baselines at the input of the searched models (resolution, channels, classes)."""
    from search_spaces.architecture import Architecture

    sample = Architecture.from_string(units[0]["trials"][0]["architecture"])
    return {name: v2_baseline_like(name, sample).to_string() for name in config.baselines}


def rescore(config: V2Config, config_path: Path, units: list[dict[str, Any]], baselines: dict[str, str]) -> None:
    """Proxy-train the references, then re-score every run's front until it holds proxy-trained accuracies only."""
    jobs = [TrainJob(arch, seed, f"baseline:{name}") for name, arch in baselines.items() for seed in config.seeds]
    while True:
        for unit in units:
            jobs += [TrainJob(arch, unit["seed"], f"rescore:{unit['study']}")
                     for arch in analysis.pending_rescores(unit["trials"], _rescored(config, unit))]
        if all(train_path(config, job).is_file() for job in jobs):
            return
        run_train_jobs(config, config_path, jobs)
        jobs = []


def union_front(config: V2Config, units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The front of every run's re-scored front, the same architecture counted once (first run, first trial)."""
    pool, seen = [], set()
    for unit in units:
        for row in analysis.rescored_front(unit["trials"], _rescored(config, unit)):
            if row["architecture"] not in seen:
                seen.add(row["architecture"])
                pool.append({**row, "study": unit["study"], "accuracy": row["accuracy_proxy"]})
    keep = analysis.front(pool, [m["accuracy"] for m in pool])
    return [pool[i] for i in keep]


def _latency(config: V2Config, union: list[dict[str, Any]], baselines: dict[str, str]) -> tuple[dict, list]:
    models = {f"{m['study']}#{m['trial']}": m["architecture"] for m in union} | baselines
    rounds = latency_rounds(config, models, config.cores[0])
    median = {label: statistics.median(r["p50_ms"][label] for r in rounds) for label in models}
    return median, rounds


def _ratios(rounds: list[dict[str, Any]], finalists: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for model in finalists:
        label = f"{model['study']}#{model['trial']}"
        for base in (BIG, SMALL):
            ratio = paired_latency_ratio([r["p50_ms"][label] for r in rounds], [r["p50_ms"][base] for r in rounds])
            out.setdefault(label, {})[f"latency_ratio_to_{base}"] = ratio.__dict__
    return out


def hypervolumes(config: V2Config, units: list[dict[str, Any]]) -> dict[str, Any]:
    """Per run: the curve on its own scores, and the final primary / secondary hypervolumes; target 3."""
    per_run = {}
    for unit in units:
        per_run[unit["study"]] = {
            "strategy": unit["strategy"], "seed": unit["seed"],
            "curve_minutes": list(config.curve_minutes),
            "curve_own_scores": analysis.curve(unit["trials"], config.curve_minutes, config.hv_reference),
            **analysis.final_hypervolumes(unit["trials"], _rescored(config, unit), config.hv_reference)}
    mean = {s: statistics.fmean(r["primary"] for r in per_run.values() if r["strategy"] == s)
            for s in config.strategies}
    variants = [s for s in config.strategies if s.startswith("nsga2")]
    target = None
    if "random" in config.strategies and variants:
        best = max(variants, key=lambda s: mean[s])
        wins = [_primary(per_run, best, seed) > _primary(per_run, "random", seed) for seed in config.seeds]
        target = {"best_variant": best, "wins_by_seed": dict(zip(config.seeds, wins)), "met": all(wins)}
    return {"per_run": per_run, "mean_primary": mean, "target_3": target}


def _primary(per_run: dict[str, Any], strategy: str, seed: int) -> float:
    return next(r["primary"] for r in per_run.values() if r["strategy"] == strategy and r["seed"] == seed)


def _baseline_accuracy(config: V2Config, name: str, arch: str, seed: int) -> float:
    path = train_path(config, TrainJob(arch, seed, f"baseline:{name}"))
    done = read_json(path)
    if done is None or done["accuracy"] is None:
        raise RuntimeError(f"the proxy training of {name} seed {seed} gave no accuracy ({path})")
    return float(done["accuracy"])


def stage1_results(config: V2Config, config_path: Path, units: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything stage 1 decides, as one JSON-able dict."""
    baselines = baseline_architectures(config, units)
    rescore(config, config_path, units, baselines)
    union = union_front(config, units)
    median, rounds = _latency(config, union, baselines)
    for model in union:
        model["latency_ms"] = median[f"{model['study']}#{model['trial']}"]
    accuracy = {name: statistics.fmean(_baseline_accuracy(config, name, arch, seed) for seed in config.seeds)
                for name, arch in baselines.items()}
    chosen = analysis.finalists(union, accuracy, median, big=BIG, small=SMALL, limit=config.max_finalists) \
        if {BIG, SMALL} <= set(baselines) else []
    return {"config": config.name, "baselines": {name: {"architecture": arch, "accuracy_proxy_mean": accuracy[name],
                                                       "latency_ms": median[name]} for name, arch in baselines.items()},
            "union_front": union, "finalists": chosen, "latency_rounds": rounds,
            "finalist_latency_ratios": _ratios(rounds, chosen) if chosen else {},
            "hypervolume": hypervolumes(config, units), "loadavg_end": list(os.getloadavg()),
            "test_split_read": False}


def chart(results: dict[str, Any], path: Path) -> None:
    """Hypervolume against the run's clock per strategy: mean line and min-max band over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results["hypervolume"]["per_run"].values()
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for strategy in dict.fromkeys(r["strategy"] for r in runs):
        curves = [r["curve_own_scores"] for r in runs if r["strategy"] == strategy]
        minutes = next(r["curve_minutes"] for r in runs if r["strategy"] == strategy)
        columns = list(zip(*curves))
        axes.plot(minutes, [statistics.fmean(c) for c in columns], label=strategy)
        axes.fill_between(minutes, [min(c) for c in columns], [max(c) for c in columns], alpha=0.2)
    axes.set_xlabel("wall clock of the run (min)")
    axes.set_ylabel("hypervolume (val. accuracy x latency), own scores")
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


__all__ = ["baseline_architectures", "chart", "hypervolumes", "rescore", "stage1_results", "union_front"]
