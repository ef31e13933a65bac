"""`nas latency`: calibrate a per-device latency predictor, predict with it, measure for comparison.

``calibrate`` measures kernel models of the search space through the configured profiler (the local
one, or the agents on a Pi) and writes ``predictor.json`` (resumable, bounded by ``--budget-minutes``);
``predict`` and ``measure`` print ``{"latency_ms_p50": ...}`` for one architecture or baseline, so
either can be checked against the other (issue 15, docs/latency_predictor.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
# The printed JSON keys (``latency_ms_p50`` as the issue asks) and the profiler result's.
_P50_KEY, _ARCH_KEY, _LATENCY, _P50 = "latency_ms_p50", "architecture", "latency_ms", "p50"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nas.trial.predictor.calibrate import PLANS

    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    cal = sub.add_parser("calibrate", help="measure kernel models of the space and fit predictor.json")
    cal.add_argument("--out", required=True, help="calibration folder (samples.jsonl, predictor.json); resumable")
    cal.add_argument("--budget-minutes", type=float, default=20.0, help="stop measuring after this long")
    cal.add_argument("--max-samples", type=int, default=400, help="kernel and whole-model samples at most")
    cal.add_argument("--seed", type=int, default=0)
    cal.add_argument("--plan", choices=PLANS, default="uniform",
                     help="kernel order: as random architectures bring them, or more of the large-activation ones")
    cal.add_argument("--quiet", action="store_true", help="no progress bar")
    for action, text in (("predict", "predicted p50 latency of one architecture"),
                         ("measure", "measured p50 latency of its untrained int8 model")):
        one = sub.add_parser(action, help=text)
        one.add_argument("--arch", required=True, help="architecture string or baseline name")
        one.add_argument("--resolution", type=int, default=None, help="input size in pixels")
        one.add_argument("--json", action="store_true", help='print {"latency_ms_p50": ...}')
        if action == "predict":
            one.add_argument("--predictor", required=True, help="predictor.json of `nas latency calibrate`")
            one.add_argument("--unseen-kernels", choices=("warn", "refuse"), default="warn")
    for sub_parser in sub.choices.values():
        sub_parser.add_argument("--config", default=None, help="search config YAML (space, profiler settings)")


def _architecture(text: str, resolution: int | None) -> Any:
    from search_spaces import Architecture, get_baseline, list_baselines

    try:
        arch = Architecture.from_string(text) if text.startswith("in") else get_baseline(text)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"--arch {text!r} is neither an architecture string nor a baseline "
                         f"({', '.join(list_baselines())}): {exc}") from None
    return arch.with_input(resolution=resolution) if resolution else arch


def _calibrate(args: argparse.Namespace, config: Any) -> dict[str, Any]:
    from nas.strategies._setup import build_space
    from nas.trial.evaluation import make_profiler
    from nas.trial.predictor.calibrate import PREDICTOR_FILE, calibrate

    space = build_space(config, channels=config.search_space_channels or 3, num_classes=1000)
    predictor = calibrate(space, make_profiler(config.profiler), config.profiler.measure_kwargs(), args.out,
                          budget_minutes=args.budget_minutes, seed=args.seed, max_samples=args.max_samples,
                          progress=not args.quiet, weighting=args.plan)
    return {"predictor": str(Path(args.out) / PREDICTOR_FILE), "samples": predictor.samples,
            "key": predictor.key.__dict__, "kernel_model": predictor.kernel_model,
            "kernel_model_selection": dict(predictor.selection)}


def _predict(args: argparse.Namespace, config: Any) -> dict[str, Any]:
    from nas.trial.predictor.model import DeviceKey, Predictor

    predictor = Predictor.load(args.predictor)
    key = predictor.key
    predictor.check_key(DeviceKey(key.cpu_model, key.architecture, key.runtime, key.runtime_version,
                                  config.profiler.threads, config.profiler.use_xnnpack))
    arch = _architecture(args.arch, args.resolution)
    return {_P50_KEY: predictor.predict(arch, unseen=args.unseen_kernels).latency_ms_p50,
            _ARCH_KEY: arch.to_string()}


def _measure(args: argparse.Namespace, config: Any) -> dict[str, Any]:
    from nas.trial.evaluation import make_profiler
    from nas.trial.predictor.kernel_models import arch_tflite
    from nas.trial.predictor.model import DeviceKey

    arch = _architecture(args.arch, args.resolution)
    result = make_profiler(config.profiler).measure(arch_tflite(arch), **config.profiler.measure_kwargs())
    return {_P50_KEY: result[_LATENCY][_P50], _ARCH_KEY: arch.to_string(),
            "key": DeviceKey.from_result(result).__dict__}


def run(args: argparse.Namespace) -> int:
    from nas.config import ConfigError, load_config
    from nas.trial.predictor.model import PredictorError

    try:
        config = load_config(args.config)
        result = {"calibrate": _calibrate, "predict": _predict, "measure": _measure}[args.action](args, config)
    except (ConfigError, PredictorError, ValueError, OSError) as exc:
        print(f"nas latency {args.action}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # ProfilerError: an unreachable agent; what was measured is kept
        if type(exc).__name__ != "ProfilerError":
            raise
        print(f"nas latency {args.action}: profiler failed ({exc}); run again to resume, nothing measured is lost",
              file=sys.stderr)
        return 3
    if getattr(args, "json", False):
        print(json.dumps(result))
    else:
        print("\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0
