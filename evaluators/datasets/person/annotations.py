"""Readers for person annotations: COCO instances files and WiderPerson annotation lists.

Both are turned into :class:`AnnotatedImage` records (image path, size when known, person boxes,
crowd / ignore boxes) so that the curation in :mod:`evaluators.datasets.person.curate` does not care where they came
from.

- COCO (Lin et al., "Microsoft COCO: Common Objects in Context", 2014): ``instances_<split>.json``
  with ``images`` (id, file_name, width, height), ``annotations`` (image_id, category_id,
  bbox = [x, y, width, height], iscrowd) and ``categories`` (id, name).
- WiderPerson (Zhang et al., "WiderPerson: A Diverse Dataset for Dense Pedestrian Detection in the
  Wild", 2019): ``Images/<id>.jpg``, ``Annotations/<id>.jpg.txt`` holding a count line then one
  ``class x1 y1 x2 y2`` line per box, and ``train.txt`` / ``val.txt`` listing image ids. Classes
  1 pedestrian, 2 rider, 3 partially visible person are persons; 4 ignore region and 5 crowd are
  not countable persons.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# WiderPerson class ids (dataset README).
WIDERPERSON_PERSON_CLASSES = frozenset({1, 2, 3})
WIDERPERSON_CROWD_CLASSES = frozenset({4, 5})
WIDERPERSON_LISTS = ("train.txt", "val.txt")


class AnnotationError(ValueError):
    """An annotation file or folder cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels, corners (x1, y1) inclusive to (x2, y2) exclusive."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def area_px(self) -> float:
        return max(0.0, self.x2 - self.x1) * max(0.0, self.y2 - self.y1)


@dataclass(frozen=True)
class AnnotatedImage:
    """One annotated image: where it is and which person boxes it holds.

    ``width`` / ``height`` are 0 when the annotation does not record them (WiderPerson); the
    curation then reads them from the image header.
    """

    path: Path
    origin: str
    width: int
    height: int
    person_boxes: tuple[Box, ...]
    crowd_boxes: tuple[Box, ...]


def coco_default_image_dir(annotation_path: Path) -> Path:
    """The image folder of the standard COCO layout: ``annotations/instances_val2017.json`` ->
    ``val2017/`` next to ``annotations/``."""
    stem = annotation_path.stem
    split = stem.split("_", 1)[1] if stem.startswith("instances_") else stem
    return annotation_path.resolve().parent.parent / split


def read_coco(
    annotation_path: str | Path,
    image_dir: str | Path | None = None,
    *,
    person_category: str = "person",
) -> list[AnnotatedImage]:
    """Read a COCO instances file; every image it lists is returned, with its person boxes.

    Raises :class:`AnnotationError` when the file is not COCO instances JSON, has no category
    named ``person_category``, or the image folder does not exist.
    """
    annotation_path = Path(annotation_path)
    if not annotation_path.is_file():
        raise AnnotationError(f"COCO annotation file not found: {annotation_path}")
    try:
        with annotation_path.open("rb") as handle:
            data = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{annotation_path} is not a COCO annotation file: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise AnnotationError(f"{annotation_path} is not a COCO annotation file: top level is not an object")
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(data.get(key), list)]
    if missing:
        raise AnnotationError(
            f"{annotation_path} is not a COCO instances file: missing list(s) {', '.join(missing)} "
            "(expected the instances_<split>.json layout with images, annotations and categories)"
        )
    person_ids = {
        category.get("id")
        for category in data["categories"]
        if isinstance(category, dict) and category.get("name") == person_category
    }
    if not person_ids:
        names = sorted(str(c.get("name")) for c in data["categories"] if isinstance(c, dict))
        raise AnnotationError(
            f"{annotation_path} has no category named {person_category!r} "
            f"(categories: {', '.join(names[:20]) or 'none'})"
        )
    folder = Path(image_dir) if image_dir is not None else coco_default_image_dir(annotation_path)
    if not folder.is_dir():
        raise AnnotationError(
            f"image folder {folder} for {annotation_path} does not exist; pass it with --coco-images"
        )

    persons: dict[object, list[Box]] = {}
    crowds: dict[object, list[Box]] = {}
    for index, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or ann.get("category_id") not in person_ids:
            continue
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            raise AnnotationError(f"{annotation_path}: annotation #{index} has no valid bbox [x, y, w, h]")
        x, y, w, h = (float(v) for v in bbox)
        target = crowds if ann.get("iscrowd") else persons
        target.setdefault(ann.get("image_id"), []).append(Box(x, y, x + w, y + h))

    images = []
    for index, image in enumerate(data["images"]):
        if not isinstance(image, dict) or not isinstance(image.get("file_name"), str):
            raise AnnotationError(f"{annotation_path}: image #{index} has no file_name")
        image_id = image.get("id")
        images.append(
            AnnotatedImage(
                path=folder / image["file_name"],
                origin="coco",
                width=int(image.get("width") or 0),
                height=int(image.get("height") or 0),
                person_boxes=tuple(persons.get(image_id, ())),
                crowd_boxes=tuple(crowds.get(image_id, ())),
            )
        )
    logger.info("%s: %d images, %d with person boxes", annotation_path, len(images), len(persons))
    return images


