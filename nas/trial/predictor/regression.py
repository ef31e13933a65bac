"""Non-negative least squares on relative error over summed kernel features: the linear kernel model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def relative_nnls(rows: Sequence[Mapping[str, float]], latencies_ms: Sequence[float]) -> dict[str, float]:
    """Weights ``w >= 0`` minimising ``sum((row . w / latency - 1)^2)`` (``scipy.optimize.nnls``, Lawson &
    Hanson 1974), each feature scaled by its mean non-zero value so that large MAC counts and small operator
    counts are fitted alike."""
    from scipy.optimize import nnls

    names = sorted({name for row in rows for name in row})
    y = np.asarray(latencies_ms, dtype=float)
    scale = np.array([np.mean([row.get(n, 0.0) for row in rows if row.get(n)]) or 1.0 for n in names])
    design = np.array([[row.get(n, 0.0) for n in names] for row in rows]) / scale
    weights, _ = nnls(design / y[:, None], np.ones_like(y), maxiter=50 * len(names))
    return {n: float(w / s) for n, w, s in zip(names, weights, scale)}
