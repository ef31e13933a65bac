"""Early stopping (MO-ASHA) against per-trial training at equal wall clock (issue 17).

Protocol, targets and results: docs/early_stopping.md (the protocol was committed before the run).
For each seed, the two arms run at the same moment, each pinned to one core (``taskset``), so they
share the machine's load; the core each arm gets alternates with the seed. Each arm is `nas search`
with the Fashion-MNIST benchmark's search (benchmarks/search_vs_mobilenetv2/full.yaml), NSGA-II,
stopped from starting new trials after ``--minutes``; the early arm adds ``early_stopping``.

    .venv/bin/python benchmarks/early_stopping.py run --seeds 0 1 2 --minutes 20
    .venv/bin/python benchmarks/early_stopping.py score
    .venv/bin/python benchmarks/early_stopping.py run --variant epochs9 --seeds 0 1 2 --minutes 20
    .venv/bin/python benchmarks/early_stopping.py score --variant epochs9

``run`` is resumable: a (seed) pair whose two arms finished is skipped; a pair cut off half way is
run again from scratch (its folders are removed), because a resumed search would get a second
wall-clock budget. ``score`` reads the studies only (validation accuracies; the test split is never
read) and writes the JSON with the issue's keys ``candidates_per_hour_ratio`` and
``hypervolume_ratio``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

logger = logging.getLogger("early_stopping")

#: The search of the Fashion-MNIST benchmark (benchmarks/search_vs_mobilenetv2/full.yaml, "search").
SEARCH: dict[str, Any] = {
    "dataset": {"name": "fashion-mnist", "data_dir": "/usr/share/datasets/fashion-mnist", "fraction": 0.1,
                "val_fraction": 0.1},
    "training": {"epochs": 3, "batch_size": 128},
    "search_space": {"resolutions": [32]},
    "objectives": ["accuracy", "latency", "size"],
    "strategy": {"name": "nsga2", "population_size": 6, "n_trials": 10000},
    "reference": {"baseline": "mobilenet_v2_0.35"},
    "profiler": {"kind": "local", "threads": 1, "warmup_runs": 5, "runs": 50, "min_seconds": 0.0,
                 "use_xnnpack": True},
    "backend": {"name": "local"},
}
#: The arms: per-trial training to the end, and MO-ASHA with one rung at epoch 1 of 3, keep the top third.
ARMS: dict[str, dict[str, Any]] = {
    "full": {},
    "early": {"early_stopping": {"rungs": [1], "reduction_factor": 3, "tie_break": "epsilon_net"}},
}
#: Variants. ``epochs3`` is the issue's benchmark (the Fashion-MNIST search as it is). ``epochs9`` is the
#: secondary, pre-registered setting where the saving can pay: 9 epochs per trial, rungs at 1 and 3.
VARIANTS: dict[str, dict[str, Any]] = {
    "epochs3": {"training": {"epochs": 3}, "rungs": [1]},
    "epochs9": {"training": {"epochs": 9}, "rungs": [1, 3]},
}
#: Hypervolume reference: chance accuracy on 10 classes; 1.1 x the worst latency / size of any
#: complete trial of any run (pooled, so both arms are measured against the same point).
REFERENCE_ACCURACY = 0.10
REFERENCE_MARGIN = 1.1


def arm_config(arm: str, seed: int, minutes: float, runs_dir: Path, variant: str = "epochs3") -> dict[str, Any]:
    config = json.loads(json.dumps(SEARCH))
    config["study"] = {"name": f"{arm}-seed{seed}", "runs_dir": str(runs_dir), "seed": seed}
    config["strategy"]["timeout_s"] = minutes * 60
    config["training"]["epochs"] = VARIANTS[variant]["training"]["epochs"]
    config.update(json.loads(json.dumps(ARMS[arm])))
    if "early_stopping" in config:
        config["early_stopping"]["rungs"] = list(VARIANTS[variant]["rungs"])
    return config


@dataclasses.dataclass
class ArmRun:
    arm: str
    seed: int
    cpu: int
    wall_s: float
    returncode: int
    loads: list[list[float]]


def _start(arm: str, seed: int, cpu: int, minutes: float, out: Path, variant: str) -> subprocess.Popen:
    folder = out / f"{arm}-seed{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config_path = folder.parent / f"{arm}-seed{seed}.yaml"
    config_path.write_text(yaml.safe_dump(arm_config(arm, seed, minutes, out, variant)))
    command = ["taskset", "-c", str(cpu), str(Path(sys.executable).parent / "nas"), "search",
               "--config", str(config_path), "--quiet"]
    log = (out / f"{arm}-seed{seed}.log").open("w")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)


def run_pair(seed: int, minutes: float, out: Path, variant: str) -> list[ArmRun]:
    """Both arms of ``seed`` at once, one core each (swapped on odd seeds); load sampled every 30 s."""
    cpus = {"full": seed % 2, "early": 1 - seed % 2}
    start = time.monotonic()
    procs = {arm: _start(arm, seed, cpu, minutes, out, variant) for arm, cpu in cpus.items()}
    ends: dict[str, float] = {}
    loads = [list(os.getloadavg())]
    while len(ends) < len(procs):
        time.sleep(5)
        for arm, proc in procs.items():
            if arm not in ends and proc.poll() is not None:
                ends[arm] = time.monotonic() - start
        if int(time.monotonic() - start) % 30 < 5:
            loads.append(list(os.getloadavg()))
    runs = [ArmRun(arm, seed, cpus[arm], ends[arm], procs[arm].returncode, loads) for arm in procs]
    (out / f"pair-seed{seed}.json").write_text(json.dumps([dataclasses.asdict(r) for r in runs], indent=1))
    return runs


def _out(args: argparse.Namespace) -> Path:
    return Path(args.out or f"runs/benchmarks/early_stopping/{args.variant}")


def cmd_run(args: argparse.Namespace) -> None:
    out = _out(args)
    out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        if (out / f"pair-seed{seed}.json").is_file():
            logger.info("seed %d: done before, skipped", seed)
            continue
        logger.info("seed %d: both arms for %.1f min (load %s)", seed, args.minutes, os.getloadavg())
        runs = run_pair(seed, args.minutes, out, args.variant)
        for run in runs:
            logger.info("seed %d %s: %.0f s, exit %d", seed, run.arm, run.wall_s, run.returncode)


# ---- scoring ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class ArmScore:
    arm: str
    seed: int
    wall_s: float
    candidates: int          # architectures evaluated (finished, not a copy of an earlier trial)
    complete: int
    pruned: int
    candidates_per_hour: float
    #: Mean seconds of a trial (``timings_s.total``) and of its training, by how it ended: where the time goes.
    mean_s: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    hypervolume: float | None = None
    front_trials: list[int] = dataclasses.field(default_factory=list)


def _study_points(out: Path, arm: str, seed: int) -> tuple[list[Any], list[Any]]:
    from optuna.trial import TrialState

    from nas.record import study as record
    from nas.record.points import distinct, study_points

    study = record.open_study(f"{arm}-seed{seed}", runs_dir=out)
    trials = study.get_trials(deepcopy=False)
    return trials, [p for p in distinct(study_points(study)) if p.accuracy is not None and p.feasible
                    and trials[p.trial_number].state == TrialState.COMPLETE]


def score_arm(out: Path, run: dict[str, Any]) -> tuple[ArmScore, list[Any]]:
    from optuna.trial import TrialState

    from nas.record.trial_record import TrialRecord, is_done

    trials, points = _study_points(out, run["arm"], run["seed"])
    fresh = [t for t in trials if is_done(t) and TrialRecord.from_trial(t).reused_from is None]
    score = ArmScore(run["arm"], run["seed"], run["wall_s"], len(fresh),
                     sum(t.state == TrialState.COMPLETE for t in fresh),
                     sum(t.state == TrialState.PRUNED for t in fresh),
                     len(fresh) / run["wall_s"] * 3600, _mean_seconds(fresh))
    return score, points


def _mean_seconds(trials: list[Any]) -> dict[str, dict[str, float]]:
    from nas.record.trial_record import TrialRecord

    out = {}
    for state in sorted({t.state.name for t in trials}):
        timings = [TrialRecord.from_trial(t).timings_s for t in trials if t.state.name == state]
        out[state.lower()] = {"trials": len(timings),
                              "total": statistics.fmean(x.get("total", 0.0) for x in timings),
                              "train": statistics.fmean(x.get("train", 0.0) for x in timings)}
    return out


def _hypervolume(points: list[Any], reference: list[float]) -> tuple[float, list[int]]:
    from nas import pareto
    from nas.record.points import OBJECTIVES
    from nas.results.front import objective_matrix, pareto_front

    front = pareto_front(points, OBJECTIVES)
    matrix = objective_matrix(front, OBJECTIVES)
    return pareto.hypervolume(matrix, reference, list(OBJECTIVES.values())), sorted(p.trial_number for p in front)


def cmd_score(args: argparse.Namespace) -> None:
    out = _out(args)
    runs = [r for path in sorted(out.glob("pair-seed*.json")) for r in json.loads(path.read_text())]
    scored = [score_arm(out, run) for run in runs]
    pooled = [p for _, points in scored for p in points]
    reference = [REFERENCE_ACCURACY, REFERENCE_MARGIN * max(p.latency_ms_p50 for p in pooled),
                 REFERENCE_MARGIN * max(p.size_bytes for p in pooled)]
    for score, points in scored:
        score.hypervolume, score.front_trials = _hypervolume(points, reference)
    result = summarize([s for s, _ in scored], runs, reference)
    result["variant"] = {"name": args.variant, **VARIANTS[args.variant]}
    result["command"] = (f"benchmarks/early_stopping.py run --variant {args.variant} --seeds 0 1 2 "
                         f"--minutes M; ... score --variant {args.variant}")
    json_path = args.json or ("benchmarks/results/early_stopping.json" if args.variant == "epochs3"
                              else f"benchmarks/results/early_stopping_{args.variant}.json")
    Path(json_path).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("candidates_per_hour_ratio", "hypervolume_ratio", "targets")}, indent=1))


def summarize(scores: list[ArmScore], runs: list[dict[str, Any]], reference: list[float]) -> dict[str, Any]:
    by_seed = {s.seed: {x.arm: x for x in scores if x.seed == s.seed} for s in scores}
    seeds = sorted(seed for seed, arms in by_seed.items() if set(arms) == set(ARMS))
    cph = [by_seed[s]["early"].candidates_per_hour / by_seed[s]["full"].candidates_per_hour for s in seeds]
    hv = [by_seed[s]["early"].hypervolume / by_seed[s]["full"].hypervolume for s in seeds]
    mean = {arm: {"candidates_per_hour": statistics.mean(by_seed[s][arm].candidates_per_hour for s in seeds),
                  "hypervolume": statistics.mean(by_seed[s][arm].hypervolume for s in seeds)} for arm in ARMS}
    cph_ratio = mean["early"]["candidates_per_hour"] / mean["full"]["candidates_per_hour"]
    hv_ratio = mean["early"]["hypervolume"] / mean["full"]["hypervolume"]
    return {
        "benchmark": "early_stopping", "seeds": seeds, "search": SEARCH, "arms": ARMS,
        "candidates_per_hour_ratio": cph_ratio, "hypervolume_ratio": hv_ratio,
        "per_seed": {"candidates_per_hour_ratio": cph, "hypervolume_ratio": hv},
        "mean": mean, "runs": [dataclasses.asdict(s) for s in scores], "pairs": runs,
        "hypervolume_reference": {"accuracy": reference[0], "latency_ms_p50": reference[1],
                                  "size_bytes": reference[2]},
        "targets": {"candidates_per_hour_ratio >= 2.5 (mean and every seed)":
                    cph_ratio >= 2.5 and min(cph, default=0) >= 2.5,
                    "hypervolume_ratio >= 1 (mean)": hv_ratio >= 1.0,
                    "hypervolume_ratio >= 1 in every seed": min(hv, default=0) >= 1.0},
        "command": "benchmarks/early_stopping.py run --seeds 0 1 2 --minutes M; ... score",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=("run", "score"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=20.0, help="wall clock per arm (start no trial after)")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="epochs3",
                        help="epochs3: the issue's search; epochs9: 9 epochs, rungs 1 and 3 (secondary)")
    parser.add_argument("--out", default=None, help="default runs/benchmarks/early_stopping/<variant>")
    parser.add_argument("--json", default=None, help="default benchmarks/results/early_stopping[_<variant>].json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    {"run": cmd_run, "score": cmd_score}[args.phase](args)


if __name__ == "__main__":
    main()
