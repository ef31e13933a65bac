"""Datasets by name as ``tf.data`` pipelines at an architecture's resolution and channel count.

Pixels are normalized to [-1, 1] (``x / 127.5 - 1``, docs/interfaces.md). Splits are seeded and
stratified; a proxy run uses a ``fraction`` of the training set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from evaluators.errors import DatasetError
from evaluators.sources import RawData, load_cifar, load_digits, load_lfw_faces, load_mnist_like

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

logger = logging.getLogger(__name__)

DATASET_NAMES = ("digits", "lfw-faces", "fashion-mnist", "mnist", "cifar10", "cifar100", "image-folder")
AUGMENTATIONS = ("flip", "crop", "brightness")
_CACHE_LIMIT_BYTES = 1 << 30  # float32 splits up to 1 GiB stay in memory after the first epoch


@dataclass(frozen=True)
class DatasetConfig:
    """Which data, and the proxy settings of a search.

    ``name`` is one of ``DATASET_NAMES`` or ``folder:<path>``; ``image-folder`` reads ``data_dir``.
    ``fraction`` keeps that share of the training split (stratified). ``val_fraction`` of the
    training data becomes the validation split; ``test_fraction`` makes a test split for datasets
    without an official one (digits, lfw-faces, image folders without their own ``val/``).
    """

    name: str = "digits"
    data_dir: str | None = None
    fraction: float = 1.0
    val_fraction: float = 0.2
    test_fraction: float = 0.15
    seed: int = 0
    augmentation: tuple[str, ...] = ()
    shuffle_buffer: int = 10_000

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise DatasetError(f"fraction must be in (0, 1], got {self.fraction}")
        if not 0.0 < self.val_fraction < 1.0:
            raise DatasetError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise DatasetError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if isinstance(self.augmentation, str):
            object.__setattr__(self, "augmentation", tuple(a for a in self.augmentation.split(",") if a))
        elif not isinstance(self.augmentation, tuple):  # a list from YAML
            object.__setattr__(self, "augmentation", tuple(self.augmentation or ()))
        unknown = sorted(set(self.augmentation) - set(AUGMENTATIONS))
        if unknown:
            raise DatasetError(f"unknown augmentation {unknown}; choose from {list(AUGMENTATIONS)}")
        if self.name not in DATASET_NAMES and not self.name.startswith("folder:"):
            raise DatasetError(
                f"unknown dataset {self.name!r}; choose from {list(DATASET_NAMES)} or 'folder:<path>'"
            )
        if self.name == "image-folder" and not self.data_dir:
            raise DatasetError("dataset 'image-folder' needs data_dir (a folder with one subfolder per class)")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "data_dir": self.data_dir, "fraction": self.fraction,
                "val_fraction": self.val_fraction, "test_fraction": self.test_fraction,
                "seed": self.seed, "augmentation": list(self.augmentation)}


@dataclass
class Dataset:
    """Batched, prefetched splits of ``(image float32 NHWC in [-1, 1], label int32)``."""

    train: "tf.data.Dataset"
    val: "tf.data.Dataset"
    test: "tf.data.Dataset | None"
    num_classes: int
    class_names: tuple[str, ...]
    resolution: int
    channels: int
    batch_size: int
    info: dict[str, Any] = field(default_factory=dict)
    train_plain: "tf.data.Dataset | None" = None  # training images, no shuffle or augmentation

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
    if cfg.name.startswith("folder:") or cfg.name == "image-folder":
        from evaluators.image_folder import load_image_folder

        root = cfg.name[len("folder:"):] if cfg.name.startswith("folder:") else cfg.data_dir
        return load_image_folder(root, resolution=resolution, channels=channels)
    if cfg.name == "digits":
        return load_digits()
    if cfg.name == "lfw-faces":
        return load_lfw_faces()
    if cfg.name in ("fashion-mnist", "mnist"):
        return load_mnist_like(cfg.name, cfg.data_dir)
    return load_cifar(cfg.name, cfg.data_dir)


def _split(raw: RawData, cfg: DatasetConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    x, y = raw.train_images, raw.train_labels
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if raw.test_images is not None:
        splits["test"] = (raw.test_images, raw.test_labels)
    elif cfg.test_fraction > 0 and raw.val_images is None:  # predefined train/val: no test carved out
        rest, test = stratified_split(y, cfg.test_fraction, cfg.seed + 1)
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


def load_dataset(cfg: DatasetConfig, *, resolution: int, channels: int, batch_size: int) -> Dataset:
    """Load ``cfg.name`` and build train / val / test pipelines at ``resolution`` x ``channels``."""
    if resolution < 8 or channels not in (1, 3) or batch_size < 1:
        raise DatasetError(
            f"need resolution >= 8, channels 1 or 3 and batch_size >= 1; got {resolution}, {channels}, {batch_size}"
        )
    raw = _load_raw(cfg, resolution, channels)
    num_classes = len(raw.class_names)
    if num_classes < 2:
        raise DatasetError(f"{cfg.name}: need at least two classes, found {num_classes}")
    labels_max = max(int(labels.max()) for labels in (raw.train_labels, raw.val_labels, raw.test_labels)
                     if labels is not None and len(labels))
    if labels_max >= num_classes:
        raise DatasetError(f"{cfg.name}: label {labels_max} out of range for {num_classes} class names")
    splits = _split(raw, cfg)

    from search_spaces.keras_backend import tf

    def pipeline(split: str, training: bool) -> "tf.data.Dataset":
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
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    info = dict(raw.info)
    info.update({
        "name": cfg.name,
        "counts": {name: int(len(split[1])) for name, split in splits.items()},
        "train_class_counts": np.bincount(splits["train"][1], minlength=num_classes).tolist(),
        "source_shape": list(raw.train_images.shape[1:]),
    })
    info.setdefault("num_skipped", 0)
    logger.info("dataset %s: %s at %dx%dx%d", cfg.name, info["counts"], resolution, resolution, channels)
    return Dataset(
        train=pipeline("train", True), val=pipeline("val", False),
        test=pipeline("test", False) if "test" in splits else None,
        num_classes=num_classes, class_names=tuple(raw.class_names), resolution=resolution,
        channels=channels, batch_size=batch_size, info=info, train_plain=pipeline("train", False),
    )


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


__all__ = ["AUGMENTATIONS", "DATASET_NAMES", "Dataset", "DatasetConfig", "load_dataset", "stratified_split"]
