"""`edge-profiler bench MODEL.tflite`: measure here (or on an agent) and print a summary in the
spirit of LiteRT's ``benchmark_model`` (or the full result with ``--json``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

from edge_profiler.client import LocalProfiler, RemoteProfiler
from edge_profiler.compat import to_benchmark_litert_json
from edge_profiler.errors import ProfilerError
from edge_profiler.litert import RUNTIME_NAMES
from edge_profiler.params import MeasureParams
from edge_profiler.sandbox import SandboxLimits
from edge_profiler.server import TOKEN_ENV

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help=".tflite file")
    parser.add_argument("--threads", type=int, default=MeasureParams.threads)
    parser.add_argument("--warmup-runs", type=int, default=MeasureParams.warmup_runs)
    parser.add_argument("--runs", type=int, default=MeasureParams.runs, help="minimum number of timed runs")
    parser.add_argument("--min-seconds", type=float, default=MeasureParams.min_seconds,
                        help="minimum duration of the timed runs")
    parser.add_argument("--no-xnnpack", action="store_true", help="disable the XNNPACK delegate")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--litert-json", action="store_true",
                        help="print the result in the layout of benchmark_litert_model.py --result_json")
    parser.add_argument("--memory-limit-mb", type=int, default=SandboxLimits.memory_limit_mb)
    parser.add_argument("--timeout-s", type=float, default=SandboxLimits.timeout_s)
    parser.add_argument("--runtime", default="auto", choices=("auto", *RUNTIME_NAMES))
    parser.add_argument("--remote", action="append", metavar="URL",
                        help="measure on this agent instead (repeatable)")
    parser.add_argument("--token-file", type=Path, help=f"bearer token for --remote (else ${TOKEN_ENV})")


def _xnnpack_text(requested: bool, applied: bool | None) -> str:
    if not requested:
        return "off"
    return {True: "on (applied)", False: "requested but NOT applied (built-in kernels ran)"}.get(applied, "on")


def format_summary(result: dict[str, Any], model_name: str) -> str:
    """A ``benchmark_model``-style text summary of one result."""
    latency = result["latency_ms"]
    params = result["params"]
    device = result.get("device") or {}
    warmup = result.get("warmup_ms") or {}
    lines = [
        f"Model:                 {model_name} ({result['model_size_bytes']} bytes, "
        f"sha256 {result['model_sha256'][:16]})",
        f"Runtime:               {result['runtime']['name']} {result['runtime']['version']}, "
        f"threads {params['threads']}, XNNPACK {_xnnpack_text(params['use_xnnpack'], result.get('xnnpack_applied'))}",
        f"Device:                {device.get('machine_model', '?')} ({device.get('architecture', '?')}"
        f"{', ' + device['cpu_core'] if device.get('cpu_core') else ''}), "
        f"{device.get('os', '?')}, governor {','.join(device.get('governors') or []) or 'n/a'}",
        f"Measured by:           {result['measured_by']}{' (cached)' if result.get('cached') else ''}",
        f"Initialization:        {result['init_ms']:.3f} ms",
        f"First inference:       {result['first_inference_ms']:.3f} ms",
    ]
    if warmup.get("count"):
        lines.append(f"Warm-up (avg):         {warmup['mean']:.3f} ms ({warmup['count']} runs)")
    lines += [
        f"Inference ({latency['count']} runs): mean {latency['mean']:.3f} ms, std {latency['std']:.3f}, "
        f"min {latency['min']:.3f}, p5 {latency['p5']:.3f}, p50 {latency['p50']:.3f}, p90 {latency['p90']:.3f}, "
        f"p95 {latency['p95']:.3f}, max {latency['max']:.3f}",
        f"Peak memory:           {result['peak_memory_mb']:.1f} MB (process RSS high-water mark)",
        f"Throttled:             {'YES' if result.get('throttled') else 'no'}",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        if args.remote:
            token = args.token_file.read_text().strip() if args.token_file else os.environ.get(TOKEN_ENV)
            profiler: LocalProfiler | RemoteProfiler = RemoteProfiler(args.remote, token=token)
        else:
            profiler = LocalProfiler(memory_limit_mb=args.memory_limit_mb, timeout_s=args.timeout_s,
                                     runtime=args.runtime)
        result = profiler.measure(args.model, threads=args.threads, warmup_runs=args.warmup_runs, runs=args.runs,
                                  min_seconds=args.min_seconds, use_xnnpack=not args.no_xnnpack)
    except ProfilerError as exc:
        logger.error("%s", exc)
        if args.json:
            print(json.dumps(exc.to_json(), indent=2))
        return 1
    except (OSError, ValueError) as exc:
        logger.error("%s", exc)
        return 2
    if args.litert_json:
        print(json.dumps(to_benchmark_litert_json(result, model=str(args.model)), indent=2))
    else:
        print(json.dumps(result, indent=2) if args.json else format_summary(result, args.model.name))
    return 0
