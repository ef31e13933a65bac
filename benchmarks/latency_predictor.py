"""Latency predictor benchmark (issue 15; protocol and targets in docs/latency_predictor.md).

Calibration: on the default space at 96 + 160 px (seed 0), bounded by ``--calibrate-minutes`` of
profiler time into ``<out>/calibration`` (resumable; its time, sample count and load averages go to
``<out>/calibration_time.json``), or an existing calibration reused with ``--calibration DIR``.

Test: ``--archs`` random architectures per resolution of ``--test-space`` (``default``, or the
uncalibrated ``other_widths`` / ``fused_heavy`` of ``benchmarks/spaces/``), drawn with seed 12345,
none in the calibration log; ``--rounds`` interleaved rounds (every model once per round); truth =
median of the rounds' p50. The test phase is resumable: each measurement is appended to
``<out>/test_<space>/rounds.jsonl`` as it is taken and the converted models are kept, so a run killed
half way keeps its measured rounds. Prints and writes JSON (``result.json`` for the default space,
``result_<space>.json`` otherwise): share within +-10 %, Spearman, round spread, load averages, and
for a reused calibration the ratio now / then of ``--recheck`` of its whole models re-measured.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import time
from pathlib import Path

from scipy.stats import spearmanr

from nas.trial.predictor.calibrate import PLANS

SPACES_DIR = Path(__file__).resolve().parent / "spaces"
TEST_SPACES = ("default", "other_widths", "fused_heavy")
PARAMS = {"threads": 1, "use_xnnpack": True, "runs": 20, "warmup_runs": 3}
RESOLUTIONS = (96, 160)
TEST_SEED = 12345


def _space(name: str):  # noqa: ANN202 - search_spaces.SearchSpace
    from search_spaces import SearchSpace

    space = SearchSpace.default() if name == "default" else SearchSpace.from_yaml(SPACES_DIR / f"{name}.yaml")
    return space.with_input(resolutions=RESOLUTIONS, channels=3, num_classes=1000)


def _p50(profiler, model, params):
    from edge_profiler.errors import ProfilerError

    try:
        return profiler.measure(model, **params)["latency_ms"]["p50"]
    except ProfilerError:  # rejected by the runtime (reported as skipped)
        return None


def calibration_phase(args, profiler, out: Path):
    """The predictor and its calibration folder: ``--calibration`` reused, else calibrated here."""
    from nas.trial.predictor.calibrate import PREDICTOR_FILE, calibrate
    from nas.trial.predictor.model import Predictor

    if args.calibration:
        folder = Path(args.calibration)
        predictor = Predictor.load(folder / PREDICTOR_FILE)
        if args.refit:  # today's fit() on the folder's samples; the folder itself is left as it was
            from nas.trial.predictor.calibrate import read_samples
            from nas.trial.predictor.model import fit

            predictor = fit(read_samples(folder), predictor.key)
            predictor.save(out / "predictor_refit.json")
        return predictor, folder
    folder, loads, start = out / "calibration", [os.getloadavg()], time.monotonic()
    predictor = calibrate(_space("default"), profiler, PARAMS, folder, budget_minutes=args.calibrate_minutes,
                          max_samples=args.max_samples, weighting=args.plan)
    loads.append(os.getloadavg())
    if args.calibrate_minutes > 0:  # 0 refits what the folder holds: no calibration time to record
        record = {"calibration_s": time.monotonic() - start, "samples": predictor.samples, "loads": loads,
                  "budget_minutes": args.calibrate_minutes, "max_samples": args.max_samples, "plan": args.plan}
        (out / "calibration_time.json").write_text(json.dumps(record))
    return predictor, folder


def recheck_calibration(folder: Path, profiler, count: int) -> dict:
    """Re-measure ``count`` whole-model samples of a reused calibration: is this machine as fast now?"""
    from nas.trial.predictor.calibrate import read_samples
    from nas.trial.predictor.kernel_models import arch_tflite
    from search_spaces.architecture import Architecture

    wholes = [s for s in read_samples(folder) if s.whole_model][:count]
    ratios = []
    for sample in wholes:
        now = _p50(profiler, arch_tflite(Architecture.from_string(sample.name.removeprefix("arch:"))), PARAMS)
        if now is not None:
            ratios.append(now / sample.latency_ms_p50)
    return {"models": len(ratios), "median_ratio_now_to_calibration": statistics.median(ratios) if ratios else None,
            "ratios": ratios}


def draw_test_architectures(space_name: str, per_resolution: int, used: set[str], seed: int = TEST_SEED) -> list:
    """``per_resolution`` random architectures at each resolution, seed 12345, none in ``used``."""
    from nas.trial.predictor.calibrate import random_architecture

    space, rng, archs = _space(space_name), random.Random(seed), []
    for resolution in RESOLUTIONS:
        sub = space.with_input(resolutions=(resolution,))
        while len([a for a in archs if a.resolution == resolution]) < per_resolution:
            arch = random_architecture(sub, rng)
            if f"arch:{arch.to_string()}" not in used:
                archs.append(arch)
    return archs


def _model(arch, folder: Path, index: int) -> bytes:
    from nas.trial.predictor.kernel_models import arch_tflite

    path = folder / "models" / f"{index:04d}.tflite"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(arch_tflite(arch))
        tmp.replace(path)
    return path.read_bytes()


def measured_rounds(archs: list, rounds: int, profiler, folder: Path) -> tuple[list[list], list]:
    """``rounds`` x len(archs) p50 values (None: unmeasurable), resumed from ``rounds.jsonl``."""
    log, done = folder / "rounds.jsonl", {}
    folder.mkdir(parents=True, exist_ok=True)
    if log.is_file():
        for line in log.read_text().splitlines():
            try:
                entry = json.loads(line)
                if entry["arch"] == archs[entry["index"]].to_string():
                    done[(entry["round"], entry["index"])] = entry["p50_ms"]
            except (ValueError, KeyError, IndexError):
                logging.warning("ignoring an incomplete line of %s", log)
    if done:
        logging.info("resuming the test phase: %d of %d measurements in %s", len(done), rounds * len(archs), log)
    loads = [os.getloadavg()]
    with open(log, "a") as handle:
        if log.stat().st_size and not log.read_bytes().endswith(b"\n"):
            handle.write("\n")  # a kill mid-write: the torn line stays ignored
        for r in range(rounds):  # interleaved: every model once per round
            for i, arch in enumerate(archs):
                if (r, i) in done:
                    continue
                done[(r, i)] = _p50(profiler, _model(arch, folder, i), PARAMS)
                handle.write(json.dumps({"round": r, "index": i, "arch": arch.to_string(), "p50_ms": done[(r, i)],
                                         "load": os.getloadavg()[0]}) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            loads.append(os.getloadavg())
    return [[done[(r, i)] for i in range(len(archs))] for r in range(rounds)], loads


def summary(archs, rounds, predictor, **extra) -> dict:
    """Accuracy figures of ``predictor`` against the median of the measured rounds."""
    keep = [i for i in range(len(archs)) if all(r[i] is not None for r in rounds)]
    skipped = len(archs) - len(keep)
    archs, rounds = [archs[i] for i in keep], [[r[i] for i in keep] for r in rounds]
    truth = [statistics.median(r[i] for r in rounds) for i in range(len(archs))]
    prediction = [predictor.predict(a) for a in archs]
    predicted = [p.latency_ms_p50 for p in prediction]
    errors = [p / t - 1 for p, t in zip(predicted, truth)]
    by_resolution = {str(res): sum(abs(e) <= 0.10 for a, e in zip(archs, errors) if a.resolution == res)
                     / max(1, sum(a.resolution == res for a in archs)) for res in RESOLUTIONS}
    return {"skipped_unmeasurable": skipped, "calibration_samples": predictor.samples, **extra,
            "kernel_model": predictor.kernel_model, "kernel_model_selection": dict(predictor.selection),
            "archs": len(archs), "rounds": len(rounds),
            "within_10pct": sum(abs(e) <= 0.10 for e in errors) / len(errors),
            "within_10pct_by_resolution": by_resolution,
            "within_20pct": sum(abs(e) <= 0.20 for e in errors) / len(errors),
            "spearman": float(spearmanr(predicted, truth).statistic),
            "median_abs_error": statistics.median(abs(e) for e in errors),
            "median_signed_error": statistics.median(errors),
            "round_spread_median": statistics.median((max(r[i] for r in rounds) / min(r[i] for r in rounds) - 1)
                                                     for i in range(len(archs))),
            "archs_with_unseen_kernels": sum(bool(p.unseen) for p in prediction),
            "per_arch": [{"arch": a.to_string(), "measured": t, "predicted": p}
                         for a, t, p in zip(archs, truth, predicted)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/latency_predictor")
    parser.add_argument("--calibration", help="reuse this calibration folder (predictor.json + samples.jsonl)")
    parser.add_argument("--calibrate-minutes", "--budget-minutes", dest="calibrate_minutes", type=float, default=20.0,
                        help="profiler-time budget of a calibration made here (0: use what <out>/calibration holds)")
    parser.add_argument("--max-samples", type=int, default=2000, help="calibration samples at most")
    parser.add_argument("--recheck", type=int, default=5,
                        help="with --calibration: re-measure this many of its whole models (is the machine as fast?)")
    parser.add_argument("--test-space", choices=TEST_SPACES, default="default")
    parser.add_argument("--archs", type=int, default=50, help="test architectures per resolution")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--test-seed", type=int, default=TEST_SEED,
                        help=f"seed of the test architectures ({TEST_SEED}: the one of the earlier runs)")
    parser.add_argument("--refit", action="store_true",
                        help="with --calibration: refit the predictor from its samples with the current fit()")
    parser.add_argument("--plan", choices=PLANS, default="uniform",
                        help="kernel order of a calibration made here (nas.trial.predictor.calibrate.plan)")
    parser.add_argument("--also", metavar="DIR",
                        help="a second calibration folder, refitted and scored on the same measured rounds "
                             "(result_<space>[_seed<n>]_also.json); the test architectures avoid both logs")
    args = parser.parse_args()
    if args.also and not (Path(args.also) / "samples.jsonl").is_file():
        parser.error(f"--also {args.also}: no calibration there (samples.jsonl missing)")
    if args.refit and not args.calibration:
        parser.error("--refit needs --calibration (a calibration made here is fitted by the current fit() already)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from edge_profiler.client import LocalProfiler
    from nas.trial.predictor.calibrate import read_samples

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    profiler = LocalProfiler()
    predictor, calibration = calibration_phase(args, profiler, out)
    recheck = recheck_calibration(calibration, profiler, args.recheck) if args.calibration and args.recheck else None
    used = {s.name for folder in [calibration] + ([Path(args.also)] if args.also else []) for s in read_samples(folder)}
    archs = draw_test_architectures(args.test_space, args.archs, used, args.test_seed)
    tag = args.test_space + ("" if args.test_seed == TEST_SEED else f"_seed{args.test_seed}")
    rounds, loads = measured_rounds(archs, args.rounds, profiler, out / f"test_{tag}")
    result = summary(archs, rounds, predictor, calibration=str(calibration), test_space=args.test_space,
                     calibration_recheck=recheck, load_averages=loads, test_seed=args.test_seed, refit=args.refit)
    name = "result.json" if tag == "default" else f"result_{tag}.json"
    (out / name).write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "per_arch"}, indent=1))
    if args.also:  # the same truth, another calibration's predictor (fitted now, its folder left as it was)
        from nas.trial.predictor.model import fit

        other = fit(read_samples(Path(args.also)), predictor.key)
        also = summary(archs, rounds, other, calibration=args.also, test_space=args.test_space, load_averages=loads,
                       test_seed=args.test_seed, refit=True)
        (out / name.replace(".json", "_also.json")).write_text(json.dumps(also, indent=1))
        print(json.dumps({k: v for k, v in also.items() if k != "per_arch"}, indent=1))


if __name__ == "__main__":
    main()
