"""`edge-profiler classify`: run an exported int8 model on live camera or video frames.

Reads ``model.tflite`` and its sidecar ``model.json`` (:mod:`edge_profiler.model_metadata`), feeds
each frame through the model's own normalization and int8 input quantization, and reports the label,
its score and a rolling frames-per-second figure split into capture, preprocessing and inference
time. Light by design: NumPy, a LiteRT interpreter and OpenCV (``pip install "edge-nas[camera]"``),
plus Picamera2 for a Raspberry Pi camera module where it is installed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import numpy as np

from edge_profiler.litert import QuantizationError, dequantize, load_runtime, quantize
from edge_profiler.model_metadata import MetadataError, ModelMetadata, read_sidecar, sidecar_path

logger = logging.getLogger(__name__)

CAMERA_INSTALL_HINT = 'pip install "edge-nas[camera]"'
PICAMERA2 = "picamera2"


class ClassifyError(RuntimeError):
    """Classification cannot start or go on; the message says why and what to do."""


def import_cv2() -> Any:
    """OpenCV, imported only when classification runs, with the install command when missing."""
    try:
        import cv2
    except ImportError as exc:
        raise ClassifyError(
            f"edge-profiler classify needs OpenCV, which is not installed ({exc}); install it with: "
            f"{CAMERA_INSTALL_HINT}"
        ) from exc
    return cv2


class FrameSource(Protocol):
    """Frames as BGR uint8 arrays (height, width, 3); ``None`` when the source has no more."""

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


class OpenCVSource:
    """A camera by device index, or a video file, through ``cv2.VideoCapture``."""

    def __init__(self, source: int | str, *, width: int | None = None, height: int | None = None) -> None:
        cv2 = import_cv2()
        self._capture = cv2.VideoCapture(source)
        if not self._capture.isOpened():
            what = f"camera {source}" if isinstance(source, int) else f"video file {source}"
            raise ClassifyError(f"OpenCV cannot open {what}")
        if isinstance(source, int):
            if width:
                self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            if height:
                self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)

    def read(self) -> np.ndarray | None:
        ok, frame = self._capture.read()
        return frame if ok else None

    def close(self) -> None:
        self._capture.release()


class Picamera2Source:
    """A Raspberry Pi camera module through Picamera2; its ``RGB888`` format is B, G, R per pixel,
    the order OpenCV uses (Picamera2 manual, appendix A)."""

    def __init__(self, *, width: int | None = None, height: int | None = None) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise ClassifyError(
                "Picamera2 is not installed; on Raspberry Pi OS: sudo apt install -y python3-picamera2 "
                "(and create the virtualenv with --system-site-packages), or use --source 0 for a USB camera"
            ) from exc
        self._camera = Picamera2()
        size = (width or 640, height or 480)
        self._camera.configure(self._camera.create_preview_configuration(main={"format": "RGB888", "size": size}))
        self._camera.start()

    def read(self) -> np.ndarray | None:
        return self._camera.capture_array()

    def close(self) -> None:
        self._camera.stop()
        self._camera.close()


class ImageFolderSource:
    """The images of a folder with one subfolder per class (``val/person``, ``val/no_person``), in
    sorted order; ``last_label`` is the class of the image ``read`` returned last, so that the
    accuracy of the deployed model and preprocessing can be measured on the device."""

    def __init__(self, root: str | Path) -> None:
        self._cv2 = import_cv2()
        root = Path(root)
        classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        self._files = [(path, folder.name) for folder in classes
                       for path in sorted(folder.rglob("*")) if path.is_file()]
        if not self._files:
            raise ClassifyError(f"{root} holds no class subfolders with files (expected {root}/<label>/<image>)")
        self._next = 0
        self.last_label: str | None = None

    def labels(self) -> tuple[str, ...]:
        return tuple(sorted({label for _, label in self._files}))

    def read(self) -> np.ndarray | None:
        while self._next < len(self._files):
            path, label = self._files[self._next]
            self._next += 1
            frame = self._cv2.imread(str(path), self._cv2.IMREAD_COLOR)
            if frame is None:
                logger.warning("cannot read image %s; skipped", path)
                continue
            self.last_label = label
            return frame
        return None

    def close(self) -> None:
        pass


def open_source(spec: str, *, width: int | None = None, height: int | None = None) -> FrameSource:
    """``0`` (or any integer): OpenCV camera index; ``picamera2``: Pi camera; a folder: its class
    subfolders' images; else a video file."""
    if spec == PICAMERA2:
        import_cv2()  # needed for preprocessing; fail before the camera starts
        return Picamera2Source(width=width, height=height)
    if spec.isdigit():
        return OpenCVSource(int(spec), width=width, height=height)
    if Path(spec).is_dir():
        return ImageFolderSource(spec)
    if not Path(spec).is_file():
        raise ClassifyError(
            f"video file {spec} not found (use an integer for a camera, {PICAMERA2}, or an image folder)"
        )
    return OpenCVSource(spec)


