"""Non-negative least squares on relative error over summed kernel features: the linear kernel model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from nas.trial.predictor.kernels import Kernel, kernel_features

#: The feature every sample has once: a model's fixed cost.
OVERHEAD = "model:overhead"


def row(kernels: Sequence[Kernel]) -> dict[str, float]:
    """The features of a model made of ``kernels``: their summed kernel features and one overhead."""
    summed: dict[str, float] = {OVERHEAD: 1.0}
    for kernel in kernels:
        for name, value in kernel_features(kernel).items():
            summed[name] = summed.get(name, 0.0) + value
    return summed


def linear_ms(weights: Mapping[str, float], features: Mapping[str, float]) -> float:
    """``weights . features`` (a feature without a weight counts 0)."""
    return sum(weights.get(name, 0.0) * value for name, value in features.items())


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
