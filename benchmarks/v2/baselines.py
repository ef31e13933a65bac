"""Baselines of benchmark v2 beyond the published strings of ``search_spaces.baselines``.

The small-input variant of MobileNetV2 keeps every block of the published network and only sets
the stem's stride to 1, as CIFAR-style adaptations of ImageNet networks do for 32 px inputs (e.g.
the CIFAR ResNets of He et al., CVPR 2016, sec. 4.2, which start without down-sampling). The
``Architecture`` value already carries the stem stride (``stem_c32_k3_s1``), so no new field is
needed; the builder reads ``stem.stride``.
"""

from __future__ import annotations

import dataclasses

from search_spaces.architecture import Architecture
from search_spaces.baselines import get_baseline

SMALL_INPUT_SUFFIX = "_stem_s1"


def small_input_variant(arch: Architecture) -> Architecture:
    """``arch`` with a stride-1 stem; everything else (stages, head, input) unchanged."""
    return dataclasses.replace(arch, stem=dataclasses.replace(arch.stem, stride=1))


def get_v2_baseline(name: str) -> Architecture:
    """A published baseline by name, or its small-input variant when ``name`` ends with ``_stem_s1``."""
    if name.endswith(SMALL_INPUT_SUFFIX):
        return small_input_variant(get_baseline(name[: -len(SMALL_INPUT_SUFFIX)]))
    return get_baseline(name)


__all__ = ["SMALL_INPUT_SUFFIX", "get_v2_baseline", "small_input_variant"]