def _widerperson_lists(path: Path) -> tuple[Path, list[Path]]:
    if path.is_file():
        return path.parent, [path]
    if not path.is_dir():
        raise AnnotationError(f"WiderPerson path not found: {path}")
    lists = [path / name for name in WIDERPERSON_LISTS if (path / name).is_file()]
    if not lists:
        raise AnnotationError(
            f"{path} holds none of {', '.join(WIDERPERSON_LISTS)}; pass the WiderPerson root "
            "(with Images/, Annotations/ and train.txt / val.txt) or one list file"
        )
    return path, lists


def _read_widerperson_annotation(path: Path) -> tuple[list[Box], list[Box]]:
    lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines or len(lines[0]) != 1 or not lines[0][0].isdigit():
        raise AnnotationError(f"{path} is not a WiderPerson annotation: first line must be the box count")
    count = int(lines[0][0])
    if count != len(lines) - 1:
        raise AnnotationError(f"{path}: count line says {count} boxes, found {len(lines) - 1}")
    persons, crowds = [], []
    for number, fields in enumerate(lines[1:], start=2):
        try:
            label = int(fields[0])
            x1, y1, x2, y2 = (float(v) for v in fields[1:5])
        except (ValueError, IndexError) as exc:
            raise AnnotationError(f"{path} line {number}: expected 'class x1 y1 x2 y2'") from exc
        if label in WIDERPERSON_PERSON_CLASSES:
            persons.append(Box(x1, y1, x2, y2))
        elif label in WIDERPERSON_CROWD_CLASSES:
            crowds.append(Box(x1, y1, x2, y2))
        else:
            raise AnnotationError(f"{path} line {number}: unknown WiderPerson class {label}")
    return persons, crowds


def read_widerperson(path: str | Path) -> list[AnnotatedImage]:
    """Read WiderPerson-style annotations from a root folder (its train.txt / val.txt) or one list.

    A listed id without an annotation file is an error: WiderPerson lists only annotated images.
    """
    root, lists = _widerperson_lists(Path(path))
    images_dir, annotations_dir = root / "Images", root / "Annotations"
    for folder in (images_dir, annotations_dir):
        if not folder.is_dir():
            raise AnnotationError(f"WiderPerson folder {folder} does not exist")
    images = []
    for list_path in lists:
        ids = [line.strip() for line in list_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for image_id in ids:
            name = image_id if Path(image_id).suffix else f"{image_id}.jpg"
            annotation = annotations_dir / f"{name}.txt"
            if not annotation.is_file():
                raise AnnotationError(f"{list_path} lists {image_id} but {annotation} does not exist")
            persons, crowds = _read_widerperson_annotation(annotation)
            images.append(
                AnnotatedImage(
                    path=images_dir / name,
                    origin="widerperson",
                    width=0,
                    height=0,
                    person_boxes=tuple(persons),
                    crowd_boxes=tuple(crowds),
                )
            )
        logger.info("%s: %d images", list_path, len(ids))
    return images
