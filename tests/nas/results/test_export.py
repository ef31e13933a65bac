"""nas export: choosing the model (constructed study) and the real export of a tiny study."""

from __future__ import annotations

import pytest

from nas.record.points import distinct
from nas.results.selection import SelectionError, SelectionRequest, select_model
from tests.nas.constructed_study import TRIALS, trial_attrs


def _points():
    from nas.record.points import point_from_attrs

    return [point_from_attrs(n, trial_attrs(n, *t)) for n, t in enumerate(TRIALS)]


def test_select_by_trial_number_says_whether_on_front() -> None:
    chosen = select_model(_points(), SelectionRequest(trial_number=1))
    assert chosen.point.trial_number == 1 and chosen.on_front
    assert "as requested by number; on the Pareto front" in chosen.reason
    off = select_model(_points(), SelectionRequest(trial_number=3))
    assert not off.on_front and "NOT on the Pareto front" in off.reason
    with pytest.raises(SelectionError, match=r"no trial 42 in the study \(trials: \[0, 1, 2, 3, 4, 5\]\)"):
        select_model(_points(), SelectionRequest(trial_number=42))
    with pytest.raises(SelectionError, match="trial 4 was not fully evaluated"):
        select_model(_points(), SelectionRequest(trial_number=4))


def test_select_by_constraint() -> None:
    points = _points()
    # fastest with accuracy >= 85 %: trial 1 (2 ms) beats trial 5 (6 ms)
    fastest = select_model(points, SelectionRequest(min_accuracy=0.85))
    assert fastest.point.trial_number == 1
    assert "the fastest of the 2 front model(s) with accuracy >= 85.0 %" in fastest.reason
    # most accurate under 1 ms: trial 2
    assert select_model(points, SelectionRequest(max_latency_ms=1.0)).point.trial_number == 2
    # most accurate under 200 KB: trial 1
    best_small = select_model(points, SelectionRequest(max_size_bytes=200 * 1024))
    assert best_small.point.trial_number == 1 and "the most accurate" in best_small.reason
    with pytest.raises(SelectionError, match="no model on the front has accuracy >= 99.0 %"):
        select_model(points, SelectionRequest(min_accuracy=0.99))
    with pytest.raises(SelectionError, match="not both"):
        select_model(points, SelectionRequest(trial_number=1, min_accuracy=0.5))


def test_select_knee_by_default() -> None:
    chosen = select_model(_points(), SelectionRequest())
    # front (2: 0.70/0.8 ms/40 KB, 1: 0.90/2 ms/150 KB, 5: 0.95/6 ms/500 KB): trial 1 is the bend
    assert chosen.point.trial_number == 1
    assert chosen.reason.startswith("trial 1: the knee of the accuracy vs latency_ms_p50 trade-off on the 3-model")
    assert distinct(_points()) == _points()


def _card_accuracy(card: str, split: str) -> float:
    import re

    match = re.search(rf"^\| {split} \| ([0-9.]+) % \|", card, flags=re.M)
    assert match, f"no {split} row in the model card"
    return float(match.group(1)) / 100


def _check_export_folder(out, architecture: str, trial: int) -> dict:
    """The folder's files, sidecar and embedded metadata; the exported file re-measured here with
    LiteRT gives the accuracy the model card and export.json state. Returns export.json."""
    import json

    from edge_profiler.model_metadata import read_sidecar
    from evaluators import DatasetConfig, evaluate_tflite, load_dataset
    from nas.results.export.tflite_metadata import read_json

    assert sorted(p.name for p in out.iterdir()) == ["MODEL_CARD.md", "export.json", "model.json",
                                                      "model.keras", "model.tflite"]
    assert not out.with_name(out.name + ".partial").exists()
    summary = json.loads((out / "export.json").read_text())
    sidecar = read_sidecar(out / "model.tflite")
    assert sidecar.labels == tuple(str(d) for d in range(10))
    assert (sidecar.mean, sidecar.std, sidecar.resolution, sidecar.channels) == (127.5, 127.5, 16, 1)
    assert sidecar.architecture == architecture and sidecar.extra["trial"] == trial
    embedded = read_json((out / "model.tflite").read_bytes())
    assert embedded["labels"] == list(sidecar.labels) and embedded["normalization"] == {"mean": 127.5, "std": 127.5}

    dataset = load_dataset(DatasetConfig(name="digits"), resolution=16, channels=1, batch_size=64)
    card = (out / "MODEL_CARD.md").read_text()
    for split, data in (("val", dataset.val), ("test", dataset.test)):
        measured = evaluate_tflite(out / "model.tflite", data, dataset.class_names).accuracy
        assert _card_accuracy(card, split) == pytest.approx(measured, abs=6e-5)  # card: 2 decimals of %
        assert summary[f"accuracy_int8_{split}"] == pytest.approx(measured, abs=1e-12)
    assert summary["latency_ms_p50"] > 0 and "measured by local" in summary["latency_note"]
    assert "tflite-support" in card
    return summary


