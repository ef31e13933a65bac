"""Read-out of the supernet knob experiments (docs/supernet.md, "What moves tau").

Reads one ``benchmarks.supernet_ranking`` result JSON per variant (``benchmarks/supernet_knobs.sh``
writes them to ``benchmarks/results/supernet_knobs/``) and gives, per variant, Kendall tau-b and
Spearman rho between inherited and scratch int8 accuracy with a 95 % percentile-bootstrap interval
over subnets (Efron & Tibshirani 1993, ch. 13), and per variant the paired bootstrap interval of its
tau minus its reference's tau (the same resampled subnets for both). The reference is ``base``, except
for a rescoring ``<variant>_bn<N>``, whose reference is ``<variant>`` (the same supernet).

Run: ``python -m benchmarks.supernet_knobs [--json]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger("supernet_knobs")

BASE = "base"
RESAMPLES = 2000
SEED = 0


@dataclass(frozen=True)
class Variant:
    """One supernet variant's ranking quality and cost."""

    name: str
    epochs: int | None
    distillation: bool | None
    bn_images: int
    n_subnets: int
    kendall_tau: float
    kendall_tau_ci95: tuple[float, float]
    spearman: float
    reference: str | None
    tau_minus_reference: float | None
    tau_minus_reference_ci95: tuple[float, float] | None
    seconds_per_candidate: float | None
    supernet_train_minutes: float | None
    load_average_mean: float | None


def _pairs(result: dict[str, Any]) -> dict[str, tuple[float, float]]:
    return {row["name"]: (row["accuracy_int8_inherited"], row["accuracy_int8_scratch"]) for row in result["rows"]
            if row["accuracy_int8_inherited"] is not None and row["accuracy_int8_scratch"] is not None}


def _tau(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import kendalltau

    value = kendalltau(x, y).statistic
    return float(value) if np.isfinite(value) else 0.0


def bootstrap_taus(x: np.ndarray, y: np.ndarray, draws: np.ndarray) -> list[float]:
    """Kendall tau of ``x`` against ``y`` on each bootstrap resample (a row of subnet indices in ``draws``)."""
    return [_tau(x[idx], y[idx]) for idx in draws]


def _interval(values: list[float]) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def reference_of(name: str) -> str | None:
    """``base`` for a supernet variant, the variant itself for its rescoring ``<variant>_bn<N>``."""
    if "_bn" in name:
        return name.rsplit("_bn", 1)[0]
    return None if name == BASE else BASE


def _variant(name: str, result: dict[str, Any], base: dict[str, tuple[float, float]] | None,
             resamples: np.ndarray) -> Variant:
    from scipy.stats import spearmanr

    pairs = _pairs(result)
    names = sorted(pairs)
    if len(names) != resamples.shape[1]:
        raise ValueError(f"{name}: {len(names)} scored subnets, expected {resamples.shape[1]}")
    own = np.array([pairs[n] for n in names])
    taus = bootstrap_taus(own[:, 0], own[:, 1], resamples)
    tau = _tau(own[:, 0], own[:, 1])
    diff = diff_ci = None
    if base is not None:
        ref = np.array([base[n] for n in names])
        diff = tau - _tau(ref[:, 0], ref[:, 1])
        diff_ci = _interval([t - _tau(ref[idx, 0], ref[idx, 1]) for t, idx in zip(taus, resamples)])
    supernet = result.get("supernet") or {}
    config = supernet.get("config") or {}
    loads = [row["loadavg_inherited"][0] for row in result["rows"] if row.get("loadavg_inherited")]
    rho = float(spearmanr(own[:, 0], own[:, 1]).statistic)
    return Variant(name=name, epochs=config.get("epochs"), distillation=config.get("distillation"),
                   bn_images=result["bn_calibration_images"], n_subnets=len(names), kendall_tau=round(tau, 4),
                   kendall_tau_ci95=_interval(taus), spearman=round(rho, 4),
                   reference=reference_of(name) if base is not None else None,
                   tau_minus_reference=None if diff is None else round(diff, 4), tau_minus_reference_ci95=diff_ci,
                   seconds_per_candidate=result.get("seconds_per_candidate"),
                   supernet_train_minutes=result.get("supernet_train_minutes"),
                   load_average_mean=round(statistics.mean(loads), 2) if loads else None)


def read_out(folder: Path, *, resamples: int = RESAMPLES, seed: int = SEED) -> list[Variant]:
    """Every finished ``<variant>.json`` in ``folder`` scored, each against its :func:`reference_of`."""
    results = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))}
    if not results:
        raise ValueError(f"no variant results in {folder}")
    counts = {name: len(_pairs(result)) for name, result in results.items()}
    n = max(counts.values())
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    finished = {name: result for name, result in results.items() if counts[name] == n}

    def reference(name: str) -> dict[str, tuple[float, float]] | None:
        ref = reference_of(name)
        return _pairs(finished[ref]) if ref in finished else None

    return [_variant(name, result, reference(name), draws) for name, result in finished.items()]


TAU_TARGET = 0.6


def tau_rule(taus: list[float], target: float = TAU_TARGET) -> dict[str, Any]:
    """The pre-registered rule of docs/supernet.md, "Does tau reproduce?": the mean tau over trainings is
    >= ``target`` and all but at most one training reach it."""
    if not taus:
        raise ValueError("no finished trainings to summarize")
    reached = sum(t >= target for t in taus)
    mean = statistics.mean(taus)
    return {"kendall_tau": taus, "mean": round(mean, 4), "min": min(taus), "max": max(taus), "target": target,
            "reaching_target": reached, "met": bool(mean >= target and reached >= len(taus) - 1)}


def seed_summary(variants: list[Variant], target: float = TAU_TARGET) -> dict[str, Any]:
    """Tau over trainings of one configuration: :func:`tau_rule` of their taus, with their names."""
    if not variants:
        raise ValueError("no finished trainings to summarize")
    return {"trainings": [v.name for v in variants]} | tau_rule([v.kendall_tau for v in variants], target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results/supernet_knobs"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/supernet_knobs.json"))
    parser.add_argument("--json", action="store_true", help="print the read-out JSON")
    parser.add_argument("--seeds", action="store_true",
                        help="the results are trainings of one configuration: add their tau summary")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        variants = read_out(args.results)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {args.results}: {exc}", file=sys.stderr)
        return 2
    payload = {"benchmark": "supernet_knobs", "resamples": RESAMPLES, "seed": SEED,
               "variants": [asdict(v) for v in variants]}
    if args.seeds:
        payload["seeds"] = seed_summary(variants)
        logger.info("over %d trainings: %s", len(variants), payload["seeds"])
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    for v in variants:
        logger.info("%s: tau %.3f %s, rho %.3f, minus %s %s %s, %s s per candidate", v.name, v.kendall_tau,
                    v.kendall_tau_ci95, v.spearman, v.reference, v.tau_minus_reference, v.tau_minus_reference_ci95,
                    v.seconds_per_candidate)
    if args.json:
        print(json.dumps(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
