"""`nas data person --preset vww`: the Visual Wake Words rule (Chowdhery et al. 2019) on small COCO files
the test writes: person when a person box covers MORE than 0.5 % of the image (crowd boxes count),
otherwise no_person (nothing left out for small persons), every image kept, published split names."""

from __future__ import annotations

import csv
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluators.datasets.person.curate import DataError, PersonDatasetConfig, curate_person_dataset
from nas.cli import main

SIDE_PX = 100  # 10,000 px: 0.5 % is 50 px

# name -> (person boxes [x, y, w, h], crowd boxes, expected VWW label)
CASES = {
    "big": ([[10, 10, 40, 40]], [], "person"),
    "just_over": ([[0, 0, 8, 7]], [], "person"),        # 56 px = 0.56 %: a 5 % rule leaves it out
    "exactly": ([[0, 0, 5, 10]], [], "no_person"),      # 50 px = 0.5 %: not more than 0.5 %
    "just_under": ([[0, 0, 7, 7]], [], "no_person"),    # 49 px
    "crowd": ([], [[0, 0, 20, 20]], "person"),          # a crowd region of persons counts
    "empty": ([], [], "no_person"),
}


def _write_coco(root: Path, split_file: str, folder: str, names: list[str]) -> Path:
    images_dir = root / folder
    images_dir.mkdir(parents=True)
    images, annotations = [], []
    for index, name in enumerate(names, start=1):
        pixels = np.random.default_rng(zlib.crc32(name.encode())).integers(0, 256, (SIDE_PX, SIDE_PX, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images_dir / f"{name}.png")
        images.append({"id": index, "file_name": f"{name}.png", "width": SIDE_PX, "height": SIDE_PX})
        persons, crowds, _ = CASES[name.split("-")[0]]
        for bbox, crowd in [(b, 0) for b in persons] + [(b, 1) for b in crowds]:
            annotations.append({"id": len(annotations) + 1, "image_id": index, "category_id": 1,
                                "bbox": bbox, "iscrowd": crowd})
    path = root / "annotations" / f"{split_file}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "person"}]}))
    return path


@pytest.fixture()
def vww_files(tmp_path: Path) -> tuple[Path, Path]:
    train = _write_coco(tmp_path, "instances_maxitrain", "maxitrain", [f"{n}-t" for n in CASES])
    val = _write_coco(tmp_path, "instances_minival", "minival", ["big-v", "just_under-v", "empty-v"])
    return train, val


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as handle:
        return {Path(row["source"]).stem: row for row in csv.DictReader(handle)}


def test_vww_rule_and_published_split(vww_files, tmp_path: Path) -> None:
    train, val = vww_files
    out = tmp_path / "vww"
    summary = curate_person_dataset(PersonDatasetConfig.vww(out, ((train, None), (val, None))))
    rows = _rows(out)
    expected = {f"{n}-t": (label, "train") for n, (_, _, label) in CASES.items()}
    expected |= {"big-v": ("person", "val"), "just_under-v": ("no_person", "val"), "empty-v": ("no_person", "val")}
    assert {stem: (row["label"], row["split"]) for stem, row in rows.items()} == expected
    assert summary.left_out == {}  # small persons are no_person, classes are not balanced
    assert summary.counts == {"train": {"person": 3, "no_person": 3}, "val": {"person": 1, "no_person": 2}}
    assert rows["exactly-t"]["reason"] == "vww: largest person box 0.0050 of image <= 0.005"


def test_the_default_rule_differs(vww_files, tmp_path: Path) -> None:
    """The default 5 % rule leaves the 0.56 % person out: the preset is what makes the numbers comparable."""
    train, _ = vww_files
    summary = curate_person_dataset(PersonDatasetConfig(out_dir=tmp_path / "d", coco=((train, None),), balance=False))
    assert summary.left_out["small_person"] == 3


def test_vww_from_the_command_line(vww_files, tmp_path: Path, capsys) -> None:
    train, val = vww_files
    out = tmp_path / "cli"
    assert main(["data", "person", "--preset", "vww", "--coco", str(train), "--coco", str(val),
                 "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"]["val"] == {"person": 1, "no_person": 2}
    assert sorted(p.name for p in out.iterdir()) == ["left_out.csv", "manifest.csv", "summary.json", "train", "val"]


def test_vww_refuses_what_it_does_not_define(vww_files, tmp_path: Path, caplog) -> None:
    train, _ = vww_files
    assert main(["data", "person", "--preset", "vww", "--coco", str(train), "--out", str(tmp_path / "a"),
                 "--min-area-share", "0.05"]) == 2
    assert "--preset vww fixes the rule" in caplog.text
    renamed = train.with_name("my_person_subset.json")
    renamed.write_text(train.read_text())
    with pytest.raises(DataError, match="is not a published split file; allowed: instances_maxitrain"):
        curate_person_dataset(PersonDatasetConfig.vww(tmp_path / "b", ((renamed, train.parent.parent / "maxitrain"),)))
    assert not (tmp_path / "b").exists()
    with pytest.raises(DataError, match="preset vww keeps every image"):
        curate_person_dataset(PersonDatasetConfig(out_dir=tmp_path / "c", coco=((train, None),), preset="vww",
                                                  crops_per_image=2))
