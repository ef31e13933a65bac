"""Person curation and `nas data person` on small COCO and WiderPerson sets built in tmp_path."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluators.datasets.person import (
    AnnotationError,
    DataError,
    PersonDatasetConfig,
    curate_person_dataset,
    read_coco,
    read_widerperson,
)
from nas.cli import main

SIZE_PX = 32


def _write_image(path: Path, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(SIZE_PX, SIZE_PX, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def _coco(tmp_path: Path, *, n_person: int = 6, n_empty: int = 9) -> tuple[Path, Path]:
    """COCO layout: person images (one big box), empty images, a tiny-person one, a crowd-only one,
    and one byte-identical copy of an empty image under another name."""
    images_dir = tmp_path / "coco" / "val2017"
    annotations_dir = tmp_path / "coco" / "annotations"
    images_dir.mkdir(parents=True)
    annotations_dir.mkdir()
    images, annotations = [], []

    def add(name: str, seed: int) -> int:
        _write_image(images_dir / name, seed)
        images.append({"id": len(images) + 1, "file_name": name, "width": SIZE_PX, "height": SIZE_PX})
        return len(images)

    def box(image_id: int, bbox: list[float], iscrowd: int = 0, category: int = 1) -> None:
        annotations.append(
            {"id": len(annotations) + 1, "image_id": image_id, "category_id": category, "bbox": bbox,
             "iscrowd": iscrowd}
        )

    for k in range(n_person):
        box(add(f"p{k}.png", k), [2.0, 2.0, 24.0, 28.0])
        box(images[-1]["id"], [0.0, 0.0, 4.0, 4.0], category=2)  # a bicycle does not matter
    for k in range(n_empty):
        add(f"e{k}.png", 100 + k)
    shutil.copyfile(images_dir / "e0.png", images_dir / "e0_copy.png")
    images.append({"id": len(images) + 1, "file_name": "e0_copy.png", "width": SIZE_PX, "height": SIZE_PX})
    box(add("tiny.png", 200), [1.0, 1.0, 3.0, 3.0])
    box(add("crowd.png", 201), [0.0, 0.0, 30.0, 30.0], iscrowd=1)
    data = {
        "info": {},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "bicycle"}],
    }
    annotation_path = annotations_dir / "instances_val2017.json"
    annotation_path.write_text(json.dumps(data))
    return annotation_path, images_dir


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_curates_balanced_split_dataset_with_manifest(tmp_path: Path) -> None:
    annotation_path, images_dir = _coco(tmp_path)
    sources_before = _tree_digest(images_dir)
    out = tmp_path / "out"
    config = PersonDatasetConfig(out_dir=out, coco=((annotation_path, None),), val_fraction=0.34, seed=3)
    summary = curate_person_dataset(config)

    rows = _manifest(out)
    labels = [row["label"] for row in rows]
    assert labels.count("person") == labels.count("no_person") == 6  # balanced down from 10 empty images
    assert summary.left_out == {"crowd_only": 1, "not_sampled": 4, "small_person": 1}
    assert sum(summary.counts["val"].values()) == 4  # round(0.34 * 6) per class
    for row in rows:
        placed = out / row["path"]
        assert placed.parent == out / row["split"] / row["label"]
        assert placed.is_symlink() and placed.resolve() == Path(row["source"])
        assert hashlib.sha256(placed.read_bytes()).hexdigest() == row["sha256"]
        assert row["origin"] == "coco" and row["reason"]
    tiny = [r for r in csv.DictReader((out / "left_out.csv").open()) if r["reason"] == "small_person"]
    assert [Path(r["source"]).name for r in tiny] == ["tiny.png"]
    assert _tree_digest(images_dir) == sources_before


def test_identical_files_stay_on_one_side(tmp_path: Path) -> None:
    annotation_path, _ = _coco(tmp_path)
    for seed in range(8):
        out = tmp_path / f"out{seed}"
        curate_person_dataset(
            PersonDatasetConfig(out_dir=out, coco=((annotation_path, None),), balance=False, val_fraction=0.5,
                                seed=seed)
        )
        splits = {Path(r["source"]).name: r["split"] for r in _manifest(out)}
        assert splits["e0.png"] == splits["e0_copy.png"]
    assert len({r["split"] for r in _manifest(tmp_path / "out0")}) == 2


def test_same_seed_gives_same_dataset_byte_for_byte(tmp_path: Path) -> None:
    annotation_path, _ = _coco(tmp_path)
    outputs = []
    for run, seed in enumerate((7, 7, 8)):
        out = tmp_path / f"run{run}"
        config = PersonDatasetConfig(
            out_dir=out, coco=((annotation_path, None),), seed=seed, crops_per_image=1, crop_min_px=8, link="copy"
        )
        curate_person_dataset(config)
        outputs.append(((out / "manifest.csv").read_bytes(), _tree_digest(out)))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] != outputs[2][0]


def test_person_crops_are_extra_positives_in_the_source_split(tmp_path: Path) -> None:
    annotation_path, _ = _coco(tmp_path)
    out = tmp_path / "out"
    summary = curate_person_dataset(
        PersonDatasetConfig(out_dir=out, coco=((annotation_path, None),), crops_per_image=2, crop_min_px=8, link="copy")
    )
    rows = _manifest(out)
    crops = [r for r in rows if r["reason"].startswith("crop of person box")]
    assert len(crops) == 6 and sum(summary.crops.values()) == 6  # one qualifying person box per image
    originals = {r["source"]: r["split"] for r in rows if not r["reason"].startswith("crop")}
    for crop in crops:
        assert crop["label"] == "person" and crop["split"] == originals[crop["source"]]
        with Image.open(out / crop["path"]) as image:
            # box x 2..26, y 2..30: a 30.8 px square around (14, 16), clipped at the left edge
            assert image.size == (29, 30)
    assert not any((out / "train" / "person").glob("*.png.*"))


def test_unreadable_image_is_reported_not_fatal(tmp_path: Path) -> None:
    annotation_path, images_dir = _coco(tmp_path)
    (images_dir / "p0.png").write_bytes(b"not an image")
    summary = curate_person_dataset(
        PersonDatasetConfig(out_dir=tmp_path / "out", coco=((annotation_path, None),), seed=1)
    )
    assert summary.unreadable == [str(images_dir / "p0.png")]
    assert summary.left_out["unreadable"] == 1
    assert summary.counts["train"]["person"] + summary.counts["val"]["person"] == 5


def test_missing_images(tmp_path: Path) -> None:
    annotation_path, images_dir = _coco(tmp_path)
    (images_dir / "p1.png").unlink()
    summary = curate_person_dataset(PersonDatasetConfig(out_dir=tmp_path / "a", coco=((annotation_path, None),)))
    assert summary.left_out["missing_file"] == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="none of the .* annotated images exist"):
        curate_person_dataset(PersonDatasetConfig(out_dir=tmp_path / "b", coco=((annotation_path, empty),)))
    with pytest.raises(AnnotationError, match="does not exist; pass it with --coco-images"):
        read_coco(annotation_path, tmp_path / "nowhere")


def test_bad_annotation_files(tmp_path: Path) -> None:
    annotation_path, images_dir = _coco(tmp_path)
    not_json = tmp_path / "a.json"
    not_json.write_text("images: []")
    with pytest.raises(AnnotationError, match="not JSON"):
        read_coco(not_json, images_dir)
    not_coco = tmp_path / "b.json"
    not_coco.write_text(json.dumps({"images": []}))
    with pytest.raises(AnnotationError, match="missing list.*annotations, categories"):
        read_coco(not_coco, images_dir)
    no_person = tmp_path / "c.json"
    data = json.loads(annotation_path.read_text())
    data["categories"] = [{"id": 2, "name": "bicycle"}]
    no_person.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match="no category named 'person'.*bicycle"):
        read_coco(no_person, images_dir)


def test_output_folder_must_be_new_or_empty(tmp_path: Path) -> None:
    annotation_path, _ = _coco(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(DataError, match="not empty"):
        curate_person_dataset(PersonDatasetConfig(out_dir=out, coco=((annotation_path, None),)))


def _widerperson(tmp_path: Path) -> Path:
    root = tmp_path / "WiderPerson"
    (root / "Images").mkdir(parents=True)
    (root / "Annotations").mkdir()
    boxes = {
        "000001": ["1 2 2 30 30", "4 0 0 5 5"],  # pedestrian, plus an ignore region
        "000002": ["3 4 4 28 30"],  # partially visible person
        "000003": ["5 0 0 32 32"],  # crowd only
        "000004": ["2 1 1 4 4"],  # tiny rider
        "000005": [],
    }
    for number, (image_id, lines) in enumerate(boxes.items()):
        _write_image(root / "Images" / f"{image_id}.jpg", 300 + number)
        (root / "Annotations" / f"{image_id}.jpg.txt").write_text("\n".join([str(len(lines)), *lines]) + "\n")
    (root / "train.txt").write_text("000001\n000002\n000003\n")
    (root / "val.txt").write_text("000004\n000005\n")
    return root


def test_widerperson_lists(tmp_path: Path) -> None:
    root = _widerperson(tmp_path)
    images = {image.path.name: image for image in read_widerperson(root)}
    assert sorted(images) == ["000001.jpg", "000002.jpg", "000003.jpg", "000004.jpg", "000005.jpg"]
    assert len(images["000001.jpg"].person_boxes) == 1 and len(images["000001.jpg"].crowd_boxes) == 1
    assert [image.path.name for image in read_widerperson(root / "val.txt")] == ["000004.jpg", "000005.jpg"]
    (root / "Annotations" / "000002.jpg.txt").write_text("2\n1 0 0 5 5\n")
    with pytest.raises(AnnotationError, match="count line says 2 boxes, found 1"):
        read_widerperson(root)


def test_cli_combines_coco_and_widerperson(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    annotation_path, images_dir = _coco(tmp_path)
    root = _widerperson(tmp_path)
    out = tmp_path / "out"
    code = main([
        "data", "person", "--coco", str(annotation_path), "--coco-images", str(images_dir),
        "--widerperson", str(root), "--out", str(out), "--no-balance", "--json",
    ])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["annotated_images"] == {"coco": 18, "widerperson": 5}
    assert summary["left_out"] == {"crowd_only": 2, "small_person": 2}
    total = {label: sum(summary["counts"][s][label] for s in ("train", "val")) for label in ("person", "no_person")}
    assert total == {"person": 8, "no_person": 11}
    assert (out / "summary.json").is_file()
    assert main(["data", "person", "--coco", str(tmp_path / "missing.json"), "--out", str(tmp_path / "x")]) == 1
    assert "COCO annotation file not found" in caplog.text


def test_hardlink_and_copy_modes(tmp_path: Path) -> None:
    annotation_path, _ = _coco(tmp_path)
    for link in ("hardlink", "copy"):
        out = tmp_path / link
        curate_person_dataset(PersonDatasetConfig(out_dir=out, coco=((annotation_path, None),), link=link))
        for row in _manifest(out):
            placed, source = out / row["path"], Path(row["source"])
            assert not placed.is_symlink()
            assert (placed.stat().st_ino == source.stat().st_ino) == (link == "hardlink")
            assert placed.read_bytes() == source.read_bytes()


def test_output_is_the_pre_split_image_folder_the_evaluators_read(tmp_path: Path) -> None:
    from evaluators.datasets.image_folder import load_image_folder

    annotation_path, _ = _coco(tmp_path, n_person=10, n_empty=12)
    out = tmp_path / "out"
    summary = curate_person_dataset(
        PersonDatasetConfig(
            out_dir=out, coco=((annotation_path, None),), val_fraction=0.2, test_fraction=0.3,
            crops_per_image=1, crop_min_px=8,
        )
    )
    # 10 images per class: val 2, test 3, train 5 each; one crop per person image, in its split.
    assert summary.crops == {"train": 5, "val": 2, "test": 3}
    assert {split: sum(c.values()) for split, c in summary.counts.items()} == {"train": 15, "val": 6, "test": 9}
    raw = load_image_folder(out, resolution=16, channels=3)
    assert raw.class_names == ("no_person", "person")
    assert raw.info["predefined_splits"] == ["test", "train", "val"] and raw.info["num_skipped"] == 0
    for split, labels in (("train", raw.train_labels), ("val", raw.val_labels), ("test", raw.test_labels)):
        assert np.bincount(labels).tolist() == [summary.counts[split]["no_person"], summary.counts[split]["person"]]
    with pytest.raises(DataError, match="val_fraction \\+ test_fraction < 1"):
        PersonDatasetConfig(out_dir=out, coco=((annotation_path, None),), val_fraction=0.5,
                            test_fraction=0.5).validate()
