"""Curate a person / no_person image-folder dataset from COCO and WiderPerson annotations.

An image is ``person`` when its largest person box covers at least ``min_area_share`` of the image,
``no_person`` when it carries no person annotation at all. Images with only tiny persons, or only
crowd / ignore regions, are ambiguous and left out (and counted). Classes are balanced by a seeded
sample, and a seeded train / validation (/ test) split keeps byte-identical files (same SHA-256) on
one side. Optional square crops around large person boxes add positives, in the split of their
source.

Output (sources are only read, never written); ``OUT`` is the pre-split image-folder layout the
``image-folder`` source (:mod:`evaluators.datasets.image_folder`) reads as is::

    OUT/train/person/  OUT/train/no_person/  OUT/val/person/  OUT/val/no_person/
    OUT/test/person/   OUT/test/no_person/   (only with a test fraction)
    OUT/manifest.csv   every chosen image: path, label, split, source, origin, reason, sha256
    OUT/left_out.csv   every image not chosen and why
    OUT/summary.json   the counts printed by ``nas data person``

The same annotations, options and seed give byte-identical output.

Preset ``vww`` (Visual Wake Words, Chowdhery et al. 2019, arXiv:1906.05721; TensorFlow models'
``build_visualwakewords_data``): COCO only; an image is ``person`` when any person box covers more
than 0.5 % of the image (crowd boxes count, as in the published labels), else ``no_person``, so no
image is left out for small persons; all images are kept (no balancing, no crops), and the split
is the published one, taken from the annotation file: ``instances_maxitrain*.json`` (or
``instances_train*``) -> ``train``, ``instances_minival*.json`` (or ``instances_val*``) -> ``val``.
Results then compare with published tinyML (MLPerf Tiny) person-detection numbers.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import random
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluators.datasets.person.annotations import (
    AnnotatedImage,
    AnnotationError,
    Box,
    coco_default_image_dir,
    read_coco,
    read_widerperson,
)

logger = logging.getLogger(__name__)

PERSON, NO_PERSON = "person", "no_person"
LABELS = (PERSON, NO_PERSON)
SPLITS = ("train", "val", "test")
LINK_MODES = ("symlink", "hardlink", "copy")
MANIFEST_COLUMNS = ("path", "label", "split", "source", "origin", "reason", "sha256")

# Left-out reasons, as written to left_out.csv and the summary.
SMALL_PERSON = "small_person"
CROWD_ONLY = "crowd_only"
MISSING_FILE = "missing_file"
UNREADABLE = "unreadable"
DUPLICATE_ENTRY = "duplicate_entry"
CONFLICTING_LABELS = "conflicting_labels"
NOT_SAMPLED = "not_sampled"
CROP_REASON = "crop of person box"


PRESETS = ("vww",)
# Visual Wake Words: "person" when a person box covers more than this share of the image.
VWW_MIN_AREA_SHARE = 0.005
# Annotation file stem prefix -> VWW split folder (the published split names: maxitrain / minival).
VWW_SPLIT_OF_FILE = (("instances_maxitrain", "train"), ("instances_minival", "val"),
                     ("instances_train", "train"), ("instances_val", "val"))


class DataError(ValueError):
    """The dataset cannot be built as asked; the message says why."""


@dataclass(frozen=True)
class PersonDatasetConfig:
    """What ``nas data person`` builds. ``coco`` pairs an instances file with its image folder
    (``None``: the standard COCO layout, ``annotations/instances_X.json`` -> ``X/``)."""

    out_dir: Path
    coco: tuple[tuple[Path, Path | None], ...] = ()
    widerperson: tuple[Path, ...] = ()
    min_area_share: float = 0.05
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    seed: int = 0
    balance: bool = True
    max_per_class: int | None = None
    crops_per_image: int = 0
    crop_min_px: int = 48
    link: str = "symlink"
    preset: str | None = None

    @classmethod
    def vww(cls, out_dir: Path, coco: tuple[tuple[Path, Path | None], ...], *, link: str = "symlink",
            seed: int = 0) -> PersonDatasetConfig:
        """The Visual Wake Words preset (module docstring): 0.5 % rule, every image, published split."""
        return cls(out_dir=out_dir, coco=coco, min_area_share=VWW_MIN_AREA_SHARE, val_fraction=0.0,
                   seed=seed, balance=False, link=link, preset="vww")

    def validate(self) -> None:
        if self.preset is not None:
            self._validate_preset()
        if not self.coco and not self.widerperson:
            raise DataError("no annotations given: pass --coco and/or --widerperson")
        if not 0.0 <= self.min_area_share < 1.0:
            raise DataError(f"min_area_share must be in [0, 1), got {self.min_area_share}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise DataError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if not 0.0 <= self.test_fraction < 1.0 or self.val_fraction + self.test_fraction >= 1.0:
            raise DataError(
                f"test_fraction must be in [0, 1) with val_fraction + test_fraction < 1, "
                f"got {self.test_fraction} and {self.val_fraction}"
            )
        if self.max_per_class is not None and self.max_per_class < 1:
            raise DataError(f"max_per_class must be at least 1, got {self.max_per_class}")
        if self.crops_per_image < 0 or self.crop_min_px < 1:
            raise DataError("crops_per_image must be >= 0 and crop_min_px >= 1")
        if self.link not in LINK_MODES:
            raise DataError(f"link must be one of {', '.join(LINK_MODES)}, got {self.link!r}")

    def _validate_preset(self) -> None:
        if self.preset not in PRESETS:
            raise DataError(f"preset {self.preset!r} is unknown; allowed: {', '.join(PRESETS)}")
        if self.widerperson or not self.coco:
            raise DataError("preset vww is defined on COCO only: pass --coco files, not --widerperson")
        if self.crops_per_image or self.test_fraction or self.max_per_class is not None:
            raise DataError("preset vww keeps every image in its published split: "
                            "no --crops, --test-fraction or --max-per-class")
        for annotation_path, _ in self.coco:
            vww_split(annotation_path)

    @property
    def splits(self) -> tuple[str, ...]:
        """The split folders written: train and val, plus test when ``test_fraction`` > 0."""
        return SPLITS if self.test_fraction > 0 else SPLITS[:2]


def vww_split(annotation_path: Path) -> str:
    """The Visual Wake Words split of a COCO instances file, from its name (``VWW_SPLIT_OF_FILE``)."""
    stem = Path(annotation_path).stem
    for prefix, split in VWW_SPLIT_OF_FILE:
        if stem.startswith(prefix):
            return split
    names = ", ".join(f"{prefix}*.json ({split})" for prefix, split in VWW_SPLIT_OF_FILE)
    raise DataError(f"preset vww: {annotation_path} is not a published split file; allowed: {names}")


@dataclass
class _Candidate:
    image: AnnotatedImage
    label: str
    reason: str
    sha256: str = ""
    split: str = ""
    name: str = ""


@dataclass
class CurationSummary:
    """Counts of a curated dataset; ``to_json()`` is what ``--json`` prints."""

    out_dir: Path
    seed: int
    counts: dict[str, dict[str, int]]
    crops: dict[str, int]
    left_out: dict[str, int]
    annotated_images: dict[str, int]
    unreadable: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "seed": self.seed,
            "counts": self.counts,
            "crops": self.crops,
            "left_out": self.left_out,
            "annotated_images": self.annotated_images,
            "unreadable": self.unreadable,
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def _check_readable(path: Path) -> None:
    """Decode the whole image, so truncated files are caught here and not in training."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()


