"""Pareto maths for mixed maximize/minimize objectives: dominance, non-dominated sorting,
exact hypervolume (2 and 3 objectives) and the knee of a front.

Pure NumPy, no framework imports, so it can be tested against brute force and reused by every
command. Directions are the strings ``"maximize"`` / ``"minimize"`` (Optuna's
``StudyDirection`` members are accepted too, by name). Internally every objective is turned into
one to minimize by negating the maximized ones.

Also the order in which multi-objective successive halving promotes trials (MO-ASHA, Schmucker
et al., "Multi-objective Asynchronous Successive Halving", 2021): fronts first, then NSGA-II's
crowding distance or the greedy epsilon-net within a front.

References: non-dominated sorting after Deb et al., "A fast and elitist multiobjective genetic
algorithm: NSGA-II" (IEEE TEC 2002); hypervolume (the S-metric) after Zitzler & Thiele (1998),
computed here by sweeping (2-D) and slicing along the last objective (3-D); the knee as the point
farthest from the hyperplane through the normalized extremes, after Das (1999) and Deb & Gupta,
"Understanding knee points in bicriteria problems" (2011).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "parse_directions",
    "to_minimization",
    "dominates",
    "non_dominated_mask",
    "non_dominated_sort",
    "hypervolume",
    "knee_index",
    "crowding_distance",
    "epsilon_net_order",
    "promotion_order",
]

_VALID = ("maximize", "minimize")


def parse_directions(directions: Sequence[object]) -> list[str]:
    """Normalize directions to ``"maximize"`` / ``"minimize"`` strings.

    Accepts those strings in any case, ``"max"`` / ``"min"``, or objects whose ``str`` ends in
    ``.MAXIMIZE`` / ``.MINIMIZE`` (such as Optuna's ``StudyDirection``).
    """
    out: list[str] = []
    for direction in directions:
        name = getattr(direction, "name", None) or str(direction)
        name = name.rsplit(".", 1)[-1].strip().lower()
        name = {"max": "maximize", "min": "minimize"}.get(name, name)
        if name not in _VALID:
            raise ValueError(f"unknown objective direction {direction!r}; allowed: {', '.join(_VALID)}")
        out.append(name)
    if not out:
        raise ValueError("at least one objective direction is needed")
    return out


def _as_matrix(points: object, n_objectives: int) -> np.ndarray:
    matrix = np.asarray(points, dtype=float)
    if matrix.ndim == 1 and matrix.size == 0:
        matrix = matrix.reshape(0, n_objectives)
    if matrix.ndim != 2:
        raise ValueError(f"points must be a 2-D array (n_points, n_objectives), got shape {matrix.shape}")
    if matrix.shape[1] != n_objectives:
        raise ValueError(
            f"points have {matrix.shape[1]} objectives but {n_objectives} directions were given"
        )
    if not np.all(np.isfinite(matrix)):
        raise ValueError("points contain NaN or infinite values; drop incomplete trials first")
    return matrix


def to_minimization(points: object, directions: Sequence[object]) -> np.ndarray:
    """Return a float copy of ``points`` with every maximized column negated."""
    dirs = parse_directions(directions)
    matrix = _as_matrix(points, len(dirs))
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in dirs])
    return matrix * signs


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[object]) -> bool:
    """True if ``a`` is at least as good as ``b`` in every objective and better in one."""
    pair = to_minimization([a, b], directions)
    return bool(np.all(pair[0] <= pair[1]) and np.any(pair[0] < pair[1]))


def _dominance_matrix(minimized: np.ndarray) -> np.ndarray:
    """``D[i, j]`` is True when point i dominates point j (all objectives minimized)."""
    le = np.all(minimized[:, None, :] <= minimized[None, :, :], axis=2)
    lt = np.any(minimized[:, None, :] < minimized[None, :, :], axis=2)
    return le & lt


def non_dominated_mask(points: object, directions: Sequence[object]) -> np.ndarray:
    """Boolean mask of the points that no other point dominates (duplicates all stay)."""
    minimized = to_minimization(points, directions)
    if len(minimized) == 0:
        return np.zeros(0, dtype=bool)
    return ~_dominance_matrix(minimized).any(axis=0)


def non_dominated_sort(points: object, directions: Sequence[object]) -> np.ndarray:
    """Front rank of every point: 0 for the Pareto front, 1 for the front once 0 is removed, ..."""
    minimized = to_minimization(points, directions)
    n = len(minimized)
    ranks = np.full(n, -1, dtype=int)
    if n == 0:
        return ranks
    dominated_by = _dominance_matrix(minimized)
    remaining = np.ones(n, dtype=bool)
    rank = 0
    while remaining.any():
        # A remaining point is on this front if no remaining point dominates it.
        current = remaining & ~dominated_by[remaining].any(axis=0)
        ranks[current] = rank
        remaining &= ~current
        rank += 1
    return ranks


def _hypervolume_2d(minimized: np.ndarray, reference: np.ndarray) -> float:
    """Area dominated by the points and bounded by ``reference`` (all minimized)."""
    order = np.lexsort((minimized[:, 1], minimized[:, 0]))
    area = 0.0
    best_y = reference[1]
    for x, y in minimized[order]:
        if y < best_y:
            area += (reference[0] - x) * (best_y - y)
            best_y = y
    return float(area)


def _hypervolume_3d(minimized: np.ndarray, reference: np.ndarray) -> float:
    """Volume by slicing along the last objective: each slab is a 2-D hypervolume."""
    order = np.argsort(minimized[:, 2], kind="stable")
    points = minimized[order]
    volume = 0.0
    for i in range(len(points)):
        z_low = points[i, 2]
        z_high = points[i + 1, 2] if i + 1 < len(points) else reference[2]
        if z_high > z_low:
            volume += _hypervolume_2d(points[: i + 1, :2], reference[:2]) * (z_high - z_low)
    return float(volume)


def hypervolume(points: object, reference: Sequence[float], directions: Sequence[object]) -> float:
    """Exact hypervolume of ``points`` against ``reference``, in the objectives' own units.

    ``reference`` is a point worse than the interesting region in every objective (for a
    maximized accuracy, a low value such as 0; for a minimized latency, a high one). Points that
    do not strictly improve on the reference in every objective contribute nothing. Supports 1, 2
    and 3 objectives.
    """
    dirs = parse_directions(directions)
    if len(dirs) > 3:
        raise ValueError(f"exact hypervolume is implemented for up to 3 objectives, got {len(dirs)}")
    if len(reference) != len(dirs):
        raise ValueError(f"reference point has {len(reference)} values but there are {len(dirs)} objectives")
    ref = to_minimization([list(reference)], dirs)[0]
    minimized = to_minimization(points, dirs)
    minimized = minimized[np.all(minimized < ref, axis=1)]
    if len(minimized) == 0:
        return 0.0
    if len(dirs) == 1:
        return float(ref[0] - minimized[:, 0].min())
    if len(dirs) == 2:
        return _hypervolume_2d(minimized, ref)
    return _hypervolume_3d(minimized, ref)


def knee_index(
    points: object, directions: Sequence[object], *, tie_preference: Sequence[float] | None = None
) -> int:
    """Index (into ``points``) of the knee of their Pareto front.

    Objectives are min-max normalized over the front (each to [0, 1], 0 best); the knee is the
    front point farthest on the good side of the hyperplane ``sum(normalized) = 1`` (in 2-D the
    line through the two extreme points; in 3-D the plane through the unit points of the
    normalized space). An objective that is constant over the front is ignored. A front of two
    points has no knee, so both count as tied. Ties go to the lowest ``tie_preference`` value (one
    per point, if given), then to the point closest to the ideal point in normalized units, then to
    the lowest index.
    """
    dirs = parse_directions(directions)
    minimized = to_minimization(points, dirs)
    if len(minimized) == 0:
        raise ValueError("cannot pick a knee from an empty set of points")
    front = np.flatnonzero(non_dominated_mask(minimized, ["minimize"] * len(dirs)))
    values = minimized[front]
    low, high = values.min(axis=0), values.max(axis=0)
    span = high - low
    varying = span > 0
    if not varying.any():
        return int(front[0])
    normalized = (values[:, varying] - low[varying]) / span[varying]
    distance = (1.0 - normalized.sum(axis=1)) / np.sqrt(varying.sum())
    # With two points there is no bend to find: both are extremes, all are tied.
    tied = np.arange(len(front)) if len(front) <= 2 else np.flatnonzero(distance >= distance.max() - 1e-12)
    if tie_preference is not None:
        preference = np.asarray(tie_preference, dtype=float)
        if preference.shape != (len(minimized),):
            raise ValueError(f"tie_preference needs one value per point ({len(minimized)}), got {preference.shape}")
        tied_preference = preference[front[tied]]
        tied = tied[tied_preference == tied_preference.min()]
    to_ideal = np.linalg.norm(normalized[tied], axis=1)
    return int(front[tied[int(np.argmin(to_ideal))]])


def _normalized(minimized: np.ndarray) -> np.ndarray:
    """Each column min-max scaled to [0, 1] (0 best); a constant column becomes 0."""
    low, high = minimized.min(axis=0), minimized.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return (minimized - low) / span


def crowding_distance(points: object, directions: Sequence[object]) -> np.ndarray:
    """NSGA-II's crowding distance of every point of one front (Deb et al. 2002, section III-B).

    Per objective the points are sorted; the two extremes get infinity, every other point the
    normalized gap between its neighbours, summed over the objectives. Larger: a lonelier point.
    """
    minimized = to_minimization(points, directions)
    n, m = minimized.shape
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    scaled = _normalized(minimized)
    for column in range(m):
        if np.ptp(minimized[:, column]) == 0:
            continue
        order = np.argsort(scaled[:, column], kind="stable")
        values = scaled[order, column]
        distance[order[0]] = distance[order[-1]] = np.inf
        distance[order[1:-1]] += values[2:] - values[:-2]
    return distance


def epsilon_net_order(points: object, directions: Sequence[object], *, first: int = 0) -> list[int]:
    """Greedy epsilon-net order of the points of one front (Schmucker et al. 2021, "EPS-NET").

    Starts at ``first``; then repeatedly takes the point farthest (Euclidean, in min-max normalized
    objectives) from all taken so far, ties to the lower index. Every prefix spreads over the front.
    """
    minimized = to_minimization(points, directions)
    n = len(minimized)
    if n == 0:
        return []
    scaled = _normalized(minimized)
    order = [first]
    nearest = np.linalg.norm(scaled - scaled[first], axis=1)
    while len(order) < n:
        nearest[order] = -1.0
        pick = int(np.argmax(nearest))
        order.append(pick)
        nearest = np.minimum(nearest, np.linalg.norm(scaled - scaled[pick], axis=1))
    return order


def promotion_order(points: object, directions: Sequence[object], *, tie_break: str = "epsilon_net") -> list[int]:
    """Indices of ``points`` from most to least promotable: by front rank, then ``tie_break`` within a front.

    ``epsilon_net`` starts each front at its best point in the first objective (the one training
    improves, accuracy here); ``crowding`` takes larger crowding distances first, ties to the better
    first objective, then the lower index.
    """
    dirs = parse_directions(directions)
    minimized = to_minimization(points, dirs)
    ranks = non_dominated_sort(minimized, ["minimize"] * len(dirs))
    order: list[int] = []
    for rank in range(int(ranks.max()) + 1 if len(ranks) else 0):
        members = np.flatnonzero(ranks == rank)
        front = minimized[members]
        if tie_break == "epsilon_net":
            best = int(np.lexsort((members, front[:, 0]))[0])
            local = epsilon_net_order(front, ["minimize"] * len(dirs), first=best)
        elif tie_break == "crowding":
            crowding = crowding_distance(front, ["minimize"] * len(dirs))
            local = list(np.lexsort((members, front[:, 0], -crowding)))
        else:
            raise ValueError(f"unknown tie_break {tie_break!r}; allowed: epsilon_net, crowding")
        order.extend(int(members[i]) for i in local)
    return order
