"""Stage 2 of benchmark v2: finalists and baselines trained at the real budget, then the test split
scored once (docs/benchmark_v2_protocol.md, sections 4 to 6).

Each (model, seed) is one unit of work run in a process pinned to a core; it writes its int8
``.tflite`` and one JSON (validation numbers only) atomically, so the stage resumes over many
sessions. ``score`` refuses to run before every unit is done, writes ``test_scored`` with the time
before it reads the test split, and refuses to run a second time.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.v2.baselines import SMALL_CNN, build_small_cnn, v2_baseline_like
from benchmarks.v2.config import V2Config
from benchmarks.v2.jobs import search_yaml
from benchmarks.v2.stage1 import read_json, write_json

logger = logging.getLogger(__name__)
PRIORITY_REASONS = ("target 1", "target 2")


@dataclasses.dataclass(frozen=True)
class Model:
    """A stage-2 model: ``label``, and its architecture string (None for the plain CNN)."""

    label: str
    architecture: str | None
    reason: str


def stage2_models(config: V2Config, stage1: dict[str, Any]) -> list[Model]:
    """The finalists of stage 1 and the configured baselines, at the searched models' input."""
    from search_spaces.architecture import Architecture

    if config.stage2 is None:
        raise RuntimeError("the config has no stage2 section")
    sample = Architecture.from_string(next(iter(stage1["baselines"].values()))["architecture"])
    models = [Model(f"{m['study']}#{m['trial']}", m["architecture"], m["reason"]) for m in stage1["finalists"]]
    for name in config.stage2.baselines:
        arch = None if name == SMALL_CNN else v2_baseline_like(name, sample).to_string()
        models.append(Model(name, arch, "baseline"))
    return models


def unit_order(config: V2Config, models: list[Model]) -> list[tuple[Model, int]]:
    """Section 4's priority: seed 0 of MobileNetV2 0.35 and 1.0 and the target finalists, then their other
    seeds, then every other (model, seed)."""
    first = [m for m in models if m.label in ("mobilenet_v2_0.35", "mobilenet_v2_1.0") or m.reason in PRIORITY_REASONS]
    rest = [m for m in models if m not in first]
    seeds = list(config.seeds)
    return [(m, seeds[0]) for m in first] + [(m, s) for s in seeds[1:] for m in first] + \
        [(m, s) for s in seeds for m in rest]


def unit_name(model: Model, seed: int) -> str:
    return f"{model.label.replace('#', '-').replace('+', '-')}-seed{seed}"


def unit_path(config: V2Config, model: Model, seed: int) -> Path:
    """The unit's record; its int8 model is beside it with the suffix ``.tflite``."""
    return config.stage2_units / f"{unit_name(model, seed)}.json"


def tflite_path(config: V2Config, record: dict[str, Any]) -> Path:
    """The int8 model of a unit record: a bare file name is in the units folder (records made before
    the folder could be committed hold a full path)."""
    path = Path(record["tflite"])
    return path if path.is_absolute() or len(path.parts) > 1 else config.stage2_units / path


def _dataset(config: V2Config, seed: int) -> tuple[Any, Any]:
    from nas.config import load_config

    search = load_config(search_yaml(config, seed))
    dataset = dataclasses.replace(search.dataset, fraction=config.stage2.fraction)
    training = dataclasses.replace(search.training, epochs=config.stage2.epochs, batch_size=config.stage2.batch_size,
                                   seed=seed)
    return dataset, training


def _build(model: Model, sample: Any, bn_momentum: float | None) -> Any:
    from search_spaces import build_model
    from search_spaces.architecture import Architecture

    momentum = 0.9 if bn_momentum is None else bn_momentum
    if model.architecture is None:
        return build_small_cnn(sample.resolution, sample.channels, sample.num_classes, bn_momentum=momentum)
    return build_model(Architecture.from_string(model.architecture), bn_momentum=momentum)


