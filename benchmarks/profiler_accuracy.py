"""Does the agent measure what LiteRT's own benchmark tool measures, how repeatable is it, and what
does a request cost beyond the timed runs?

For each model and thread count it alternates, ``--repeats`` times, between

- LiteRT's ``benchmark_litert_model.py`` (shipped in the ``ai-edge-litert`` wheel as
  ``ai_edge_litert.tools.benchmark_litert_model``), run as a subprocess with ``--result_json``;
- a real ``edge-profiler`` agent on loopback, called through ``RemoteProfiler`` with the same
  warm-up runs, runs and threads (``runs`` grows by one per repeat so the agent's cache never
  answers);

and reports the median latency of each tool, their relative difference (of the medians over the
repeats, and the median of the per-repeat differences of back-to-back runs), the coefficient of
variation (sample std / mean) of the agent's medians over the repeats, and the agent's overhead per
request: client wall time minus the timed runs (process start, imports, model load, warm-up, HTTP).

    .venv/bin/python benchmarks/profiler_accuracy.py --json-out benchmarks/results/profiler_accuracy.json

Models: MobileNetV2 (tf_keras.applications, random weights, 10 classes) converted to full int8
with TensorFlow on first use and cached in ``--models-dir``; pass ``--model FILE.tflite`` to use
your own instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_profiler.client import RemoteProfiler  # noqa: E402
from edge_profiler.device import describe_device  # noqa: E402
from edge_profiler.server import AgentServer, Config  # noqa: E402

logger = logging.getLogger("profiler_accuracy")

# (name, alpha, input resolution)
DEFAULT_MODELS = (("mobilenet_v2_0.35_96", 0.35, 96), ("mobilenet_v2_1.0_224", 1.0, 224))


def convert_mobilenet_v2(alpha: float, resolution: int) -> bytes:
    """Full-int8 MobileNetV2 (random weights; latency does not depend on them)."""
    from search_spaces.keras_backend import keras

    model = keras.applications.MobileNetV2(input_shape=(resolution, resolution, 3), alpha=alpha, weights=None,
                                           classes=10)

    from evaluators import convert

    return convert(model, "int8", calibration="random", calibration_samples=4).tflite_bytes


def ensure_models(models_dir: Path) -> list[Path]:
    models_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, alpha, resolution in DEFAULT_MODELS:
        path = models_dir / f"{name}_int8.tflite"
        if not path.exists():
            logger.info("converting %s (TensorFlow, once)", name)
            path.write_bytes(convert_mobilenet_v2(alpha, resolution))
        paths.append(path)
    return paths


def official_median_ms(model: Path, threads: int, warmup_runs: int, runs: int) -> dict[str, float]:
    """One run of LiteRT's benchmark_litert_model.py; its --result_json latency block."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "ai_edge_litert.tools.benchmark_litert_model", f"--model={model}",
                   f"--num_threads={threads}", f"--warmup_runs={warmup_runs}", f"--num_runs={runs}",
                   f"--result_json={out}"]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        wall_ms = (time.perf_counter() - started) * 1000.0
        latency = json.loads(out.read_text())["latency"]
    return {"median_ms": latency["median_ms"], "avg_ms": latency["avg_ms"], "std_ms": latency["std_ms"],
            "num_runs": latency["num_runs"], "wall_ms": wall_ms}


def agent_measurement(profiler: RemoteProfiler, model: Path, threads: int, warmup_runs: int,
                      runs: int) -> dict[str, float]:
    started = time.perf_counter()
    result = profiler.measure(model, threads=threads, warmup_runs=warmup_runs, runs=runs, min_seconds=0.0)
    request_ms = (time.perf_counter() - started) * 1000.0
    assert not result["cached"], "the benchmark must not read cached answers"
    timed_ms = result["timed_seconds"] * 1000.0
    return {"median_ms": result["latency_ms"]["p50"], "mean_ms": result["latency_ms"]["mean"],
            "count": result["latency_ms"]["count"], "request_ms": request_ms, "timed_ms": timed_ms,
            "overhead_ms": request_ms - timed_ms, "subprocess_ms": result["subprocess_ms"],
            "worker_overhead_ms": result["subprocess_ms"] - timed_ms,
            "init_ms": result["init_ms"], "throttled": result["throttled"]}


def cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.fmean(values) if len(values) > 1 else 0.0


def run(models: list[Path], threads_list: list[int], repeats: int, warmup_runs: int, runs: int) -> dict[str, Any]:
    server = AgentServer(Config(port=0, memory_limit_mb=2048, timeout_s=300)).start()
    load_before = os.getloadavg()
    rows = []
    try:
        profiler = RemoteProfiler([server.url])
        for model in models:
            for threads in threads_list:
                official, agent = [], []
                for repeat in range(repeats):  # alternate so drift hits both tools alike
                    official.append(official_median_ms(model, threads, warmup_runs, runs + repeat))
                    agent.append(agent_measurement(profiler, model, threads, warmup_runs, runs + repeat))
                official_median = statistics.median(o["median_ms"] for o in official)
                agent_medians = [a["median_ms"] for a in agent]
                agent_median = statistics.median(agent_medians)
                row = {
                    "model": model.name, "model_size_bytes": model.stat().st_size, "threads": threads,
                    "official_median_ms": official_median,
                    "agent_median_ms": agent_median,
                    "difference_pct": 100.0 * (agent_median - official_median) / official_median,
                    # repeat i of both tools ran back to back, so their ratio cancels slow drift
                    "paired_difference_pct": statistics.median(
                        100.0 * (a["median_ms"] - o["median_ms"]) / o["median_ms"] for a, o in zip(agent, official)),
                    "agent_cv_pct": 100.0 * cv(agent_medians),
                    "official_cv_pct": 100.0 * cv([o["median_ms"] for o in official]),
                    "agent_overhead_ms": statistics.median(a["overhead_ms"] for a in agent),
                    "agent_worker_overhead_ms": statistics.median(a["worker_overhead_ms"] for a in agent),
                    "agent_init_ms": statistics.median(a["init_ms"] for a in agent),
                    "official_wall_ms": statistics.median(o["wall_ms"] for o in official),
                    "agent_request_ms": statistics.median(a["request_ms"] for a in agent),
                    "throttled": any(a["throttled"] for a in agent),
                    "official": official, "agent": agent,
                }
                logger.info("%s threads=%d: official %.3f ms, agent %.3f ms (%+.2f%%), agent CV %.2f%%, "
                            "overhead %.0f ms",
                            model.name, threads, official_median, agent_median, row["difference_pct"],
                            row["agent_cv_pct"], row["agent_overhead_ms"])
                rows.append(row)
    finally:
        server.shutdown()
    return {"device": describe_device(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "repeats": repeats, "warmup_runs": warmup_runs, "runs": runs,
            "command": " ".join([Path(sys.executable).name, *sys.argv]), "rows": rows}


def markdown_table(report: dict[str, Any]) -> str:
    lines = ["| model | threads | official median (ms) | agent median (ms) | difference | paired difference "
             "| agent CV (5 runs) "
             "| official CV | agent overhead / request (ms) | of which in the worker process (ms) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        lines.append(f"| {row['model']} | {row['threads']} | {row['official_median_ms']:.3f} | "
                     f"{row['agent_median_ms']:.3f} | {row['difference_pct']:+.2f}% | "
                     f"{row['paired_difference_pct']:+.2f}% | "
                     f"{row['agent_cv_pct']:.2f}% | "
                     f"{row['official_cv_pct']:.2f}% | {row['agent_overhead_ms']:.0f} | "
                     f"{row['agent_worker_overhead_ms']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", type=Path, help=".tflite to use (repeatable)")
    parser.add_argument("--models-dir", type=Path, default=Path(tempfile.gettempdir()) / "edge_profiler_bench_models")
    parser.add_argument("--threads", type=int, action="append", help="thread counts (default 1 and 2)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup-runs", type=int, default=5)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("edge_profiler.access").setLevel(logging.WARNING)
    models = args.model or ensure_models(args.models_dir)
    report = run(models, args.threads or [1, 2], args.repeats, args.warmup_runs, args.runs)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2))
    print(markdown_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