class Classifier:
    """An int8 (or float) TFLite classifier with the preprocessing its sidecar describes."""

    def __init__(self, model_path: str | Path, metadata: ModelMetadata, *, threads: int = 1) -> None:
        self._cv2 = import_cv2()
        self.metadata = metadata
        model_path = Path(model_path)
        if not model_path.is_file():
            raise ClassifyError(f"model {model_path} not found")
        try:
            self._interpreter = load_runtime().interpreter(model_path, num_threads=threads)
            self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:  # no runtime, or not a TFLite model
            raise ClassifyError(f"cannot load model {model_path}: {exc}") from exc
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        expected = (1, metadata.resolution, metadata.resolution, metadata.channels)
        if tuple(int(v) for v in self._input["shape"]) != expected:
            raise ClassifyError(
                f"{model_path} takes input {tuple(self._input['shape'])} but its metadata says {expected}"
            )
        outputs = int(np.prod(self._output["shape"]))
        if outputs != len(metadata.labels):
            raise ClassifyError(
                f"{model_path} has {outputs} outputs but its metadata lists {len(metadata.labels)} labels")
        self._lut = self._input_lut()

    def _input_lut(self) -> np.ndarray:
        """Pixel value 0..255 -> model input value: normalization then, for int8 / uint8 inputs,
        quantization ``q = round(x / scale) + zero_point`` (:func:`edge_profiler.litert.quantize`)."""
        normalized = (np.arange(256, dtype=np.float64) - self.metadata.mean) / self.metadata.std
        try:
            return quantize(normalized, self._input)
        except QuantizationError as exc:
            raise ClassifyError(f"model input: {exc}") from exc

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self._input["dtype"])

    def preprocess(self, frame_bgr: np.ndarray) -> np.ndarray:
        """A BGR uint8 frame -> the model's input tensor (1, R, R, C)."""
        cv2, meta = self._cv2, self.metadata
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] not in (3, 4):
            raise ClassifyError(f"expected a BGR frame (height, width, 3), got shape {frame_bgr.shape}")
        frame = frame_bgr[:, :, :3]
        if meta.resize == "center_crop":
            height, width = frame.shape[:2]
            side = min(height, width)
            top, left = (height - side) // 2, (width - side) // 2
            frame = frame[top : top + side, left : left + side]
        # Pixel-area averaging: closest to the antialiased Pillow bilinear resize the image-folder
        # loader trains with (evaluators/datasets/image_folder.py) when shrinking a camera frame.
        frame = cv2.resize(frame, (meta.resolution, meta.resolution), interpolation=cv2.INTER_AREA)
        if meta.channels == 1:
            pixels = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[:, :, None]
        else:
            pixels = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        return self._lut[pixels][None, ...]

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """Class probabilities (float32, one per label) for one preprocessed input."""
        self._interpreter.set_tensor(self._input["index"], tensor)
        self._interpreter.invoke()
        return dequantize(self._interpreter.get_tensor(self._output["index"]).reshape(-1), self._output)


@dataclass(frozen=True)
class FrameResult:
    """One classified frame; ``*_ms`` are this frame's times, ``fps`` is over the rolling window."""

    frame: int
    label: str
    score: float
    scores: dict[str, float]
    capture_ms: float
    preprocess_ms: float
    inference_ms: float
    fps: float
    true_label: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "frame": self.frame,
            "label": self.label,
            "score": round(self.score, 6),
            "scores": {label: round(value, 6) for label, value in self.scores.items()},
            "capture_ms": round(self.capture_ms, 3),
            "preprocess_ms": round(self.preprocess_ms, 3),
            "inference_ms": round(self.inference_ms, 3),
            "fps": round(self.fps, 2),
        }
        if self.true_label is not None:
            data["true_label"] = self.true_label
        return data


def classify_stream(
    classifier: Classifier, source: FrameSource, *, max_frames: int | None = None, window: int = 30
) -> Iterator[FrameResult]:
    """Classify frames until the source ends or ``max_frames`` were done."""
    clock = time.perf_counter
    ends: deque[float] = deque(maxlen=window + 1)
    labels = classifier.metadata.labels
    count = 0
    start = clock()
    while max_frames is None or count < max_frames:
        frame = source.read()
        captured = clock()
        if frame is None:
            return
        tensor = classifier.preprocess(frame)
        prepared = clock()
        probabilities = classifier.infer(tensor)
        done = clock()
        ends.append(done)
        if len(ends) >= 2:
            fps = (len(ends) - 1) / (ends[-1] - ends[0])
        else:
            fps = 1.0 / (done - start)
        best = int(np.argmax(probabilities))
        yield FrameResult(
            frame=count,
            label=labels[best],
            score=float(probabilities[best]),
            scores={label: float(p) for label, p in zip(labels, probabilities)},
            capture_ms=(captured - start) * 1e3,
            preprocess_ms=(prepared - captured) * 1e3,
            inference_ms=(done - prepared) * 1e3,
            fps=fps,
            true_label=getattr(source, "last_label", None),
        )
        count += 1
        start = clock()


