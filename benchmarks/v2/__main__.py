"""``python -m benchmarks.v2 stage1 --config benchmarks/v2/cpu.yaml``: stage 1 of benchmark v2.

Runs every (strategy, seed) search pinned to its core for the configured wall clock, then the
re-scoring, the MobileNetV2 proxy references, the latency rounds, the finalists and the hypervolumes;
writes ``benchmarks/results/v2_stage1_<name>.json`` and the chart ``..._hypervolume.png``. Re-running
resumes: finished runs, trainings and latency rounds are not redone. ``unit`` and ``train`` are the
pinned child processes the stage starts. Stages 2 and ``score`` are not written yet
(docs/benchmark_v2_protocol.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from benchmarks.v2.config import V2ConfigError, load_v2_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.v2", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("stage1", "unit", "train"))
    parser.add_argument("--config", required=True, help="benchmark config YAML (benchmarks/v2/cpu.yaml, smoke.yaml)")
    parser.add_argument("--out-dir", default=None, help="state folder (default: the config's out_dir)")
    parser.add_argument("--results", default="benchmarks/results", help="where stage1 writes its JSON and chart")
    parser.add_argument("--strategy", help="unit: the run's strategy")
    parser.add_argument("--seed", type=int, help="unit: the run's seed")
    parser.add_argument("--shard", help="train: index/width of the pending trainings this process runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
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
    from benchmarks.v2 import report

    stage1.run_stage1_units(config, Path(args.config))
    results = report.stage1_results(config, Path(args.config), stage1.load_units(config))
    out = Path(args.results) / f"v2_stage1_{config.name}.json"
    stage1.write_json(out, results)
    report.chart(results, out.with_name(f"v2_stage1_{config.name}_hypervolume.png"))
    summary = {"finalists": [(m["study"], m["trial"], m["reason"]) for m in results["finalists"]],
               "mean_primary_hypervolume": results["hypervolume"]["mean_primary"],
               "target_3": results["hypervolume"]["target_3"], "results": str(out)}
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
