"""The last step of benchmark v2: the test split, read once; latency rounds of every stage-2 model; the
intervals and targets 1 and 2 (docs/benchmark_v2_protocol.md, sections 4 to 6)."""

from __future__ import annotations

import logging
import statistics
from pathlib import Path
from typing import Any

from benchmarks.v2 import stage2
from benchmarks.v2.baselines import BIG, SMALL
from benchmarks.v2.config import V2Config
from benchmarks.v2.jobs import latency_rounds
from benchmarks.v2.stage1 import read_json, write_json
from benchmarks.v2.stats import mean_interval, paired_latency_ratio, welch_difference

logger = logging.getLogger(__name__)


def _units(config: V2Config, stage1: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    models = stage2.stage2_models(config, stage1)
    order = stage2.unit_order(config, models)
    missing = [f"{m.label} seed {s}" for m, s in order if not stage2.unit_path(config, m, s).is_file()]
    if missing:
        raise RuntimeError(f"stage 2 is not finished ({len(missing)} units left, e.g. {missing[0]}); "
                           "the test split is read only after every stage-2 training")
    out: dict[str, list[dict[str, Any]]] = {}
    for model, seed in order:
        out.setdefault(model.label, []).append(read_json(stage2.unit_path(config, model, seed)))
    return out


def xnnpack_accepts(path: Path) -> bool:
    """Whether LiteRT's XNNPACK delegate prepares the int8 model at ``path`` (it refuses, e.g., the tiny
    quantization scales of a squeeze-excite branch that is dead on every calibration image)."""
    from evaluators.metrics import TFLiteClassifier

    return TFLiteClassifier(path, num_threads=1).xnnpack


def latency_models(units: dict[str, list[dict[str, Any]]], accepts: Any) -> dict[str, dict[str, Any]]:
    """The unit whose int8 model each label's latency is measured on: its first seed XNNPACK accepts (the
    latency protocol runs with XNNPACK). Marks every record ``xnnpack`` and the chosen one ``latency_model``.
    Raises RuntimeError, before the test split is read, for a label none of whose models XNNPACK accepts."""
    chosen = {}
    for label, records in units.items():
        for record in records:
            record["xnnpack"] = bool(accepts(record))
        usable = [record for record in records if record["xnnpack"]]
        if not usable:
            raise RuntimeError(f"XNNPACK refuses the int8 model of every seed of {label}: its latency cannot be "
                               "measured by the protocol (section 5); decide and record how before scoring")
        if usable[0] is not records[0]:
            logger.warning("%s: XNNPACK refuses seed %s's model; latency measured on seed %s's", label,
                           records[0]["seed"], usable[0]["seed"])
        usable[0]["latency_model"] = True
        chosen[label] = usable[0]
    return chosen


def _test_accuracies(config: V2Config, units: dict[str, list[dict[str, Any]]], sample_arch: str) -> None:
    from evaluators.datasets import load_dataset
    from evaluators.metrics import evaluate_tflite
    from search_spaces.architecture import Architecture

    sample = Architecture.from_string(sample_arch)
    dataset_cfg, training = stage2._dataset(config, config.seeds[0])
    data = load_dataset(dataset_cfg, resolution=sample.resolution, channels=sample.channels,
                        batch_size=training.batch_size)
    if data.test is None:
        raise RuntimeError(f"dataset {dataset_cfg.name} has no test split")
    cache_path = config.folder / "stage2" / "test_accuracies.json"
    cache = read_json(cache_path) or {}
    for label, records in units.items():
        for record in records:
            key = f"{label}|{record['seed']}"
            if key not in cache:  # each model's test accuracy is computed once, even across a re-run
                model = stage2.tflite_path(config, record).read_bytes()
                cache[key] = evaluate_tflite(model, data.test, data.class_names).accuracy
                write_json(cache_path, cache)
            record["test_accuracy_int8"] = cache[key]


def _target(units: dict[str, list[dict[str, Any]]], rounds: list[dict[str, Any]], label: str, base: str) -> dict:
    """The accuracy difference (Welch) and the paired latency ratio of ``label`` against ``base``. With one
    seed on either side there is no accuracy interval (``low``/``high`` None): the estimate is reported and
    no target is decided on it (a smoke run has one seed)."""
    a, b = ([r["test_accuracy_int8"] for r in units[name]] for name in (label, base))
    if min(len(a), len(b)) > 1:
        accuracy = welch_difference(a, b).__dict__
    else:
        accuracy = {"estimate": statistics.fmean(a) - statistics.fmean(b), "low": None, "high": None,
                    "note": "one seed: no interval, no target decided"}
    ratio = paired_latency_ratio([r["p50_ms"][label] for r in rounds], [r["p50_ms"][base] for r in rounds])
    return {"accuracy_difference": accuracy, "latency_ratio": ratio.__dict__}


def compare(units: dict[str, list[dict[str, Any]]], rounds: list[dict[str, Any]], finalists: list[str]) -> dict:
    """Every finalist against MobileNetV2 1.0 and 0.35 (and their stride-1-stem variants), and targets 1, 2."""
    out: dict[str, Any] = {"models": {}, "comparisons": {}, "target_1": [], "target_2": []}
    for label, records in units.items():
        accuracies = [r["test_accuracy_int8"] for r in records]
        out["models"][label] = {"test_accuracy_int8": mean_interval(accuracies).__dict__ if len(accuracies) > 1
                                else {"estimate": accuracies[0]},
                                "latency_ms": statistics.median(r["p50_ms"][label] for r in rounds),
                                "size_bytes": records[0]["size_bytes"], "seeds": [r["seed"] for r in records]}
    bases = [b for b in (BIG, SMALL, f"{BIG}_stem_s1", f"{SMALL}_stem_s1") if b in units]
    for label in finalists:
        for base in bases:
            comparison = _target(units, rounds, label, base)
            out["comparisons"][f"{label} vs {base}"] = comparison
            accuracy, ratio = comparison["accuracy_difference"], comparison["latency_ratio"]
            if accuracy["low"] is None:
                continue
            if base == BIG and accuracy["low"] > 0 and 1 / ratio["high"] >= 2.5:
                out["target_1"].append(label)
            if base == SMALL and ratio["high"] <= 1 and accuracy["estimate"] >= 0.02 and accuracy["low"] > 0:
                out["target_2"].append(label)
    return out


def score(config: V2Config, results_path: Path) -> dict[str, Any]:
    """Test accuracies (once), latency rounds over every stage-2 model, and the targets."""
    stage1 = read_json(results_path)
    if stage1 is None:
        raise RuntimeError(f"{results_path}: no stage-1 results")
    units = _units(config, stage1)
    latency_records = latency_models(units, lambda record: xnnpack_accepts(stage2.tflite_path(config, record)))
    marker = stage2.mark_test_scored(config)
    sample = next(iter(stage1["baselines"].values()))["architecture"]
    _test_accuracies(config, units, sample)
    tflite = {label: stage2.tflite_path(config, record).read_bytes() for label, record in latency_records.items()}
    rounds = latency_rounds(config, {label: record["tflite"] for label, record in latency_records.items()},
                            config.cores[0], stage="stage2", tflite=tflite)
    finalists = [m["study"] + "#" + str(m["trial"]) for m in stage1["finalists"]]
    return {"config": config.name, "test_scored": read_json(marker), "units": units, "latency_rounds": rounds,
            **compare(units, rounds, finalists)}


def chart(scored: dict[str, Any], path: Path) -> None:
    """Int8 test accuracy (mean over seeds, 95 % t-interval as a bar) against the median latency of the
    interleaved rounds (log axis), one labelled point per model: finalists, MobileNetV2s, the plain CNN."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    for label, model in scored["models"].items():
        accuracy = model["test_accuracy_int8"]
        low, high = accuracy.get("low"), accuracy.get("high")
        error = [[accuracy["estimate"] - low], [high - accuracy["estimate"]]] if low is not None else None
        colour = "tab:blue" if "#" in label else "tab:red" if label.startswith("mobilenet") else "tab:grey"
        axes.errorbar(model["latency_ms"], accuracy["estimate"], yerr=error, fmt="o", color=colour, capsize=3)
        axes.annotate(label, (model["latency_ms"], accuracy["estimate"]), textcoords="offset points",
                      xytext=(4, 4), fontsize=7)
    axes.set_xscale("log")
    axes.set_xlabel("latency p50 (ms), median of the interleaved rounds")
    axes.set_ylabel("int8 test accuracy (mean over seeds, 95 % interval)")
    axes.set_title("Benchmark v2 stage 2: finalists (blue), MobileNetV2 (red), plain CNN (grey)", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_score(config: V2Config, results_path: Path, out: Path) -> dict[str, Any]:
    """:func:`score`, written to ``out`` with its chart beside it (``.png``); then the scoring is marked
    finished (a second one is refused)."""
    scored = score(config, results_path)
    write_json(out, scored)
    chart(scored, out.with_suffix(".png"))
    stage2.mark_score_done(config)
    return scored


__all__ = ["chart", "compare", "latency_models", "score", "write_score", "xnnpack_accepts"]
