"""Stage-1 analysis of benchmark v2, maths only: fronts, hypervolume against the run's clock, the
re-scored fronts and the finalists (docs/benchmark_v2_protocol.md, sections 2 and 3).

A row is one trial of a run as :func:`benchmarks.v2.stage1.unit_trials` writes it. Hypervolume is
``nas.pareto.hypervolume`` (exact in 2-D and 3-D) at the protocol's fixed reference point; fronts are
``nas.pareto.non_dominated_mask`` (Deb et al. 2002); the knee is ``nas.pareto.knee_index``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from benchmarks.v2.config import HypervolumeReference
from nas import pareto

ACC_LAT = ("maximize", "minimize")
ACC_LAT_SIZE = ("maximize", "minimize", "minimize")
Row = Mapping[str, Any]


def scored(row: Row, rescored: Mapping[str, float] | None = None) -> float | None:
    """The row's accuracy from the full proxy training: its own, or its re-scoring; None if neither."""
    if row.get("accuracy_source", "trained") == "trained":
        return row.get("accuracy")
    return (rescored or {}).get(row["architecture"])


def candidates(rows: Iterable[Row], *, until_s: float | None = None) -> list[Row]:
    """Counted, complete, feasible trials with all three objectives, first of each architecture,
    finished by ``until_s`` on the run's clock."""
    seen, out = set(), []
    for row in rows:
        if not (row["counted"] and row["complete"] and row["feasible"]) or row["accuracy"] is None \
                or row["latency_ms_p50"] is None or row["size_bytes"] is None:
            continue
        if until_s is not None and row["clock_s"] > until_s or row["architecture"] in seen:
            continue
        seen.add(row["architecture"])
        out.append(row)
    return out


def front(rows: Sequence[Row], accuracy: Sequence[float], *, with_size: bool = False) -> list[int]:
    """Indices of the non-dominated rows on (accuracy, latency[, size]) with the given accuracies."""
    if not rows:
        return []
    matrix = _matrix(rows, accuracy, with_size)
    return [int(i) for i in np.flatnonzero(pareto.non_dominated_mask(matrix, ACC_LAT_SIZE if with_size else ACC_LAT))]


def _matrix(rows: Sequence[Row], accuracy: Sequence[float], with_size: bool) -> np.ndarray:
    columns = [list(accuracy), [r["latency_ms_p50"] for r in rows]]
    if with_size:
        columns.append([r["size_bytes"] for r in rows])
    return np.array(columns, dtype=float).T


def hypervolume(rows: Sequence[Row], accuracy: Sequence[float], reference: HypervolumeReference,
                *, with_size: bool = False) -> float:
    """Hypervolume of the rows at the fixed reference; rows beyond the reference add nothing."""
    keep = [i for i, r in enumerate(rows) if accuracy[i] > reference.accuracy
            and r["latency_ms_p50"] < reference.latency_ms_p50
            and (not with_size or r["size_bytes"] < reference.size_bytes)]
    if not keep:
        return 0.0
    point = [reference.accuracy, reference.latency_ms_p50] + ([reference.size_bytes] if with_size else [])
    matrix = _matrix([rows[i] for i in keep], [accuracy[i] for i in keep], with_size)
    return float(pareto.hypervolume(matrix, point, ACC_LAT_SIZE if with_size else ACC_LAT))


def curve(rows: Sequence[Row], minutes: Sequence[float], reference: HypervolumeReference) -> list[float]:
    """Primary hypervolume of the run's own scores over the trials finished by each time."""
    out = []
    for minute in minutes:
        done = candidates(rows, until_s=minute * 60)
        out.append(hypervolume(done, [r["accuracy"] for r in done], reference))
    return out


