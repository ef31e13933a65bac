"""Search space of MBConv / Fused-MBConv networks, with MobileNetV2 and EfficientNet-B0 as points.

Importing this package does not import TensorFlow; :func:`build_model` loads it on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search_spaces.architecture import (
    Architecture,
    ArchitectureError,
    HeadSpec,
    StageSpec,
    StemSpec,
    effective_strides,
    feature_sizes,
)
from search_spaces.baselines import get_baseline, list_baselines
from search_spaces.cost import ArchCost, arch_cost, trainable_params
from search_spaces.space import Choice, SearchSpace, SearchSpaceError, StageChoices

if TYPE_CHECKING:
    from search_spaces.builder import build_model

__all__ = [
    "ArchCost",
    "Architecture",
    "ArchitectureError",
    "Choice",
    "HeadSpec",
    "SearchSpace",
    "SearchSpaceError",
    "StageChoices",
    "StageSpec",
    "StemSpec",
    "arch_cost",
    "build_model",
    "effective_strides",
    "feature_sizes",
    "get_baseline",
    "list_baselines",
    "trainable_params",
]


def __getattr__(name: str) -> Any:
    # The builder imports TensorFlow, so it is loaded only when asked for.
    if name == "build_model":
        from search_spaces.builder import build_model

        return build_model
    raise AttributeError(f"module 'search_spaces' has no attribute {name!r}")
