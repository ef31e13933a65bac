"""Weights a trial inherited from a supernet, for ``nas export --weights finetune`` (issue 16).

The trial recorded which supernet scored it (``TrialRecord.inherited_from``: folder and fingerprint).
The export re-extracts the same subnet into the builder's model and recalibrates its BatchNorm
statistics as the search did (Cai et al. 2020, "Once-for-All": fine-tuning a sub-network from its
inherited weights), and refuses a supernet folder that changed since the trial was scored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nas.config.settings import SearchConfig

# Keys of TrialRecord.inherited_from (written by nas.trial.supernet).
_FOLDER, _FINGERPRINT, _BN_IMAGES = "folder", "fingerprint", "bn_calibration_images"


class InheritedWeightsError(RuntimeError):
    """The supernet a trial was scored with cannot give its weights back (gone, changed, another space)."""


def inherited_weights(search: SearchConfig, arch: Any, inherited_from: Mapping[str, Any]) -> list[Any]:
    """``model.get_weights()`` of ``arch`` extracted from the trial's supernet, BatchNorm recalibrated."""
    from evaluators import DatasetConfig
    from evaluators.supernet import SupernetError, SupernetEvaluator
    from nas.strategies._setup import build_space
    from nas.trial.supernet import load_supernet, supernet_fingerprint

    folder = Path(str(inherited_from.get(_FOLDER) or ""))
    if not (folder / "supernet.json").is_file():
        raise InheritedWeightsError(f"the supernet the trial was scored with is not at {folder} any more")
    recorded, now = inherited_from.get(_FINGERPRINT), supernet_fingerprint(folder)
    if recorded != now:
        raise InheritedWeightsError(f"the supernet in {folder} changed since the trial was scored (fingerprint "
                                    f"{str(recorded)[:12]} then, {now[:12]} now); use --weights retrain")
    space = build_space(search, channels=arch.channels, num_classes=arch.num_classes)
    dataset = search.dataset if isinstance(search.dataset, DatasetConfig) else DatasetConfig(**dict(search.dataset))
    try:
        supernet, _ = load_supernet(folder, space, dataset.name)
        scorer = SupernetEvaluator(supernet, dataset, bn_calibration_images=int(inherited_from.get(
            _BN_IMAGES) or search.evaluator.supernet.bn_calibration_images), seed=search.study.seed)
        model = supernet.extract(arch, weights=supernet.recalibrated(arch, scorer.bn_images(arch.resolution)))
    except SupernetError as exc:
        raise InheritedWeightsError(str(exc)) from None
    return model.get_weights()


__all__ = ["InheritedWeightsError", "inherited_weights"]
