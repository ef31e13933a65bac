"""`edge-profiler classify` on a short MJPG video the test writes, with a tiny int8 model.

The model tells red from blue frames by the mean of (R - B): it only answers right when frames are
converted from BGR to RGB, normalized to [-1, 1] and quantized to int8 as the sidecar says.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_profiler import classify
from edge_profiler.cli import main
from edge_profiler.model_metadata import MetadataError, ModelMetadata, read_sidecar, write_sidecar

RESOLUTION = 16
LABELS = ["red", "blue"]
# BGR frames: 5 red, then 5 blue.
FRAME_COLORS_BGR = [(0, 0, 230)] * 5 + [(230, 0, 0)] * 5


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny int8 TFLite model (converted once: the converter costs seconds) and its sidecar."""
    from search_spaces.keras_backend import keras

    inputs = keras.Input((RESOLUTION, RESOLUTION, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, dense(pooled))
    # logit(red) = 6 (R - B), logit(blue) = 6 (B - R) on the normalized RGB channel means.
    dense.set_weights([np.array([[6.0, -6.0], [0.0, 0.0], [-6.0, 6.0]], np.float32), np.zeros(2, np.float32)])

    from evaluators import convert

    rng = np.random.default_rng(0)
    # flat colours, so that the pooled means cover [-1, 1]
    colors = rng.uniform(-1, 1, (32, 1, 1, 3))
    calibration = np.broadcast_to(colors, (32, RESOLUTION, RESOLUTION, 3)).astype(np.float32)
    converted = convert(model, "int8", calibration=calibration)
    path = tmp_path_factory.mktemp("model") / "model.tflite"
    path.write_bytes(converted.tflite_bytes)
    write_sidecar(path, ModelMetadata(labels=tuple(LABELS), resolution=RESOLUTION, channels=3, architecture="test"))
    return path


@pytest.fixture(scope="module")
def video_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (48, 32))
    assert writer.isOpened()
    for color in FRAME_COLORS_BGR:
        writer.write(np.full((32, 48, 3), color, np.uint8))
    writer.release()
    return path


def _run(argv: list[str]) -> int:
    return main(["classify", *argv])


def test_classifies_every_frame_of_a_video_as_json(
    model_path: Path, video_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run([str(model_path), "--source", str(video_path), "--json", "--threads", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["label"] for line in lines] == ["red"] * 5 + ["blue"] * 5
    assert [line["frame"] for line in lines] == list(range(10))
    for line in lines:
        assert line["score"] > 0.9 and set(line["scores"]) == set(LABELS)
        assert abs(sum(line["scores"].values()) - 1.0) < 0.02
        assert line["inference_ms"] > 0 and line["preprocess_ms"] > 0 and line["capture_ms"] > 0
        assert line["fps"] > 0


def test_text_output_max_frames_and_json_file(
    model_path: Path, video_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "frames.jsonl"
    code = _run([str(model_path), "--source", str(video_path), "--max-frames", "3", "--json", str(log)])
    assert code == 0
    text = capsys.readouterr().out.splitlines()
    assert len(text) == 4 and all(" red " in line and " fps " in line and "inference" in line for line in text[:3])
    assert text[3].startswith("3 frames: capture") and "accuracy" not in text[3]
    assert [json.loads(line)["frame"] for line in log.read_text().splitlines()] == [0, 1, 2]


def test_input_quantization_matches_the_model(model_path: Path) -> None:
    classifier = classify.Classifier(model_path, read_sidecar(model_path))
    assert classifier.input_dtype == np.int8
    tensor = classifier.preprocess(np.full((20, 30, 3), (255, 127, 0), np.uint8))  # BGR
    assert tensor.shape == (1, RESOLUTION, RESOLUTION, 3) and tensor.dtype == np.int8
    # After BGR -> RGB, R = 0 -> -1.0 and B = 255 -> +1.0, i.e. the ends of the int8 range.
    assert np.all(tensor[..., 0] <= -127) and np.all(tensor[..., 2] == 127)


def test_clear_errors(model_path: Path, video_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(
        {"labels": LABELS, "normalization": {"mean": 127.5, "std": 127.5},
         "input": {"resolution": 32, "channels": 3}, "architecture": "x"}
    ))
    assert _run([str(model_path), "--metadata", str(wrong), "--source", str(video_path)]) == 1
    assert "metadata says (1, 32, 32, 3)" in caplog.text
    assert _run([str(model_path), "--source", str(tmp_path / "none.avi")]) == 1
    assert "none.avi not found" in caplog.text
    lone = tmp_path / "lone.tflite"
    lone.write_bytes(model_path.read_bytes())
    assert _run([str(lone), "--source", str(video_path)]) == 1
    assert "lone.json not found" in caplog.text
    with pytest.raises(MetadataError, match="missing 'normalization'"):
        ModelMetadata.from_json({"labels": LABELS, "input": {"resolution": 8, "channels": 3}, "architecture": "x"})
    with pytest.raises(MetadataError, match="channels must be 1"):
        ModelMetadata(labels=("a", "b"), resolution=8, channels=2, architecture="x")


def test_missing_opencv_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # makes `import cv2` raise ImportError
    with pytest.raises(classify.ClassifyError, match=r'pip install "edge-nas\[camera\]"'):
        classify.import_cv2()


def test_sidecar_round_trip(tmp_path: Path) -> None:
    metadata = ModelMetadata(
        labels=("no_person", "person"), resolution=96, channels=3, architecture="arch", resize="center_crop",
        extra={"accuracy": 0.93},
    )
    path = write_sidecar(tmp_path / "model.tflite", metadata)
    assert path == tmp_path / "model.json"
    assert read_sidecar(tmp_path / "model.tflite") == metadata
    assert json.loads(path.read_text())["normalization"] == {"mean": 127.5, "std": 127.5}


def test_image_folder_source_reports_accuracy(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "val"
    for label, color, count in (("red", (0, 0, 220), 3), ("blue", (220, 0, 0), 2)):
        (folder / label).mkdir(parents=True)
        for k in range(count):
            cv2.imwrite(str(folder / label / f"{k}.png"), np.full((24, 24, 3), color, np.uint8))
    # One blue image filed as red: the accuracy must count it as wrong.
    cv2.imwrite(str(folder / "red" / "9.png"), np.full((24, 24, 3), (220, 0, 0), np.uint8))
    (folder / "red" / "notes.txt").write_text("not an image")
    assert _run([str(model_path), "--source", str(folder)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert "6 frames" in last and "accuracy 0.8333 (5/6: blue 2/2, red 3/4)" in last
    (folder / "green").mkdir()
    (folder / "green" / "0.png").write_bytes((folder / "red" / "0.png").read_bytes())
    assert _run([str(model_path), "--source", str(folder)]) == 1


def test_a_file_that_is_no_model_is_a_clear_error(
    model_path: Path, video_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bogus = tmp_path / "bogus.tflite"
    bogus.write_bytes(b"\x00" * 64)
    (tmp_path / "bogus.json").write_bytes(model_path.with_suffix(".json").read_bytes())
    assert _run([str(bogus), "--source", str(video_path)]) == 1
    assert "cannot load model" in caplog.text


def test_importing_classify_loads_neither_tensorflow_nor_opencv() -> None:
    import subprocess

    code = "import sys, edge_profiler.classify, edge_profiler.cli; print(sorted(sys.modules))"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'numpy'" in modules
    assert "'tensorflow'" not in modules and "'cv2'" not in modules and "'keras'" not in modules