def _clip(box: Box, width: int, height: int) -> Box:
    return Box(max(0.0, box.x1), max(0.0, box.y1), min(float(width), box.x2), min(float(height), box.y2))


def _classify_vww(image: AnnotatedImage) -> tuple[str, str]:
    """The Visual Wake Words label: ``person`` when any person box (crowd included) covers more than
    0.5 % of the image, else ``no_person``."""
    boxes = image.person_boxes + image.crowd_boxes
    width, height = image.width, image.height
    if width <= 0 or height <= 0:
        width, height = _image_size(image.path)
    largest = max((_clip(box, width, height).area_px for box in boxes), default=0.0) / float(width * height)
    if largest > VWW_MIN_AREA_SHARE:
        return PERSON, f"vww: person box {largest:.4f} of image > {VWW_MIN_AREA_SHARE}"
    return NO_PERSON, f"vww: largest person box {largest:.4f} of image <= {VWW_MIN_AREA_SHARE}"


def _classify(image: AnnotatedImage, min_area_share: float, preset: str | None = None) -> tuple[str | None, str]:
    """(label, reason) or (None, left-out reason) from the annotations alone."""
    if preset == "vww":
        return _classify_vww(image)
    if not image.person_boxes and not image.crowd_boxes:
        return NO_PERSON, "no person annotation"
    if not image.person_boxes:
        return None, CROWD_ONLY
    width, height = image.width, image.height
    if width <= 0 or height <= 0:
        width, height = _image_size(image.path)
    largest = max(_clip(box, width, height).area_px for box in image.person_boxes) / float(width * height)
    if largest < min_area_share:
        return None, SMALL_PERSON
    return PERSON, f"largest person box {largest:.3f} of image"


