"""``image-folder`` / ``folder:<path>``: one subfolder per class (``person/``, ``no_person/``) as uint8 arrays.

The layout is the one ``tf_keras.utils.image_dataset_from_directory`` reads; we decode with Pillow
ourselves so that an unreadable or corrupt file is skipped and counted instead of failing the run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from evaluators.datasets._base import DatasetSource, RawData
from evaluators.errors import DatasetError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})


def _read_image(path: Path, resolution: int, channels: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        converted = image.convert("L" if channels == 1 else "RGB")
        resized = converted.resize((resolution, resolution), Image.Resampling.BILINEAR)
        array = np.asarray(resized, dtype=np.uint8)
    return array[..., None] if channels == 1 else array


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


SPLIT_NAMES = {"train": ("train",), "val": ("val", "validation"), "test": ("test",)}


def _presplit(folder: Path) -> dict[str, Path] | None:
    """``root/train/<class>/`` + ``root/val/<class>/`` (+ ``test``): the person-dataset layout."""
    found = {}
    for split, names in SPLIT_NAMES.items():
        for name in names:
            if (folder / name).is_dir():
                found[split] = folder / name
                break
    if "train" in found and "val" in found and len(_class_dirs(folder)) == len(found):
        return found
    return None


def load_image_folder(root: str | Path, *, resolution: int, channels: int) -> RawData:
    """Read ``root/<class>/<image>`` into arrays resized to ``resolution`` with ``channels`` channels.

    A root holding ``train/`` and ``val/`` (optionally ``test/``), each with the class subfolders
    (docs/interfaces.md, person dataset), keeps that split. Raises ``DatasetError`` for a missing
    folder, fewer than two class folders, or a class without a readable image. Corrupt files are
    skipped; their paths are in ``info["skipped_files"]``.
    """
    folder = Path(root).expanduser()
    if not folder.exists():
        raise DatasetError(f"image folder not found: {folder}")
    if not folder.is_dir():
        raise DatasetError(f"image folder is not a directory: {folder}")
    presplit = _presplit(folder)
    if presplit is None:
        images, labels, class_names, info = _read_classes(folder, None, resolution, channels)
        return RawData(images, labels, class_names, info=info)
    train = _read_classes(presplit["train"], None, resolution, channels)
    class_names = train[2]
    parts = {split: _read_classes(path, class_names, resolution, channels)
             for split, path in presplit.items() if split != "train"}
    skipped = train[3]["skipped_files"] + [f for part in parts.values() for f in part[3]["skipped_files"]]
    info = {"source": str(folder), "predefined_splits": sorted(presplit), "skipped_files": skipped,
            "num_skipped": len(skipped),
            "num_ignored_non_image_files": train[3]["num_ignored_non_image_files"]
            + sum(part[3]["num_ignored_non_image_files"] for part in parts.values())}
    test = parts.get("test")
    return RawData(
        train[0], train[1], class_names,
        test[0] if test else None, test[1] if test else None, info=info,
        val_images=parts["val"][0], val_labels=parts["val"][1],
    )


def _read_classes(
    folder: Path, expected: tuple[str, ...] | None, resolution: int, channels: int
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict]:
    class_dirs = _class_dirs(folder)
    if expected is not None:
        names = tuple(p.name for p in class_dirs)
        if names != expected:
            raise DatasetError(
                f"class subfolders of {folder} ({', '.join(names) or 'none'}) differ from the training "
                f"split's ({', '.join(expected)})"
            )
    if len(class_dirs) < 2:
        found = ", ".join(p.name for p in class_dirs) or "none"
        raise DatasetError(
            f"image folder {folder} has {len(class_dirs)} class subfolder(s) ({found}); need at least "
            "two, one subfolder per class (e.g. person/ and no_person/)"
        )
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[str] = []
    ignored = 0
    for label, class_dir in enumerate(class_dirs):
        files = sorted(p for p in class_dir.rglob("*") if p.is_file())
        readable = 0
        for path in files:
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                ignored += 1
                continue
            try:
                images.append(_read_image(path, resolution, channels))
            except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError ... on bad files
                logger.debug("skipping unreadable image %s: %s", path, exc)
                skipped.append(str(path))
                continue
            labels.append(label)
            readable += 1
        if readable == 0:
            bad = sum(1 for s in skipped if Path(s).is_relative_to(class_dir))
            detail = f"{bad} unreadable or corrupt file(s)" if bad else "no image files"
            raise DatasetError(
                f"class folder '{class_dir.name}' in {folder} has no readable images ({detail}; "
                f"suffixes read: {', '.join(sorted(IMAGE_SUFFIXES))})"
            )
    if skipped:
        logger.warning(
            "skipped %d unreadable or corrupt image(s) in %s, e.g. %s", len(skipped), folder, skipped[0]
        )
    info = {"source": str(folder), "skipped_files": skipped, "num_skipped": len(skipped),
            "num_ignored_non_image_files": ignored}
    return np.stack(images), np.asarray(labels, dtype=np.int64), tuple(p.name for p in class_dirs), info


class ImageFolderSource(DatasetSource):
    """``image-folder`` with ``data_dir``, or ``folder:<path>``: images decoded at the asked size."""

    name = "image-folder"
    description = "a folder with one subfolder per class, optionally split into train/ val/ test/"
    channels = None
    needs_data_dir = True

    def load(self, data_dir: Path | None, *, resolution: int, channels: int) -> RawData:
        if data_dir is None:
            raise DatasetError("dataset 'image-folder' needs data_dir (a folder with one subfolder per class)")
        return load_image_folder(data_dir, resolution=resolution, channels=channels)
