"""``python -m benchmarks.v2 stage1|stage2|score --config benchmarks/v2/cpu.yaml``: benchmark v2.

- ``stage1``: every (strategy, seed) search pinned to its core for the configured wall clock, then the
  re-scoring, the MobileNetV2 proxy references, the latency rounds, the finalists and the hypervolumes;
  writes ``benchmarks/results/v2_stage1_<name>.json`` and the chart ``..._hypervolume.png``.
- ``stage2``: the finalists and baselines trained at the real budget (validation numbers only).
- ``score``: the test split, once; latency rounds of every stage-2 model; the targets; writes
  ``benchmarks/results/v2_score_<name>.json``.

Re-running a stage resumes it: finished runs, trainings and latency rounds are not redone. ``unit``,
``train`` and ``stage2-unit`` are the pinned child processes the stages start
(docs/benchmark_v2_protocol.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from benchmarks.v2.config import V2ConfigError, load_v2_config, study_name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.v2", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("stage1", "stage2", "score", "unit", "train", "stage2-unit"))
    parser.add_argument("--config", required=True, help="benchmark config YAML (benchmarks/v2/cpu.yaml, smoke.yaml)")
    parser.add_argument("--out-dir", default=None, help="state folder (default: the config's out_dir)")
    parser.add_argument("--results", default="benchmarks/results", help="where stage1 writes its JSON and chart")
    parser.add_argument("--batches", type=int, default=None,
                        help="stage1: run at most this many batches of runs (one run per core), then stop; "
                             "the results are written once every run has its record")
    parser.add_argument("--strategy", help="unit: the run's strategy")
    parser.add_argument("--seed", type=int, help="unit: the run's seed")
    parser.add_argument("--shard", help="train: index/width of the pending trainings this process runs")
    parser.add_argument("--stage1-results", help="stage2, stage2-unit: the stage-1 results JSON")
    parser.add_argument("--stop-after-minutes", type=float, default=None,
                        help="stage2: start no training after this many minutes (those running finish), so a "
                             "session's end does not cut one off; run the command again to go on")
    parser.add_argument("--end-within-minutes", type=float, default=None,
                        help="stage2: start only trainings estimated (from the finished ones, by MACs) to end "
                             "within this many minutes; the others wait for a later call")
    parser.add_argument("--end", type=float, default=float("inf"),
                        help="stage2-unit: start only trainings estimated to end before this time (epoch s)")
    parser.add_argument("--deadline", type=float, default=float("inf"),
                        help="stage2-unit: start no training after this time (seconds since the epoch)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.command == "stage2-unit":  # an hour-long training says how far it is, epoch by epoch
        logging.getLogger("evaluators.training").setLevel(logging.DEBUG)
    try:
        config = load_v2_config(args.config, out_dir=args.out_dir)
        return _dispatch(args, config)
    except (V2ConfigError, RuntimeError) as exc:
        print(f"benchmarks.v2: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, config) -> int:  # noqa: ANN001 - V2Config
    from benchmarks.v2 import jobs, stage1

    if args.command == "unit":
        stage1.run_unit(config, args.strategy, args.seed)
        return 0
    if args.command == "train":
        jobs.run_shard(config, args.shard)
        return 0
    if args.command in ("stage2", "score", "stage2-unit"):
        return _stage2(args, config)
    from benchmarks.v2 import report

    if args.batches is not None and args.batches < 1:
        raise V2ConfigError(f"--batches: at least 1, got {args.batches}")
    pending = stage1.run_stage1_units(config, Path(args.config), args.batches)
    if pending:
        left = [study_name(s, seed) for batch in pending for s, seed, _ in batch]
        print(json.dumps({"stage1": "unfinished", "runs_left": left, "records": str(config.stage1_units)}))
        return 0
    results = report.stage1_results(config, Path(args.config), stage1.load_units(config))
    out = Path(args.results) / f"v2_stage1_{config.name}.json"
    stage1.write_json(out, results)
    report.chart(results, out.with_name(f"v2_stage1_{config.name}_hypervolume.png"))
    summary = {"finalists": [(m["study"], m["trial"], m["reason"]) for m in results["finalists"]],
               "mean_primary_hypervolume": results["hypervolume"]["mean_primary"],
               "target_3": results["hypervolume"]["target_3"], "results": str(out)}
    print(json.dumps(summary, indent=1))
    return 0


def _stage2(args: argparse.Namespace, config) -> int:  # noqa: ANN001 - V2Config
    from benchmarks.v2 import stage2

    results = Path(args.stage1_results or Path(args.results) / f"v2_stage1_{config.name}.json")
    if args.command == "stage2-unit":
        stage2.run_stage2_worker(config, results, args.deadline, args.end)
        return 0
    if args.command == "stage2":
        for flag, value in (("--stop-after-minutes", args.stop_after_minutes),
                            ("--end-within-minutes", args.end_within_minutes)):
            if value is not None and value <= 0:
                raise V2ConfigError(f"{flag}: must be > 0, got {value}")
        left = stage2.run_stage2(config, Path(args.config), results, args.stop_after_minutes, args.end_within_minutes)
        print(json.dumps({"stage2": "done" if left == 0 else "unfinished", "units_left": left,
                          "units": str(config.stage2_units)}))
        return 0
    from benchmarks.v2.score import write_score

    out = Path(args.results) / f"v2_score_{config.name}.json"
    scored = write_score(config, results, out)
    print(json.dumps({"target_1": scored["target_1"], "target_2": scored["target_2"], "results": str(out)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