def pending_rescores(rows: Sequence[Row], rescored: Mapping[str, float]) -> list[str]:
    """Architectures on the run's current front (proxy-trained or re-scored accuracy where known, own
    score otherwise) whose accuracy is not from the full proxy training yet. Re-scoring until this is
    empty gives a front of proxy-trained accuracies only (a fixed point: every step adds scores)."""
    done = candidates(rows)
    accuracy = [scored(r, rescored) if scored(r, rescored) is not None else r["accuracy"] for r in done]
    return [done[i]["architecture"] for i in front(done, accuracy) if scored(done[i], rescored) is None]


def rescored_front(rows: Sequence[Row], rescored: Mapping[str, float]) -> list[dict[str, Any]]:
    """The run's final front on proxy-trained accuracies (rows never re-scored are left out)."""
    done = [r for r in candidates(rows) if scored(r, rescored) is not None]
    accuracy = [scored(r, rescored) for r in done]
    return [{**done[i], "accuracy_proxy": accuracy[i]} for i in front(done, accuracy)]


def final_hypervolumes(rows: Sequence[Row], rescored: Mapping[str, float],
                       reference: HypervolumeReference) -> dict[str, float]:
    """Primary (accuracy, latency) on the re-scored front; secondary with size on the run's own scores."""
    best = rescored_front(rows, rescored)
    own = candidates(rows)
    return {"primary": hypervolume(best, [r["accuracy_proxy"] for r in best], reference),
            "secondary_own_scores": hypervolume(own, [r["accuracy"] for r in own], reference, with_size=True)}


def _best(pool: Sequence[dict[str, Any]], key: Any, count: int) -> list[dict[str, Any]]:
    """The ``count`` best by ``key``; ties to the lower latency, size, then the earlier (run, trial)."""
    return sorted(pool, key=lambda m: (key(m), m["latency_ms"], m["size_bytes"], m["study"], m["trial"]))[:count]


def finalists(union: Sequence[dict[str, Any]], baseline_accuracy: Mapping[str, float],
              baseline_latency_ms: Mapping[str, float], *, big: str, small: str,
              limit: int = 6) -> list[dict[str, Any]]:
    """Section 3: the knee, two closest to target 1, two closest to target 2, the most accurate faster than
    ``big``. ``union`` holds the union-front models with ``accuracy`` (proxy, validation) and ``latency_ms``
    (interleaved rounds); each finalist gets the ``reason`` it was picked for."""
    if not union:
        return []
    a_big, a_small = baseline_accuracy[big], baseline_accuracy[small]
    l_big, l_small = baseline_latency_ms[big], baseline_latency_ms[small]
    matrix = np.array([[m["accuracy"], m["latency_ms"]] for m in union])
    picks = [(union[pareto.knee_index(matrix, ACC_LAT)], "knee")]
    target1 = [m for m in union if m["latency_ms"] <= l_big / 2.5]
    chosen1 = _best(target1, lambda m: -(m["accuracy"] - a_big), 2)
    fill1 = [m for m in union if m["accuracy"] >= a_big and m not in chosen1]
    chosen1 += _best(fill1, lambda m: m["latency_ms"], 2 - len(chosen1))
    picks += [(m, "target 1") for m in chosen1]
    target2 = [m for m in union if m["latency_ms"] <= l_small]
    chosen2 = _best(target2, lambda m: -(m["accuracy"] - a_small), 2)
    fill2 = [m for m in union if m["accuracy"] >= a_small + 0.02 and m not in chosen2]
    chosen2 += _best(fill2, lambda m: m["latency_ms"], 2 - len(chosen2))
    picks += [(m, "target 2") for m in chosen2]
    picks += [(m, "most accurate faster than " + big)
              for m in _best([m for m in union if m["latency_ms"] < l_big], lambda m: -m["accuracy"], 1)]
    out, seen = [], set()
    for model, reason in picks:
        if model["architecture"] not in seen:
            seen.add(model["architecture"])
            out.append({**model, "reason": reason})
    return out[:limit]


__all__ = ["candidates", "curve", "final_hypervolumes", "finalists", "front", "hypervolume", "pending_rescores",
           "rescored_front", "scored"]