@dataclass
class RunSummary:
    """Totals of a run: frames, mean times and, for an image folder, the accuracy."""

    frames: int = 0
    total_ms: dict[str, float] = field(
        default_factory=lambda: {"capture_ms": 0.0, "preprocess_ms": 0.0, "inference_ms": 0.0}
    )
    labelled: int = 0
    correct: int = 0
    per_class: dict[str, list[int]] = field(default_factory=dict)  # label -> [correct, total]

    def add(self, result: FrameResult) -> None:
        self.frames += 1
        for key in self.total_ms:
            self.total_ms[key] += getattr(result, key)
        if result.true_label is not None:
            hit = int(result.label == result.true_label)
            self.labelled += 1
            self.correct += hit
            counts = self.per_class.setdefault(result.true_label, [0, 0])
            counts[0] += hit
            counts[1] += 1

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"frames": self.frames}
        data.update({f"mean_{k}": round(v / max(self.frames, 1), 3) for k, v in self.total_ms.items()})
        if self.labelled:
            data["accuracy"] = round(self.correct / self.labelled, 6)
            data["per_class_accuracy"] = {k: round(c / n, 6) for k, (c, n) in sorted(self.per_class.items())}
        return data

    def format(self) -> str:
        means = self.to_json()
        text = (
            f"{self.frames} frames: capture {means['mean_capture_ms']:.1f} ms, preprocess "
            f"{means['mean_preprocess_ms']:.1f} ms, inference {means['mean_inference_ms']:.1f} ms per frame"
        )
        if self.labelled:
            per_class = ", ".join(f"{k} {c}/{n}" for k, (c, n) in sorted(self.per_class.items()))
            text += f"; accuracy {self.correct / self.labelled:.4f} ({self.correct}/{self.labelled}: {per_class})"
        return text


def format_result(result: FrameResult, means_ms: tuple[float, float, float]) -> str:
    capture, preprocess, inference = means_ms
    return (
        f"{result.frame:6d}  {result.label:<12} {result.score:5.3f}  {result.fps:5.1f} fps  "
        f"capture {capture:5.1f} ms  preprocess {preprocess:4.1f} ms  inference {inference:5.1f} ms"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="exported model.tflite (its model.json sidecar next to it)")
    parser.add_argument("--metadata", type=Path, default=None, help="sidecar JSON (default: MODEL with .json)")
    parser.add_argument(
        "--source", default="0",
        help=f"camera index (default 0), {PICAMERA2} for a Pi camera module, a video file, or an image "
        "folder with one subfolder per label (then the accuracy is reported)",
    )
    parser.add_argument("--width", type=int, default=None, help="requested camera frame width in pixels")
    parser.add_argument("--height", type=int, default=None, help="requested camera frame height in pixels")
    parser.add_argument("--threads", type=int, default=4, help="interpreter threads (default 4, the Pi 4 cores)")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    parser.add_argument("--window", type=int, default=30, help="frames in the rolling FPS / time means (default 30)")
    parser.add_argument(
        "--json", nargs="?", const="-", default=None, metavar="PATH",
        help="one JSON line per frame, to stdout (no PATH) or appended to PATH",
    )


def _print_results(
    results: Iterator[FrameResult], args: argparse.Namespace, json_out: TextIO | None, summary: RunSummary
) -> None:
    recent: deque[tuple[float, float, float]] = deque(maxlen=args.window)
    for result in results:
        summary.add(result)
        if json_out is not None:
            json_out.write(json.dumps(result.to_json()) + "\n")
            json_out.flush()
        if args.json != "-":
            recent.append((result.capture_ms, result.preprocess_ms, result.inference_ms))
            capture, preprocess, inference = np.mean(np.asarray(recent), axis=0)
            print(format_result(result, (float(capture), float(preprocess), float(inference))), flush=True)


def run(args: argparse.Namespace) -> int:
    if args.max_frames is not None and args.max_frames < 1:
        logger.error("--max-frames must be at least 1")
        return 2
    if args.window < 1:
        logger.error("--window must be at least 1")
        return 2
    source: FrameSource | None = None
    json_out: TextIO | None = None
    summary = RunSummary()
    try:
        metadata = read_sidecar(args.metadata or sidecar_path(args.model))
        classifier = Classifier(args.model, metadata, threads=args.threads)
        source = open_source(args.source, width=args.width, height=args.height)
        unknown = set(getattr(source, "labels", lambda: ())()) - set(metadata.labels)
        if unknown:
            raise ClassifyError(f"class folders {sorted(unknown)} are not labels of the model {list(metadata.labels)}")
        if args.json == "-":
            json_out = sys.stdout
        elif args.json:
            json_out = open(args.json, "a", encoding="utf-8")
        results = classify_stream(classifier, source, max_frames=args.max_frames, window=args.window)
        try:
            _print_results(results, args, json_out, summary)
        except KeyboardInterrupt:  # the usual way to stop a live camera: still print the summary
            logger.info("interrupted")
    except (ClassifyError, MetadataError) as exc:
        logger.error("%s", exc)
        return 1
    finally:
        if source is not None:
            source.close()
        if json_out is not None and json_out is not sys.stdout:
            json_out.close()
    if summary.frames == 0:
        logger.error("the source %s gave no frames", args.source)
        return 1
    if args.json == "-":
        logger.info("%s", summary.format())
    else:
        print(summary.format(), flush=True)
    return 0
