"""Stage-1 work after the clock: proxy trainings (re-scoring, MobileNetV2 references) and the interleaved
latency rounds (docs/benchmark_v2_protocol.md, sections 2, 3 and 5).

Each unit of work writes one JSON atomically when it is done, so a killed stage resumes where it was:
a training under ``stage1/train/<key>.json``, a latency round under ``stage1/rounds/round-NN.json``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from benchmarks.v2.config import V2Config
from benchmarks.v2.stage1 import read_json, write_json

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainJob:
    """One proxy training: ``architecture`` trained with the stage-1 budget and ``seed``; ``why`` is
    ``rescore:<study>`` or ``baseline:<name>``."""

    architecture: str
    seed: int
    why: str

    @property
    def key(self) -> str:
        digest = hashlib.sha256(f"{self.architecture}|{self.seed}".encode()).hexdigest()[:16]
        return f"{self.why.replace(':', '-').replace('+', '-')}-{digest}"


def train_path(config: V2Config, job: TrainJob) -> Path:
    return config.folder / "stage1" / "train" / f"{job.key}.json"


def search_yaml(config: V2Config, seed: int) -> Path:
    """The ``nas search`` config file the proxy trainings and the profiler settings are read from."""
    path = config.folder / "stage1" / "train" / f"search-seed{seed}.yaml"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config.search_config("nsga2", seed, config.folder / "stage1" / "train")))
    return path


def run_train_job(config: V2Config, job: TrainJob) -> dict[str, Any]:
    """The int8 validation accuracy of ``job.architecture`` after the proxy training (same dataset,
    schedule and conversion as a search trial), written to :func:`train_path`."""
    done = read_json(train_path(config, job))
    if done is not None:
        return done
    from evaluators import TrainingEvaluator
    from nas.config import load_config
    from search_spaces.architecture import Architecture

    search = load_config(search_yaml(config, job.seed))
    evaluator = TrainingEvaluator(search.dataset, dataclasses.replace(search.training, seed=job.seed),
                                  measure_latency=False, save_keras_model=False)
    load_before = os.getloadavg()[0]
    result = evaluator.evaluate(Architecture.from_string(job.architecture), train_path(config, job).with_suffix(""))
    record = {**dataclasses.asdict(job), "accuracy": result.accuracy_int8, "timings_s": dict(result.timings_s),
              "loadavg": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    write_json(train_path(config, job), record)
    logger.info("trained %s (%s): int8 validation accuracy %s", job.why, job.architecture[:60], result.accuracy_int8)
    return record


def run_train_jobs(config: V2Config, config_path: Path, jobs: list[TrainJob]) -> None:
    """The jobs not done yet, spread over the configured cores (one pinned process per core)."""
    todo = [job for job in jobs if not train_path(config, job).is_file()]
    if not todo:
        return
    listing = config.folder / "stage1" / "train" / "pending.json"
    write_json(listing, [dataclasses.asdict(job) for job in todo])
    width = len(config.cores)
    procs = [subprocess.Popen(["taskset", "-c", str(core), sys.executable, "-m", "benchmarks.v2", "train",
                               "--config", str(config_path), "--out-dir", str(config.out_dir),
                               "--shard", f"{index}/{width}"])
             for index, core in enumerate(config.cores)]
    if any(p.wait() != 0 for p in procs):
        raise RuntimeError("a stage-1 proxy training failed; its log is above; re-run the command to resume")


def run_shard(config: V2Config, shard: str) -> None:
    """Run every ``width``-th pending job starting at ``index`` (``shard`` is ``index/width``)."""
    index, width = (int(part) for part in shard.split("/"))
    jobs = [TrainJob(**job) for job in read_json(config.folder / "stage1" / "train" / "pending.json") or []]
    for job in jobs[index::width]:
        run_train_job(config, job)


# ---- latency rounds (section 5) ----------------------------------------------------------------
def latency_rounds(config: V2Config, models: dict[str, str], core: int, *, stage: str = "stage1",
                   tflite: dict[str, bytes] | None = None) -> list[dict[str, Any]]:
    """``config.latency_rounds`` rounds over ``models`` (label -> architecture or another identity), round r
    starting at model r mod n, on one pinned core; each round's p50s and load in
    ``<stage>/rounds/round-NN.json``. ``tflite`` gives the models' bytes; by default the untrained int8
    model of each architecture (latency depends on the graph, not on the weights)."""
    from nas.config import load_config
    from nas.trial.evaluation import make_profiler

    folder = config.folder / stage / "rounds"
    listed = read_json(folder / "models.json")
    if listed is not None and listed != models:
        raise RuntimeError(f"{folder / 'models.json'} lists other models than this run; the rounds already taken "
                           "belong to that list (move the folder away to measure again)")
    write_json(folder / "models.json", models)
    os.sched_setaffinity(0, {core})
    settings = load_config(search_yaml(config, config.seeds[0])).profiler
    profiler = make_profiler(settings)
    tflite = tflite if tflite is not None else _untrained_tflite(models)
    labels = list(models)
    rounds = []
    for number in range(config.latency_rounds):
        path = folder / f"round-{number:02d}.json"
        if not path.is_file():
            order = labels[number % len(labels):] + labels[:number % len(labels)]
            load = os.getloadavg()[0]
            p50 = {label: profiler.measure(tflite[label], **settings.measure_kwargs())["latency_ms"]["p50"]
                   for label in order}
            write_json(path, {"round": number, "order": order, "loadavg_before": round(load, 2), "p50_ms": p50})
        rounds.append(read_json(path))
    return rounds


def _untrained_tflite(models: dict[str, str]) -> dict[str, bytes]:
    from nas.trial.predictor.kernel_models import arch_tflite
    from search_spaces.architecture import Architecture

    return {label: arch_tflite(Architecture.from_string(arch)) for label, arch in models.items()}


__all__ = ["TrainJob", "latency_rounds", "search_yaml", "run_shard", "run_train_job", "run_train_jobs", "train_path"]
