"""`nas data`: build datasets. `nas data person` curates person / no_person from annotations."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def _add_person_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("annotations (at least one)")
    source.add_argument(
        "--coco", type=Path, action="append", default=[], metavar="JSON",
        help="COCO instances file (instances_<split>.json); repeat for several",
    )
    source.add_argument(
        "--coco-images", type=Path, action="append", default=[], metavar="DIR",
        help="image folder of each --coco file, in the same order "
        "(default: the standard layout, annotations/instances_val2017.json -> val2017/)",
    )
    source.add_argument(
        "--widerperson", type=Path, action="append", default=[], metavar="PATH",
        help="WiderPerson root (Images/, Annotations/, train.txt, val.txt) or one of its list files",
    )
    parser.add_argument("--out", type=Path, required=True, help="new or empty output folder")
    parser.add_argument(
        "--preset", choices=("vww",), default=None,
        help="vww: Visual Wake Words (Chowdhery et al. 2019) from COCO: person when a person box covers more "
        "than 0.5 %% of the image, every image kept, published split from the file names "
        "(instances_maxitrain*.json -> train, instances_minival*.json -> val)",
    )
    parser.add_argument(
        "--min-area-share", type=float, default=None,
        help="a person image needs a person box covering at least this share of the image (default 0.05)",
    )
    parser.add_argument("--val-fraction", type=float, default=0.2, help="validation share (default 0.2)")
    parser.add_argument(
        "--test-fraction", type=float, default=0.0,
        help="held-out test share, written to OUT/test/ (default 0: no test split)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of sampling and split (default 0)")
    parser.add_argument("--max-per-class", type=int, default=None, help="at most this many images per class")
    parser.add_argument("--no-balance", action="store_true", help="keep all images instead of balancing classes")
    parser.add_argument(
        "--crops", type=int, default=0, metavar="N",
        help="add up to N crops of large person boxes per person image as extra positives (default 0)",
    )
    parser.add_argument("--crop-min-px", type=int, default=48, help="smallest box side to crop, in pixels")
    parser.add_argument(
        "--link", choices=("symlink", "hardlink", "copy"), default="symlink",
        help="how images land in the output: symlink (default), hardlink or copy "
        "(copy when the folder will be moved to another machine)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="DATASET", required=True)
    person = sub.add_parser(
        "person",
        help="person / no_person image folders from COCO or WiderPerson annotations",
        description="Curate a balanced person / no_person image-folder dataset from COCO instances files "
        "and WiderPerson annotation lists. Writes OUT/{train,val[,test]}/{person,no_person}/, manifest.csv, "
        "left_out.csv and summary.json; sources are never modified.",
    )
    _add_person_arguments(person)


def run(args: argparse.Namespace) -> int:
    from evaluators.datasets.person.curate import PersonDatasetConfig

    if args.coco_images and len(args.coco_images) != len(args.coco):
        logger.error("give --coco-images once per --coco (%d vs %d), or not at all",
                     len(args.coco_images), len(args.coco))
        return 2
    images = args.coco_images or [None] * len(args.coco)
    if args.preset == "vww":
        if args.min_area_share is not None or args.no_balance or args.val_fraction != 0.2:
            logger.error("--preset vww fixes the rule (0.5 %%), keeps every image and uses the published split: "
                         "drop --min-area-share, --no-balance and --val-fraction")
            return 2
        base = PersonDatasetConfig.vww(args.out, tuple(zip(args.coco, images)), link=args.link, seed=args.seed)
        config = dataclasses.replace(base, widerperson=tuple(args.widerperson), test_fraction=args.test_fraction,
                                     max_per_class=args.max_per_class, crops_per_image=args.crops)
        return _curate(config, as_json=args.json)
    config = PersonDatasetConfig(
        out_dir=args.out,
        coco=tuple(zip(args.coco, images)),
        widerperson=tuple(args.widerperson),
        min_area_share=0.05 if args.min_area_share is None else args.min_area_share,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        seed=args.seed,
        balance=not args.no_balance,
        max_per_class=args.max_per_class,
        crops_per_image=args.crops,
        crop_min_px=args.crop_min_px,
        link=args.link,
    )
    return _curate(config, as_json=args.json)


def _curate(config, *, as_json: bool) -> int:
    from evaluators.datasets.person.annotations import AnnotationError
    from evaluators.datasets.person.curate import DataError, curate_person_dataset, format_summary

    try:
        summary = curate_person_dataset(config)
    except (AnnotationError, DataError) as exc:
        logger.error("%s", exc)
        return 1
    if as_json:
        print(json.dumps(summary.to_json(), sort_keys=True))
    else:
        print(format_summary(summary))
    return 0
