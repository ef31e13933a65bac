"""Per-kernel-kind tree ensembles on the kernels measured alone: nn-Meter's non-linear kernel predictors.

nn-Meter (Zhang et al., MobiSys 2021, section 5) predicts each kernel with a tree ensemble per kernel
kind (random forests) over the kernel's configuration (input size, channels, kernel size, stride, ...),
because a CPU's time per multiply-accumulate is not constant: it depends on how the channels fill the
vector lanes and how the tensors fit the caches. A linear model in the work (MACs, elements) cannot
bend that way; on the quiet 7 Dec calibration of this machine it left 36 % of the isolated kernels
outside +-10 % (docs/latency_predictor.md).

Here the trees learn the *correction* of a linear model fitted on the same isolated kernels,
``log(measured / linear)``: the linear part carries the scale (and extrapolates to channel counts the
calibration never built), the trees the bend around it. The ensemble is gradient boosting (Friedman
2001, scikit-learn's ``GradientBoostingRegressor``), chosen over random forests, extra trees and log-
scaled inputs by a 5-fold cross-validation on the 710 isolated kernels of the 7 Dec calibration
(share within +-10 %: boosting 86 %, forests 83-85 %; on the 43 large kernels 72 % against 63-67 %).

The ensembles are not stored: the predictor file keeps the kernel samples and this module refits
them (fixed seed) the first time a predictor is used, about a second, so the file stays JSON and
loads with any scikit-learn version.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from nas.trial.predictor.kernels import Kernel, kernel_features
from nas.trial.predictor.regression import linear_ms, relative_nnls, row

#: Kinds with fewer kernel samples than this get no correction: the linear model alone.
MIN_SAMPLES_PER_KIND = 8
#: Boosting stages, depth and learning rate (one setting, not tuned beyond the comparison above).
STAGES, DEPTH, LEARNING_RATE = 300, 3, 0.05
_ACTIVATIONS = ("relu6", "hswish", "swish")


def kernel_vector(k: Kernel) -> list[float]:
    """The trees' inputs for ``k``: its configuration and its work (MACs, elementwise elements)."""
    features = kernel_features(k)
    macs = sum(v for name, v in features.items() if name.endswith("macs"))
    elements = sum(v for name, v in features.items() if name.endswith("elems"))
    activation = _ACTIVATIONS.index(k.activation) if k.activation in _ACTIVATIONS else len(_ACTIVATIONS)
    return [k.in_px, k.in_channels, k.out_channels, k.kernel, k.expansion, k.stride, k.se, float(k.residual),
            activation, macs, elements, k.in_px * k.in_px * k.in_channels * k.expansion]


@dataclasses.dataclass(frozen=True)
class KernelTrees:
    """Isolated kernel samples ``(kernel, measured p50 ms)`` and the models fitted on them."""

    samples: tuple[tuple[Kernel, float], ...]

    @functools.cached_property
    def _linear(self) -> dict[str, float]:
        """Weights of the linear model of a kernel measured alone (its model overhead included)."""
        return relative_nnls([row([k]) for k, _ in self.samples], [latency for _, latency in self.samples])

    def _linear_ms(self, kernels: Sequence[Kernel]) -> np.ndarray:
        return np.array([linear_ms(self._linear, row([k])) for k in kernels])

    @functools.cached_property
    def _ensembles(self) -> dict[str, Any]:
        from sklearn.ensemble import GradientBoostingRegressor

        ensembles = {}
        for kind in sorted(self.kinds):
            chosen = [(k, latency) for k, latency in self.samples if k.kind == kind]
            if len(chosen) < MIN_SAMPLES_PER_KIND:
                continue
            kernels = [k for k, _ in chosen]
            x = np.array([kernel_vector(k) for k in kernels], dtype=float)
            y = np.log(np.array([latency for _, latency in chosen]) / self._linear_ms(kernels))
            model = GradientBoostingRegressor(n_estimators=STAGES, max_depth=DEPTH, learning_rate=LEARNING_RATE,
                                              random_state=0)
            ensembles[kind] = model.fit(x, y)
        return ensembles

    @property
    def kinds(self) -> frozenset[str]:
        """The kernel kinds with samples (the others are left to the predictor's own linear weights)."""
        return frozenset(k.kind for k, _ in self.samples)

    def predict(self, kernels: Sequence[Kernel]) -> np.ndarray:
        """Predicted p50 ms of each kernel measured alone; NaN for a kind without samples."""
        out = np.full(len(kernels), np.nan)
        for kind in self.kinds:
            index = [i for i, k in enumerate(kernels) if k.kind == kind]
            if not index:
                continue
            chosen = [kernels[i] for i in index]
            correction = np.zeros(len(index))
            if kind in self._ensembles:
                correction = self._ensembles[kind].predict(np.array([kernel_vector(k) for k in chosen], dtype=float))
            out[index] = self._linear_ms(chosen) * np.exp(correction)
        return out

    def to_json(self) -> list[list[Any]]:
        return [[k.to_json(), latency] for k, latency in self.samples]

    @classmethod
    def from_json(cls, data: Sequence[Sequence[Any]]) -> KernelTrees:
        return cls(tuple((Kernel.from_json(dict(k)), float(latency)) for k, latency in data))
