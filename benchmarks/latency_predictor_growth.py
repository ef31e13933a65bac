"""How many calibration samples the latency predictor needs: refits on prefixes of a calibration log.

No measurement: the predictor (nas.trial.predictor.model.fit, nn-Meter-style kernel regression) is
refitted on the first N samples of ``samples.jsonl`` (in the order the calibration measured them) and
scored against the measured test architectures of a finished benchmark (``result.json``'s per_arch).
Profiler time for N samples is estimated as N x (calibration seconds / samples) of the same run.
The share within +-10 % comes with its 95 % Clopper-Pearson interval (scipy's binomtest).

    .venv/bin/python benchmarks/latency_predictor_growth.py --calibration DIR --result result.json \
        --calibration-time calibration_time.json --json
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from scipy.stats import binomtest, spearmanr

log = logging.getLogger("latency_predictor_growth")


def clopper_pearson(successes: int, trials: int) -> tuple[float, float]:
    """Exact (Clopper-Pearson) 95 % interval of a binomial share."""
    ci = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="exact")
    return float(ci.low), float(ci.high)


def score(predictor, tests: list[tuple[object, float]]) -> dict[str, float]:
    """Within-+-10 % share (with its Clopper-Pearson interval), Spearman and median abs error."""
    predicted = [predictor.predict(arch, unseen="warn").latency_ms_p50 for arch, _ in tests]
    measured = [m for _, m in tests]
    errors = sorted(abs(p / m - 1) for p, m in zip(predicted, measured))
    within = sum(e <= 0.10 for e in errors)
    low, high = clopper_pearson(within, len(errors))
    return {"within_10pct": within / len(errors), "within_10pct_ci95": [low, high],
            "spearman": float(spearmanr(predicted, measured).statistic),
            "median_abs_error": errors[len(errors) // 2], "archs": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calibration", required=True, type=Path, help="folder with samples.jsonl")
    parser.add_argument("--result", required=True, type=Path, help="benchmark result.json with per_arch")
    parser.add_argument("--calibration-time", type=Path, help="json with calibration_s and samples")
    parser.add_argument("--steps", default="25,50,100,200,300,400,500,600,all")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from nas.trial.predictor.calibrate import read_samples
    from nas.trial.predictor.model import DeviceKey, fit
    from search_spaces.architecture import Architecture

    logging.basicConfig(level=logging.WARNING)
    samples = read_samples(args.calibration)
    key = DeviceKey(**json.loads((args.calibration / "device_key.json").read_text()))
    per_arch = json.loads(args.result.read_text())["per_arch"]
    tests = [(Architecture.from_string(row["arch"]), float(row["measured"])) for row in per_arch]
    s_per_sample = None
    if args.calibration_time:
        timing = json.loads(args.calibration_time.read_text())
        s_per_sample = timing["calibration_s"] / timing["samples"]
    rows = []
    for step in args.steps.split(","):
        n = len(samples) if step == "all" else min(int(step), len(samples))
        prefix = samples[:n]
        row = {"samples": n, "whole_models": sum(s.whole_model for s in prefix),
               "profiler_minutes_est": None if s_per_sample is None else n * s_per_sample / 60}
        row.update(score(fit(prefix, key), tests))
        rows.append(row)
        log.warning("N=%d: within +-10 %% %.3f, Spearman %.3f", n, row["within_10pct"], row["spearman"])
    print(json.dumps(rows, indent=1) if args.json else "\n".join(map(str, rows)))


if __name__ == "__main__":
    main()
