"""``evaluator: supernet``: a candidate's accuracy from weights inherited from a supernet (issue 16).

Once-for-All (Cai et al. 2020) and BigNAS (Yu et al. 2020): the supernet of the study's space is
trained once (``nas supernet train``); a trial then extracts its subnet into the builder's own model,
recalibrates BatchNorm, converts to int8 and scores it through LiteRT (``evaluators.SupernetEvaluator``).
The cost half is the usual one (:class:`~nas.trial.evaluation.EvaluatorAdapter`: untrained int8
size and latency, measured or predicted), so the constraint gate works as before.

A supernet is loaded once per process and kept (:func:`load_supernet`, keyed by folder, space and
dataset): a Ray worker loads it for its first trial only. Each trial records where its accuracy came
from (``accuracy_source: inherited``) and which supernet (folder and :func:`supernet_fingerprint`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from nas.config.settings import ConfigError, SearchConfig
from nas.record.trial_record import ACCURACY_INHERITED
from nas.trial.evaluation import GRAYSCALE_DATASETS, EvaluatorAdapter
from nas.trial.protocol import AccuracyMeasurement

logger = logging.getLogger(__name__)

# (folder, space fingerprint, dataset name) -> evaluators.Supernet, loaded once per process.
_LOADED: dict[tuple[str, str, str], Any] = {}
# SupernetEvaluator's timing names -> the trial record's (docs/interfaces.md, timings_s).
_TIMINGS = {"read_weights": "read_supernet_weights", "extract": "extract_weights", "bn_recalibrate": "bn_recalibrate",
            "keras_evaluate": "keras_evaluate", "save": "save_keras", "convert": "convert", "evaluate": "evaluate_int8"}


def supernet_fingerprint(folder: str | Path) -> str:
    """SHA-256 of ``supernet.json`` and the index of the checkpoint it names (which holds a CRC of every
    tensor): another or a longer training of the folder gives another fingerprint."""
    from evaluators.supernet.store import MANIFEST_NAME, read_manifest

    folder = Path(folder)
    manifest = read_manifest(folder)
    digest = hashlib.sha256((folder / MANIFEST_NAME).read_bytes() if manifest is not None else b"")
    if manifest is not None and manifest.checkpoint:
        index = folder / f"{manifest.checkpoint}.index"
        if index.is_file():
            digest.update(index.read_bytes())
    return digest.hexdigest()


def load_supernet(folder: str | Path, space: Any, dataset_name: str) -> tuple[Any, float | None]:
    """The finished supernet in ``folder`` for ``space`` and ``dataset_name``, and the seconds its loading
    took in this call (None: it was already loaded in this process). Raises ``SupernetError``."""
    from evaluators.supernet import Supernet, space_fingerprint

    key = (str(Path(folder).resolve()), space_fingerprint(space), dataset_name)
    if key in _LOADED:
        return _LOADED[key], None
    start = time.perf_counter()
    supernet = Supernet.load(folder, space=space, dataset_name=dataset_name)
    seconds = time.perf_counter() - start
    _LOADED[key] = supernet
    logger.info("loaded the supernet in %s in %.1f s (process %d)", key[0], seconds, os.getpid())
    return supernet, seconds


def study_input(config: SearchConfig) -> tuple[int, int]:
    """(channels, classes) of the study's input, as the search finds them: ``search_space.channels`` or
    the dataset's own, and the dataset's class count (the dataset is loaded once at the first resolution)."""
    from evaluators import DatasetError, load_dataset

    channels = config.search_space_channels or (1 if config.dataset.name in GRAYSCALE_DATASETS else 3)
    resolution = (config.search_space_resolutions or (32,))[0]
    try:
        dataset = load_dataset(config.dataset, resolution=resolution, channels=channels, batch_size=256,
                               with_test=False)
    except DatasetError as exc:
        raise ConfigError(f"dataset: {exc}") from None
    return channels, dataset.num_classes


class SupernetCandidateEvaluator(EvaluatorAdapter):
    """:class:`~nas.trial.protocol.CandidateEvaluator` whose accuracy is inherited from a supernet.

    ``measure_cost`` is :class:`EvaluatorAdapter`'s; ``train_and_evaluate`` trains nothing: it scores
    with ``scorer`` (``evaluators.SupernetEvaluator``). ``provenance`` is what each trial records as
    ``inherited_from``; ``load_seconds`` is reported (``timings_s.load_supernet``) by the first trial only.
    """

    def __init__(self, cheap: Any, scorer: Any, provenance: dict[str, Any], *, channels: int, num_classes: int,
                 load_seconds: float | None = None) -> None:
        super().__init__(cheap, None, channels=channels, num_classes=num_classes)
        self.scorer = scorer
        self.provenance = dict(provenance)
        self._load_seconds = load_seconds

    @classmethod
    def for_study(cls, config: SearchConfig, base: EvaluatorAdapter, space: Any) -> SupernetCandidateEvaluator:
        """The supernet of ``config`` (``evaluator.supernet``) loaded for ``space``; ``base`` gives the cost
        half. A missing, unfinished or mismatched supernet, or a reference outside it, is a ConfigError."""
        from evaluators.supernet import SupernetError, SupernetEvaluator

        settings = config.evaluator.supernet
        folder = settings.folder_for(config.study)
        try:
            supernet, seconds = load_supernet(folder, space, config.dataset.name)
            _check_reference(config, supernet, space)
            scorer = SupernetEvaluator(supernet, config.dataset, bn_calibration_images=settings.bn_calibration_images,
                                       seed=config.study.seed, save_keras_model=False, keras_accuracy=False)
        except SupernetError as exc:
            hint = " (nas supernet train)" if "train a supernet there first" in str(exc) else ""
            raise ConfigError(f"evaluator.supernet.folder: {exc}{hint}") from None
        manifest = supernet.manifest
        provenance = {"folder": str(Path(folder).resolve()), "fingerprint": supernet_fingerprint(folder),
                      "space_fingerprint": supernet.spec.space_fingerprint,
                      "epochs": manifest.epochs_done if manifest else None,
                      "bn_calibration_images": settings.bn_calibration_images}
        return cls(base.cheap, scorer, provenance, channels=base.channels, num_classes=base.num_classes,
                   load_seconds=seconds)

    def train_and_evaluate(self, arch: Any, trial_dir: Path, *, epochs: int | None = None,
                           rungs: Any = None) -> AccuracyMeasurement:
        """Score ``arch`` with inherited weights (``epochs`` and ``rungs`` do not apply: nothing is trained;
        the config refuses early stopping and Hyperband with this evaluator)."""
        from evaluators.supernet import SupernetError

        self._cheap_results.pop(Path(trial_dir), None)
        try:
            result = self.scorer.evaluate(arch, trial_dir)
        except SupernetError as exc:  # a subnet outside the supernet: this candidate fails, not the search
            return AccuracyMeasurement(failure_reason=f"supernet: {exc}", accuracy_source=ACCURACY_INHERITED,
                                       inherited_from=dict(self.provenance))
        timings = {ours: result.timings_s[theirs] for theirs, ours in _TIMINGS.items() if theirs in result.timings_s}
        if self._load_seconds is not None:
            timings["load_supernet"], self._load_seconds = round(self._load_seconds, 3), None
        metrics = dict(result.metrics_int8)
        metrics.update(keras_accuracy=result.keras_accuracy, accuracy_gap=result.accuracy_gap,
                       training=result.training, dataset=result.dataset)
        return AccuracyMeasurement(
            accuracy_int8=result.accuracy_int8, size_bytes=result.size_bytes, metrics=metrics, timings_s=timings,
            artifacts=dict(result.artifacts),
            failure_reason=None if result.ok else f"{result.failure_stage}: {result.failure_reason}",
            accuracy_source=ACCURACY_INHERITED, inherited_from=dict(self.provenance))


def _check_reference(config: SearchConfig, supernet: Any, space: Any) -> None:
    """The reference trial is scored by the supernet too: it must be one of its subnets."""
    from evaluators.supernet import SupernetError
    from search_spaces import get_baseline

    if not config.reference_baseline:
        return
    resolution = (config.search_space_resolutions or space.resolution)[0]
    reference = get_baseline(config.reference_baseline).with_input(
        resolution=resolution, channels=space.channels, num_classes=space.num_classes)
    try:
        supernet.check(reference)
    except SupernetError as exc:
        raise ConfigError(f"reference.baseline: {config.reference_baseline} is not a subnet of the supernet, which "
                          f"scores every trial ({exc}); set reference.baseline: null or search a space that holds "
                          "it") from None


__all__ = ["SupernetCandidateEvaluator", "load_supernet", "study_input", "supernet_fingerprint"]