def _load_annotations(config: PersonDatasetConfig) -> list[AnnotatedImage]:
    images: list[AnnotatedImage] = []
    for annotation_path, image_dir in config.coco:
        images.extend(read_coco(annotation_path, image_dir))
    for root in config.widerperson:
        images.extend(read_widerperson(root))
    return images


def _check_out_dir(out_dir: Path) -> None:
    """An empty or new output folder: nothing in it can be a source, so nothing is overwritten."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise DataError(f"output {out_dir} exists and is not a folder")
        if any(out_dir.iterdir()):
            raise DataError(f"output folder {out_dir} is not empty; choose a new folder")


def _sample_valid(
    candidates: list[_Candidate], limit: int | None, left_out: list[tuple[AnnotatedImage, str]], unreadable: list[str]
) -> list[_Candidate]:
    """Walk seeded-shuffled candidates, keeping readable ones until ``limit``; hash each kept one."""
    kept: list[_Candidate] = []
    for index, candidate in enumerate(candidates):
        if limit is not None and len(kept) >= limit:
            left_out.extend((c.image, NOT_SAMPLED) for c in candidates[index:])
            break
        try:
            _check_readable(candidate.image.path)
        except Exception as exc:  # Pillow raises many types for broken files
            logger.warning("cannot read %s (%s); left out", candidate.image.path, exc)
            left_out.append((candidate.image, UNREADABLE))
            unreadable.append(str(candidate.image.path.resolve()))
            continue
        candidate.sha256 = _sha256(candidate.image.path)
        kept.append(candidate)
    return kept


def _split(candidates: list[_Candidate], val_fraction: float, test_fraction: float) -> None:
    """Assign splits by hash group in the (seeded) candidate order, so duplicates share a side:
    validation first, then test, until each holds its share; the rest is training."""
    targets = {"val": round(val_fraction * len(candidates)), "test": round(test_fraction * len(candidates))}
    filled = {"val": 0, "test": 0}
    split_of: dict[str, str] = {}
    groups = Counter(c.sha256 for c in candidates)
    for candidate in candidates:
        if candidate.sha256 not in split_of:
            side = next((name for name in ("val", "test") if filled[name] < targets[name]), "train")
            split_of[candidate.sha256] = side
            if side != "train":
                filled[side] += groups[candidate.sha256]
        candidate.split = split_of[candidate.sha256]


def _split_vww(candidates: list[_Candidate], config: PersonDatasetConfig) -> None:
    """The published Visual Wake Words split: each image in the split of its annotation file."""
    split_of_folder = {}
    for annotation_path, image_dir in config.coco:
        folder = (image_dir or coco_default_image_dir(annotation_path)).resolve()
        split_of_folder[folder] = vww_split(annotation_path)
    for candidate in candidates:
        candidate.split = split_of_folder.get(candidate.image.path.resolve().parent, "train")


def _assign_names(candidates: Iterable[_Candidate]) -> None:
    """File names ``<origin>_<stem>``; a clash (same name, other folder) gets the hash appended."""
    used: set[tuple[str, str, str]] = set()
    for candidate in sorted(candidates, key=lambda c: (c.image.origin, str(c.image.path))):
        path = candidate.image.path
        stem, suffix = f"{candidate.image.origin}_{path.stem}", path.suffix.lower()
        name, attempt = f"{stem}{suffix}", 0
        while (candidate.split, candidate.label, name) in used:
            attempt += 1
            name = f"{stem}_{candidate.sha256[:8]}_{attempt}{suffix}"
        used.add((candidate.split, candidate.label, name))
        candidate.name = name


def _place(source: Path, destination: Path, link: str) -> None:
    if link == "symlink":
        os.symlink(source.resolve(), destination)
    elif link == "hardlink":
        try:
            os.link(source, destination)
        except OSError as exc:
            raise DataError(f"cannot hard-link {source} to {destination} ({exc}); use --link copy or symlink") from exc
    else:
        shutil.copyfile(source, destination)


def _person_crops(
    candidate: _Candidate, config: PersonDatasetConfig, folder: Path
) -> list[tuple[str, str, str]]:
    """Square crops (10% margin) around the largest qualifying person boxes, saved as JPEG.
    Returns (file name, reason, sha256) per crop."""
    from PIL import Image

    with Image.open(candidate.image.path) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    boxes = []
    for index, box in enumerate(candidate.image.person_boxes):
        clipped = _clip(box, width, height)
        side_px = max(clipped.x2 - clipped.x1, clipped.y2 - clipped.y1)
        share = clipped.area_px / float(width * height)
        short_side_px = min(clipped.x2 - clipped.x1, clipped.y2 - clipped.y1)
        if share >= config.min_area_share and short_side_px >= config.crop_min_px:
            boxes.append((-clipped.area_px, index, clipped, side_px))
    crops = []
    for _, index, box, side_px in sorted(boxes)[: config.crops_per_image]:
        half = 0.55 * side_px
        cx, cy = (box.x1 + box.x2) / 2.0, (box.y1 + box.y2) / 2.0
        area = (
            max(0, int(round(cx - half))),
            max(0, int(round(cy - half))),
            min(width, int(round(cx + half))),
            min(height, int(round(cy + half))),
        )
        name = f"{Path(candidate.name).stem}__crop{index}.jpg"
        target = folder / name
        image.crop(area).save(target, format="JPEG", quality=95)
        crops.append((name, f"{CROP_REASON} {index}", _sha256(target)))
    return crops


_LeftOut = list[tuple[AnnotatedImage, str]]


def _candidates(
    images: list[AnnotatedImage], min_area_share: float, left_out: _LeftOut, unreadable: list[str],
    preset: str | None = None,
) -> dict[str, list[_Candidate]]:
    """Label every listed image from its annotations; the others go to ``left_out`` with a reason."""
    by_label: dict[str, list[_Candidate]] = {PERSON: [], NO_PERSON: []}
    seen: set[Path] = set()
    missing: list[Path] = []
    for image in images:
        key = image.path.resolve()
        if key in seen:
            left_out.append((image, DUPLICATE_ENTRY))
            continue
        seen.add(key)
        if not image.path.is_file():
            missing.append(image.path)
            left_out.append((image, MISSING_FILE))
            continue
        try:
            label, reason = _classify(image, min_area_share, preset)
        except Exception as exc:  # the header of a WiderPerson image could not be read
            logger.warning("cannot read %s (%s); left out", image.path, exc)
            left_out.append((image, UNREADABLE))
            unreadable.append(str(key))
            continue
        if label is None:
            left_out.append((image, reason))
        else:
            by_label[label].append(_Candidate(image, label, reason))
    if missing:
        if len(missing) == len(seen):
            raise DataError(
                f"none of the {len(missing)} annotated images exist (first: {missing[0]}); "
                "check the image folder (--coco-images, or Images/ of WiderPerson)"
            )
        logger.warning("%d annotated images are missing, e.g. %s", len(missing), missing[0])
    return by_label


def _choose(
    by_label: dict[str, list[_Candidate]], config: PersonDatasetConfig, left_out: _LeftOut, unreadable: list[str]
) -> dict[str, list[_Candidate]]:
    """Seeded sample of readable images per class, balanced unless asked otherwise."""
    rng = random.Random(config.seed)
    for label in LABELS:
        by_label[label].sort(key=lambda c: (c.image.origin, str(c.image.path)))
        rng.shuffle(by_label[label])

    # Validate the smaller class first, then the larger only as far as balancing needs.
    order = sorted(LABELS, key=lambda name: (len(by_label[name]), name))
    chosen: dict[str, list[_Candidate]] = {}
    for label in order:
        limit = config.max_per_class
        if config.balance and chosen:
            other = len(next(iter(chosen.values())))
            limit = other if limit is None else min(limit, other)
        chosen[label] = _sample_valid(by_label[label], limit, left_out, unreadable)

    conflicts = {c.sha256 for c in chosen[PERSON]} & {c.sha256 for c in chosen[NO_PERSON]}
    if conflicts:
        logger.warning("%d files are annotated both with and without persons; left out", len(conflicts))
        for label in LABELS:
            left_out.extend((c.image, CONFLICTING_LABELS) for c in chosen[label] if c.sha256 in conflicts)
            chosen[label] = [c for c in chosen[label] if c.sha256 not in conflicts]
    if config.balance:
        size = min(len(chosen[label]) for label in LABELS)
        for label in LABELS:
            left_out.extend((c.image, NOT_SAMPLED) for c in chosen[label][size:])
            chosen[label] = chosen[label][:size]
    empty = [label for label in LABELS if not chosen[label]]
    if empty:
        raise DataError(
            f"no usable {' or '.join(empty)} images "
            f"(person candidates {len(by_label[PERSON])}, no_person candidates {len(by_label[NO_PERSON])}, "
            f"left out {dict(sorted(Counter(reason for _, reason in left_out).items()))})"
        )
    return chosen


def _manifest_row(path: str, candidate: _Candidate, reason: str, sha256: str) -> dict[str, str]:
    return {
        "path": path,
        "label": candidate.label,
        "split": candidate.split,
        "source": str(candidate.image.path.resolve()),
        "origin": candidate.image.origin,
        "reason": reason,
        "sha256": sha256,
    }


def _write_images(out_dir: Path, chosen: list[_Candidate], config: PersonDatasetConfig) -> list[dict[str, str]]:
    """Place every chosen image (and its crops) under ``out_dir``; returns the manifest rows."""
    for split in config.splits:
        for label in LABELS:
            (out_dir / split / label).mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    for candidate in chosen:
        folder = out_dir / candidate.split / candidate.label
        _place(candidate.image.path, folder / candidate.name, config.link)
        prefix = f"{candidate.split}/{candidate.label}"
        rows.append(_manifest_row(f"{prefix}/{candidate.name}", candidate, candidate.reason, candidate.sha256))
        if candidate.label == PERSON and config.crops_per_image:
            for name, reason, digest in _person_crops(candidate, config, folder):
                rows.append(_manifest_row(f"{prefix}/{name}", candidate, reason, digest))
    return sorted(rows, key=lambda row: row["path"])


def curate_person_dataset(config: PersonDatasetConfig) -> CurationSummary:
    """Build the dataset described by ``config`` (see the module docstring)."""
    config.validate()
    out_dir = Path(config.out_dir)
    _check_out_dir(out_dir)
    images = _load_annotations(config)
    if not images:
        raise DataError("the annotations list no images")
    left_out: _LeftOut = []
    unreadable: list[str] = []
    candidates = _candidates(images, config.min_area_share, left_out, unreadable, config.preset)
    chosen = _choose(candidates, config, left_out, unreadable)
    for label in LABELS:
        if config.preset == "vww":
            _split_vww(chosen[label], config)
        else:
            _split(chosen[label], config.val_fraction, config.test_fraction)
    everything = chosen[PERSON] + chosen[NO_PERSON]
    _assign_names(everything)

    _check_out_dir(out_dir)
    rows = _write_images(out_dir, everything, config)
    with (out_dir / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with (out_dir / "left_out.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("source", "origin", "reason"))
        writer.writerows(sorted((str(image.path.resolve()), image.origin, reason) for image, reason in left_out))

    counts = {split: {label: 0 for label in LABELS} for split in config.splits}
    crops = {split: 0 for split in config.splits}
    for row in rows:
        counts[row["split"]][row["label"]] += 1
        crops[row["split"]] += row["reason"].startswith(CROP_REASON)
    summary = CurationSummary(
        out_dir=out_dir,
        seed=config.seed,
        counts=counts,
        crops=crops,
        left_out=dict(sorted(Counter(reason for _, reason in left_out).items())),
        annotated_images=dict(sorted(Counter(image.origin for image in images).items())),
        unreadable=sorted(unreadable),
    )
    # Without out_dir, so that a rerun into another folder writes the same bytes.
    recorded = {key: value for key, value in summary.to_json().items() if key != "out_dir"}
    (out_dir / "summary.json").write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    return summary


def format_summary(summary: CurationSummary) -> str:
    """The human-readable summary ``nas data person`` prints."""
    lines = [f"dataset written to {summary.out_dir} (seed {summary.seed})"]
    lines.append(f"  {'split':<6} {'person':>8} {'no_person':>10}   (person includes crops)")
    for split, counts in summary.counts.items():
        lines.append(f"  {split:<6} {counts[PERSON]:>8} {counts[NO_PERSON]:>10}")
    if any(summary.crops.values()):
        lines.append("  person crops: " + ", ".join(f"{split} {n}" for split, n in summary.crops.items()))
    sources = ", ".join(f"{origin} {count}" for origin, count in summary.annotated_images.items())
    lines.append(f"  annotated images read: {sources}")
    if summary.left_out:
        lines.append("  left out: " + ", ".join(f"{reason} {count}" for reason, count in summary.left_out.items()))
    for path in summary.unreadable[:10]:
        lines.append(f"  unreadable: {path}")
    if len(summary.unreadable) > 10:
        lines.append(f"  ... and {len(summary.unreadable) - 10} more unreadable (see left_out.csv)")
    return "\n".join(lines)


__all__ = [
    "AnnotationError",
    "CurationSummary",
    "DataError",
    "PersonDatasetConfig",
    "curate_person_dataset",
    "format_summary",
]
