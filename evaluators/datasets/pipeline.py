"""A source's arrays as ``tf.data`` pipelines at an architecture's resolution and channel count.

Pixels are normalized to [-1, 1] (``x / 127.5 - 1``, docs/interfaces.md). Splits are seeded and
stratified; a proxy run uses a ``fraction`` of the training set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from evaluators.datasets._base import RawData
from evaluators.datasets._registry import resolve
from evaluators.datasets.config import DatasetConfig
from evaluators.errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

logger = logging.getLogger(__name__)

_CACHE_LIMIT_BYTES = 1 << 30  # float32 splits up to 1 GiB stay in memory after the first epoch


@dataclass
class Dataset:
    """Batched, prefetched splits of ``(image float32 NHWC in [-1, 1], label int32)``."""

    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset | None
    num_classes: int
    class_names: tuple[str, ...]
    resolution: int
    channels: int
    batch_size: int
    info: dict[str, Any] = field(default_factory=dict)
    train_plain: tf.data.Dataset | None = None  # training images, no shuffle or augmentation

    def calibration_images(self, count: int) -> np.ndarray:
        """Up to ``count`` normalized training images (no augmentation), for int8 calibration."""
        source = self.train_plain if self.train_plain is not None else self.train
        batches, total = [], 0
        for images, _ in source:
            batches.append(images.numpy())
            total += len(batches[-1])
            if total >= count:
                break
        return np.concatenate(batches)[:count].astype(np.float32)


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int, *, min_held: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held_out)``: ``fraction`` of every class held out, seeded, sorted."""
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_held = max(min_held, int(round(len(idx) * fraction)))
        n_held = min(n_held, len(idx) - 1)  # every class keeps at least one example
        held.append(idx[:n_held])
        keep.append(idx[n_held:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def _load_raw(cfg: DatasetConfig, resolution: int, channels: int) -> RawData:
    source, data_dir = resolve(cfg.name, cfg.data_dir)
    return source.load(data_dir, resolution=resolution, channels=channels)


def _split(raw: RawData, cfg: DatasetConfig, with_test: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    x, y = raw.train_images, raw.train_labels
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if raw.test_images is not None:
        if with_test:
            splits["test"] = (raw.test_images, raw.test_labels)
    elif cfg.test_fraction > 0 and raw.val_images is None:  # predefined train/val: no test carved out
        rest, test = stratified_split(y, cfg.test_fraction, cfg.seed + 1)
        if with_test:  # closed or not, the same images leave train and val: the splits do not move
            splits["test"] = (x[test], y[test])
        x, y = x[rest], y[rest]
    if raw.val_images is not None:
        splits["val"] = (raw.val_images, raw.val_labels)
    else:
        train, val = stratified_split(y, cfg.val_fraction, cfg.seed)
        splits["val"] = (x[val], y[val])
        x, y = x[train], y[train]
    if cfg.fraction < 1.0:
        _, kept = stratified_split(y, cfg.fraction, cfg.seed + 2, min_held=1)
        x, y = x[kept], y[kept]
    splits["train"] = (x, y)
    for name in ("train", "val"):
        if len(splits[name][1]) == 0:
            raise DatasetError(
                f"{cfg.name}: the {name} split is empty ({len(raw.train_labels)} images in total); "
                "add images or change fraction / val_fraction"
            )
    return splits


def load_dataset(cfg: DatasetConfig, *, resolution: int, channels: int, batch_size: int,
                 with_test: bool = True) -> Dataset:
    """Load ``cfg.name`` and build train / val / test pipelines at ``resolution`` x ``channels``.

    ``with_test=False`` keeps the test split closed: its images and labels are dropped as soon as the
    source returns them (no pipeline, count, label check or statistic comes from them) and
    ``Dataset.test`` is None. Train and validation are the same images either way. A search and its
    proxy trainings load the data so; only the steps that report test numbers (export, scoring) open it.
    """
    if resolution < 8 or channels not in (1, 3) or batch_size < 1:
        raise DatasetError(
            f"need resolution >= 8, channels 1 or 3 and batch_size >= 1; got {resolution}, {channels}, {batch_size}"
        )
    raw = _load_raw(cfg, resolution, channels)
    num_classes = len(raw.class_names)
    if num_classes < 2:
        raise DatasetError(f"{cfg.name}: need at least two classes, found {num_classes}")
    seen = (raw.train_labels, raw.val_labels) + ((raw.test_labels,) if with_test else ())
    labels_max = max(int(labels.max()) for labels in seen if labels is not None and len(labels))
    if labels_max >= num_classes:
        raise DatasetError(f"{cfg.name}: label {labels_max} out of range for {num_classes} class names")
    splits = _split(raw, cfg, with_test)

    from search_spaces.keras_backend import tf

    def pipeline(split: str, training: bool) -> tf.data.Dataset:
        images, labels = splits[split]
        ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
        ds = ds.map(lambda img, lab: (_preprocess(tf, img, resolution, channels), lab),
                    num_parallel_calls=tf.data.AUTOTUNE)
        if images.shape[0] * resolution * resolution * channels * 4 <= _CACHE_LIMIT_BYTES:
            ds = ds.cache()
        if training:
            ds = ds.shuffle(min(len(labels), cfg.shuffle_buffer), seed=cfg.seed, reshuffle_each_iteration=True)
            if cfg.augmentation:
                ds = ds.map(lambda img, lab: (_augment(tf, img, cfg.augmentation, resolution, cfg.seed), lab),
                            num_parallel_calls=tf.data.AUTOTUNE)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE).with_options(_options(tf))

    info = dict(raw.info)
    info.update({
        "name": cfg.name,
        "counts": {name: int(len(split[1])) for name, split in splits.items()},
        "train_class_counts": np.bincount(splits["train"][1], minlength=num_classes).tolist(),
        "source_shape": list(raw.train_images.shape[1:]),
    })
    info.setdefault("num_skipped", 0)
    info["test_split"] = "open" if with_test else "closed"
    logger.info("dataset %s: %s at %dx%dx%d", cfg.name, info["counts"], resolution, resolution, channels)
    return Dataset(
        train=pipeline("train", True), val=pipeline("val", False),
        test=pipeline("test", False) if "test" in splits else None,
        num_classes=num_classes, class_names=tuple(raw.class_names), resolution=resolution,
        channels=channels, batch_size=batch_size, info=info, train_plain=pipeline("train", False),
    )


def _options(tf: Any) -> Any:
    """tf.data's autotuner off. With it on, deleting an iterator waits for the autotuning thread, and Keras
    deletes one at every epoch's end and when ``fit`` or ``evaluate`` returns: 3.4-4.1 s each on a quiet core
    here, 11 s of a 35 s 3-epoch proxy training, for no faster epoch (``benchmarks/tf_data_autotune.py``,
    docs/early_stopping.md). The elements and their order do not depend on it (``deterministic``)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def _preprocess(tf: Any, image: Any, resolution: int, channels: int) -> Any:
    image = tf.cast(image, tf.float32)
    if image.shape[-1] == 1 and channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    elif image.shape[-1] == 3 and channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    if image.shape[0] != resolution or image.shape[1] != resolution:
        image = tf.image.resize(image, (resolution, resolution), antialias=True)
        image = tf.clip_by_value(image, 0.0, 255.0)
    return image / 127.5 - 1.0


def _augment(tf: Any, image: Any, names: tuple[str, ...], resolution: int, seed: int) -> Any:
    if "flip" in names:
        image = tf.image.random_flip_left_right(image, seed=seed)
    if "crop" in names:
        pad = max(1, resolution // 8)
        padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
        image = tf.image.random_crop(padded, tf.shape(image), seed=seed)
    if "brightness" in names:
        image = tf.clip_by_value(tf.image.random_brightness(image, 0.2, seed=seed), -1.0, 1.0)
    return image


__all__ = ["Dataset", "load_dataset", "stratified_split"]