def run_unit(config: V2Config, model: Model, seed: int, sample_arch: str) -> dict[str, Any]:
    """Train one (model, seed) at the real budget; int8 conversion; validation accuracy; nothing of the test split."""
    done = read_json(unit_path(config, model, seed))
    if done is not None:
        return done
    from evaluators.conversion import convert
    from evaluators.datasets import load_dataset
    from evaluators.metrics import evaluate_tflite
    from evaluators.training import train_model
    from search_spaces.architecture import Architecture
    from search_spaces.keras_backend import keras

    dataset_cfg, training = _dataset(config, seed)
    sample = Architecture.from_string(sample_arch)
    data = load_dataset(dataset_cfg, resolution=sample.resolution, channels=sample.channels,
                        batch_size=training.batch_size, with_test=False)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    network = _build(model, sample, training.bn_momentum)
    start, load_before = time.perf_counter(), os.getloadavg()[0]
    trained = train_model(network, data, training)
    train_s = time.perf_counter() - start
    converted = convert(network, "int8", calibration=data, calibration_samples=100, seed=seed)
    tflite = converted.write(unit_path(config, model, seed).with_suffix(".tflite"))
    metrics = evaluate_tflite(converted.tflite_bytes, data.val, data.class_names)
    record = {"label": model.label, "architecture": model.architecture, "reason": model.reason, "seed": seed,
              "epochs": training.epochs, "train_images": data.info.get("counts", {}).get("train"),
              "train_s": round(train_s, 1), "diverged": trained.diverged, "tflite": tflite.name,
              "size_bytes": converted.size_bytes, "val_accuracy_int8": metrics.accuracy,
              "val_accuracy_keras": trained.val_accuracy,
              "loadavg": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    write_json(unit_path(config, model, seed), record)
    logger.info("stage 2 %s seed %d: %.0f s, int8 validation accuracy %.4f", model.label, seed, train_s,
                metrics.accuracy)
    return record


def run_stage2(config: V2Config, config_path: Path, results_path: Path,
               stop_after_minutes: float | None = None, end_within_minutes: float | None = None) -> int:
    """Every unit not done yet, one pinned worker per core taking units from one queue in priority order;
    with ``stop_after_minutes`` no unit starts after that many minutes; with ``end_within_minutes`` a
    unit starts only if it is estimated to end within that many minutes (:func:`estimated_train_s`), so
    a session's end cuts none off. Returns how many units are still pending."""
    stage1 = read_json(results_path)
    if stage1 is None:
        raise RuntimeError(f"{results_path}: no stage-1 results; run stage1 first")
    order = [(m, s) for m, s in unit_order(config, stage2_models(config, stage1))
             if not unit_path(config, m, s).is_file()]
    folder = config.folder / "stage2"
    write_json(folder / "pending.json", [{"model": dataclasses.asdict(m), "seed": s} for m, s in order])
    for stale in (folder / "claims").glob("*.claim"):  # claims of an earlier, interrupted call
        stale.unlink()
    deadline = time.time() + 60 * stop_after_minutes if stop_after_minutes is not None else float("inf")
    end = time.time() + 60 * end_within_minutes if end_within_minutes is not None else float("inf")
    procs = [subprocess.Popen(["taskset", "-c", str(core), sys.executable, "-m", "benchmarks.v2", "stage2-unit",
                               "--config", str(config_path), "--out-dir", str(config.out_dir),
                               "--stage1-results", str(results_path), "--deadline", repr(deadline),
                               "--end", repr(end)])
             for core in config.cores]
    if any(p.wait() != 0 for p in procs):
        raise RuntimeError("a stage-2 training failed (log above); re-run the command to resume")
    return sum(not unit_path(config, m, s).is_file() for m, s in order)


def train_time_model(config: V2Config) -> Callable[[float], float] | None:
    """Training seconds as a function of MACs, from the finished units (None before any searched or baseline
    unit is done; the plain CNN has no architecture string). With two or more distinct MAC counts, a least-
    squares line ``a + b * MACs`` (a >= 0, b > 0): a unit has a fixed cost (data pipeline, graph tracing,
    conversion, evaluation; ~800 s here) that a rate per MAC alone puts on the large units and takes from
    the small ones. Otherwise the median seconds per MAC. MACs are a proxy for cost (protocol section 4)."""
    import numpy as np

    points = [(_macs(record["architecture"]), float(record["train_s"]))
              for record in map(read_json, sorted(config.stage2_units.glob("*.json")))
              if record and record.get("architecture")]
    if not points:
        return None
    macs, seconds = np.array(points).T
    if len(set(macs)) >= 2:
        slope, intercept = np.polyfit(macs, seconds, 1)
        if slope > 0 and intercept >= 0:
            return lambda m: float(intercept + slope * m)
    rate = float(np.median(seconds / macs))
    return lambda m: rate * m


def estimated_train_s(config: V2Config, model: Model,
                      time_model: Callable[[float], float] | None = None) -> float | None:
    """Training seconds of ``model`` by ``time_model`` (default :func:`train_time_model`) of its MACs; None
    for the plain CNN or before any unit is done."""
    time_model = train_time_model(config) if time_model is None else time_model
    if model.architecture is None or time_model is None:
        return None
    return time_model(_macs(model.architecture))


def _macs(architecture: str) -> float:
    from search_spaces.architecture import Architecture
    from search_spaces.cost import arch_cost

    return float(arch_cost(Architecture.from_string(architecture)).macs)


def claim_next(config: V2Config, pending: list[dict[str, Any]],
               end: float = float("inf")) -> tuple[Model, int] | None:
    """The first pending unit that is neither done nor claimed by another worker, claimed atomically. With
    an ``end`` (seconds since the epoch) a unit is passed over when its estimated training (x 1.2) would not
    finish by then, or has no estimate."""
    claims = config.folder / "stage2" / "claims"
    claims.mkdir(parents=True, exist_ok=True)
    time_model = train_time_model(config) if end != float("inf") else None  # the finished records, read once
    for item in pending:
        model, seed = Model(**item["model"]), item["seed"]
        if unit_path(config, model, seed).is_file():
            continue
        if end != float("inf"):
            estimate = estimated_train_s(config, model, time_model) if time_model is not None else None
            if estimate is None or time.time() + 1.2 * estimate > end:
                continue
        try:
            os.close(os.open(claims / f"{unit_name(model, seed)}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue
        return model, seed
    return None


def run_stage2_worker(config: V2Config, results_path: Path, deadline: float = float("inf"),
                      end: float = float("inf")) -> None:
    """Take units from the queue until it is empty or the deadline (seconds since the epoch) has passed;
    with an ``end``, only units estimated to finish by then."""
    pending = read_json(config.folder / "stage2" / "pending.json") or []
    sample = next(iter(read_json(results_path)["baselines"].values()))["architecture"]
    while time.time() < deadline:
        unit = claim_next(config, pending, end)
        if unit is None:
            return
        run_unit(config, *unit, sample)


def mark_test_scored(config: V2Config) -> Path:
    """Record the moment the test split is first read, before it is read; refuse once scoring has finished.

    A scoring that stopped half way (a crash in the latency rounds) may be re-run: it keeps every test
    accuracy already computed (``test_accuracies.json``) and reads the test split only for the models
    that have none, so no model is ever scored twice."""
    folder = config.folder / "stage2"
    finished = read_json(folder / "score_done.json")
    if finished is not None:
        raise RuntimeError(f"the test split was scored already (finished {finished['time']}); it is scored once "
                           "(protocol section 1): the results are in benchmarks/results, not recomputed")
    marker = folder / "test_scored.json"
    if read_json(marker) is None:
        write_json(marker, {"time": _now()})
    return marker


def mark_score_done(config: V2Config) -> None:
    write_json(config.folder / "stage2" / "score_done.json", {"time": _now()})


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


__all__ = ["Model", "claim_next", "estimated_train_s", "mark_score_done", "mark_test_scored", "run_stage2",
           "run_stage2_worker", "run_unit", "stage2_models", "tflite_path", "train_time_model", "unit_name",
           "unit_order", "unit_path"]
