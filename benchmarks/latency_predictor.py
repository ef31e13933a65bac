"""Latency predictor benchmark (issue 15; protocol and targets in docs/latency_predictor.md).

Calibrates on the default space (seed 0, ``--budget-minutes``), then measures ``--archs`` random
architectures per resolution drawn with another seed (none in calibration: their names are checked
against the calibration log), ``--rounds`` interleaved rounds (every model once per round), truth =
median of the rounds' p50. Prints and writes JSON: share within +-10 %, Spearman, load averages.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path

from scipy.stats import spearmanr


def _p50(profiler, model, params):
    from edge_profiler.errors import ProfilerError

    try:
        return profiler.measure(model, **params)["latency_ms"]["p50"]
    except ProfilerError:  # rejected by the runtime (reported as skipped)
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="benchmarks/results/latency_predictor")
    parser.add_argument("--budget-minutes", type=float, default=20.0)
    parser.add_argument("--archs", type=int, default=50, help="per resolution")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from edge_profiler.client import LocalProfiler
    from nas.trial.predictor.calibrate import calibrate, random_architecture, read_samples
    from nas.trial.predictor.kernel_models import arch_tflite
    from search_spaces import SearchSpace

    out = Path(args.out)
    params = {"threads": 1, "use_xnnpack": True, "runs": 20, "warmup_runs": 3}
    profiler, loads = LocalProfiler(), [os.getloadavg()]
    space = SearchSpace.default().with_input(resolutions=(96, 160), channels=3, num_classes=1000)
    start = time.monotonic()
    predictor = calibrate(space, profiler, params, out / "calibration", budget_minutes=args.budget_minutes)
    calibration_s = time.monotonic() - start
    used = {s.name for s in read_samples(out / "calibration")}
    rng, archs = random.Random(12345), []
    for resolution in (96, 160):
        sub = space.with_input(resolutions=(resolution,))
        while len([a for a in archs if a.resolution == resolution]) < args.archs:
            arch = random_architecture(sub, rng)
            if f"arch:{arch.to_string()}" not in used:
                archs.append(arch)
    models = [arch_tflite(a) for a in archs]
    rounds = []
    for _ in range(args.rounds):  # interleaved: every model once per round
        rounds.append([_p50(profiler, m, params) for m in models])
        loads.append(os.getloadavg())
    keep = [i for i in range(len(archs)) if all(r[i] is not None for r in rounds)]
    skipped = len(archs) - len(keep)
    archs, rounds = [archs[i] for i in keep], [[r[i] for i in keep] for r in rounds]
    truth = [statistics.median(r[i] for r in rounds) for i in range(len(archs))]
    predicted = [predictor.predict(a).latency_ms_p50 for a in archs]
    errors = [p / t - 1 for p, t in zip(predicted, truth)]
    result = {"skipped_unmeasurable": skipped, "calibration_samples": predictor.samples,
              "calibration_s": round(calibration_s, 1),
              "archs": len(archs), "rounds": args.rounds,
              "within_10pct": sum(abs(e) <= 0.10 for e in errors) / len(errors),
              "spearman": float(spearmanr(predicted, truth).statistic),
              "median_abs_error": statistics.median(abs(e) for e in errors),
              "round_spread_median": statistics.median((max(r[i] for r in rounds) / min(r[i] for r in rounds) - 1)
                                                       for i in range(len(archs))),
              "load_averages": loads,
              "per_arch": [{"arch": a.to_string(), "measured": t, "predicted": p}
                           for a, t, p in zip(archs, truth, predicted)]}
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "per_arch"}, indent=1))


if __name__ == "__main__":
    main()