def test_export_of_the_tiny_search_knee(tiny_search_study, tmp_path, capsys) -> None:
    from nas.cli import main
    from nas.record.points import OBJECTIVES, distinct, study_points
    from nas.record.study import open_study
    from nas.results.front import pareto_front
    from nas.results.selection import knee_of

    assert tiny_search_study["exit_code"] == 0
    study = open_study(tiny_search_study["study"], runs_dir=tiny_search_study["runs_dir"])
    knee = knee_of(pareto_front(distinct(study_points(study))), OBJECTIVES)
    out = tmp_path / "export"
    assert main(["export", "--study", "tiny", "--runs-dir", str(tiny_search_study["runs_dir"]),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"exporting trial {knee.trial_number}" in printed and f"export verified: {out}" in printed
    summary = _check_export_folder(out, knee.architecture, knee.trial_number)
    # the default export schedule: 3 x the search's 1 proxy epoch, at least 5 epochs
    assert summary["quantization"] == "int8" and summary["training"]["epochs"] == 5
    assert summary["accuracy_int8_val"] > 0.2  # 10 classes: twice chance after 5 full epochs
    assert summary["accuracy_int8_test"] is not None  # the search kept the test split closed; export opens it


def test_export_with_qat_by_trial_number(tmp_path, capsys) -> None:
    from nas.cli import main
    from tests.nas.constructed_study import SMALL_16PX, make_trainable_study

    name, runs = make_trainable_study(tmp_path)
    out = tmp_path / "export"
    assert main(["export", "--study", name, "--runs-dir", str(runs), "--trial", "1", "--epochs", "1", "--qat",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "exporting trial 1 as requested by number; on the Pareto front" in printed
    summary = _check_export_folder(out, SMALL_16PX, 1)
    assert summary["quantization"] == "qat_int8"
    card = (out / "MODEL_CARD.md").read_text()
    assert "quantization-aware fine-tune" in card and "mobilenet_v2_0.35 (trial 0)" in card

    # an existing folder is not overwritten silently
    assert main(["export", "--study", name, "--runs-dir", str(runs), "--trial", "0", "--out", str(out)]) == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err


def test_two_model_front_prefers_the_discovered_model() -> None:
    from nas.record.points import point_from_attrs

    reference = point_from_attrs(0, trial_attrs(0, 0.17, 0.045, 600_000, "complete"))
    found = point_from_attrs(5, trial_attrs(5, 0.71, 0.067, 900_000, "complete"))
    chosen = select_model([reference, found], SelectionRequest())
    assert chosen.point.trial_number == 5
    assert "so no knee" in chosen.reason and "discovered model is preferred" in chosen.reason


def test_knee_is_taken_on_accuracy_and_latency() -> None:
    """The demo's front: with size as a third normalized objective the fastest (least accurate)
    model would win because size and latency grow together; the accuracy-latency knee is the bend."""
    from nas.record.points import point_from_attrs

    rows = [(0, 0.170, 0.045, 613_000), (1, 0.183, 0.081, 1_080_000), (5, 0.516, 0.098, 1_265_000),
            (4, 0.588, 0.161, 2_221_000)]
    points = [point_from_attrs(n, trial_attrs(n, a, lat, size, "complete")) for n, a, lat, size in rows]
    chosen = select_model(points, SelectionRequest())
    assert chosen.point.trial_number == 5
    assert "knee of the accuracy vs latency_ms_p50 trade-off on the 4-model Pareto front" in chosen.reason
    # with one objective pair only, the knee uses it
    only = select_model(points, SelectionRequest(), {"accuracy": "maximize", "size_bytes": "minimize"})
    assert only.point.trial_number == 5


def test_an_int8_model_xnnpack_refuses_is_named_in_the_latency_note(caplog) -> None:
    from nas.results.export.exporter import with_xnnpack_note

    assert with_xnnpack_note("measured by local", {"accuracy": 0.9, "xnnpack": True}) == "measured by local"
    assert with_xnnpack_note("measured by local", {"accuracy": 0.9}) == "measured by local"
    note = with_xnnpack_note("not measured: rejected", {"accuracy": 0.9, "xnnpack": False})
    assert note.startswith("not measured: rejected; XNNPACK refuses this int8 model") and "XNNPACK refuses" in caplog.text
