"""Read-out of the yardstick measurement (docs/supernet.md, "The yardstick's own noise, measured").

How reliable is the issue's yardstick, one 3-epoch scratch training per subnet? Its test-retest
Kendall tau (scratch seed 1 against scratch seed 0 on the same 24 subnets) bounds what any predictor
can show against it: a measure cannot correlate with another better than it correlates with itself
(Spearman 1904, "The proof and measurement of association between two things", the attenuation
argument). Then every ``base`` supernet training against each scratch seed and against their mean,
and ensembles of supernets (inherited accuracies averaged over k trainings, every combination).
Intervals: 95 % percentile bootstrap over subnets (Efron & Tibshirani 1993, ch. 13), the same
resampled subnets for every reading.

Run: ``python -m benchmarks.supernet_yardstick [--json]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.supernet_knobs import RESAMPLES, SEED, TAU_TARGET, _interval, _tau, bootstrap_taus, tau_rule

logger = logging.getLogger("supernet_yardstick")

RESULTS = Path("benchmarks/results")
SCRATCH = (RESULTS / "supernet_ranking.json", RESULTS / "supernet_yardstick" / "scratch_s1.json")
SUPERNETS = RESULTS / "supernet_seeds"

Column = dict[str, float]  # subnet name -> int8 validation accuracy


@dataclass(frozen=True)
class Reading:
    """Kendall tau of one accuracy column (``prediction``) against another (``reference``)."""

    prediction: str
    reference: str
    kendall_tau: float
    kendall_tau_ci95: tuple[float, float]


def column(result: dict[str, Any], key: str, architectures: dict[str, str]) -> Column:
    """``name -> row[key]`` of a ``benchmarks.supernet_ranking`` result; every row's architecture must match
    ``architectures`` (filled by the first result read), so all columns are of the same subnets."""
    out = {}
    for row in result["rows"]:
        known = architectures.setdefault(row["name"], row["architecture"])
        if known != row["architecture"]:
            raise ValueError(f"{row['name']} is {row['architecture']} here but {known} in an earlier result")
        if row.get(key) is not None:
            out[row["name"]] = float(row[key])
    return out


def mean_column(columns: list[Column]) -> Column:
    """The mean accuracy per subnet over ``columns`` (subnets present in all of them)."""
    names = set.intersection(*(set(c) for c in columns))
    return {name: statistics.fmean(c[name] for c in columns) for name in names}


def reading(prediction: tuple[str, Column], reference: tuple[str, Column], draws: np.ndarray,
            names: list[str]) -> Reading:
    """Tau of ``prediction`` against ``reference`` over ``names``, with its bootstrap interval."""
    x = np.array([prediction[1][n] for n in names])
    y = np.array([reference[1][n] for n in names])
    return Reading(prediction[0], reference[0], round(_tau(x, y), 4), _interval(bootstrap_taus(x, y, draws)))


def _ensembles(supernets: dict[str, Column], references: list[tuple[str, Column]], draws: np.ndarray,
               names: list[str]) -> list[dict[str, Any]]:
    out = []
    for k in range(1, len(supernets) + 1):
        for ref in references:
            readings = [reading((" + ".join(combo), mean_column([supernets[c] for c in combo])), ref, draws, names)
                        for combo in itertools.combinations(sorted(supernets), k)]
            taus = [r.kendall_tau for r in readings]
            out.append({"k": k, "reference": ref[0], "combinations": len(readings),
                        "kendall_tau_mean": round(statistics.fmean(taus), 4), "kendall_tau_min": min(taus),
                        "kendall_tau_max": max(taus), "readings": [asdict(r) for r in readings]})
    return out


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def read_out(scratch_paths: list[Path], supernet_paths: list[Path], *, resamples: int = RESAMPLES,
             seed: int = SEED) -> dict[str, Any]:
    """The yardstick's test-retest tau, each supernet against each scratch seed and their mean, ensembles."""
    if len(scratch_paths) < 2 or not supernet_paths:
        raise ValueError("need at least two scratch results and one supernet result")
    architectures: dict[str, str] = {}
    scratch = {f"scratch seed {i}": column(_load(p), "accuracy_int8_scratch", architectures)
               for i, p in enumerate(scratch_paths)}
    supernets = {p.stem: column(_load(p), "accuracy_int8_inherited", architectures) for p in supernet_paths}
    names = sorted(set.intersection(*(set(c) for c in [*scratch.values(), *supernets.values()])))
    if len(names) < 3:
        raise ValueError(f"only {len(names)} subnets are scored in every result")
    draws = np.random.default_rng(seed).integers(0, len(names), size=(resamples, len(names)))
    first, *others = scratch.items()
    mean = ("scratch mean", mean_column(list(scratch.values())))
    references = [first, mean]
    retest = [reading(other, first, draws, names) for other in others]
    per_supernet = [reading(s, ref, draws, names) for s in supernets.items() for ref in [*scratch.items(), mean]]
    secondary = [r.kendall_tau for r in per_supernet if r.reference == mean[0]]
    return {"benchmark": "supernet_yardstick", "n_subnets": len(names), "resamples": resamples, "seed": seed,
            "scratch": [str(p) for p in scratch_paths], "supernets": [str(p) for p in supernet_paths],
            "test_retest": [asdict(r) for r in retest], "per_supernet": [asdict(r) for r in per_supernet],
            "secondary_rule_against_scratch_mean": tau_rule(secondary, TAU_TARGET),
            "ensembles": _ensembles(supernets, references, draws, names)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", type=Path, nargs="+", default=list(SCRATCH),
                        help="scratch results in seed order; the first is the issue's yardstick")
    parser.add_argument("--supernets", type=Path, nargs="+",
                        help=f"supernet results (default: {SUPERNETS}/base_s*.json)")
    parser.add_argument("--out", type=Path, default=RESULTS / "supernet_yardstick.json")
    parser.add_argument("--json", action="store_true", help="print the read-out JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        payload = read_out(args.scratch, args.supernets or sorted(SUPERNETS.glob("base_s*.json")))
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    for r in payload["test_retest"] + payload["per_supernet"]:
        logger.info("%s vs %s: tau %.3f %s", r["prediction"], r["reference"], r["kendall_tau"], r["kendall_tau_ci95"])
    for e in payload["ensembles"]:
        logger.info("ensemble k=%d vs %s: tau mean %.3f (%.3f-%.3f over %d)", e["k"], e["reference"],
                    e["kendall_tau_mean"], e["kendall_tau_min"], e["kendall_tau_max"], e["combinations"])
    if args.json:
        print(json.dumps(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
