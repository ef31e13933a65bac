"""The one place that knows LiteRT: which interpreter to use, and int8 inputs / outputs.

Interpreter preference (project rule): ``ai_edge_litert``, else ``tflite_runtime``, else
``tensorflow.lite`` (the last only as a fallback: this package imports no TensorFlow otherwise).
:func:`describe_runtime` finds the runtime and its version from package metadata without importing
it (so the agent process stays small); :func:`load_runtime` imports it, which only the measurement
subprocess, ``classify`` and the evaluators do.

Quantization follows the TFLite quantization spec (``real = scale * (q - zero_point)``) as in the
LiteRT post-training integer quantization guide: a float input becomes
``q = round(x / scale) + zero_point`` clipped to the integer type, an integer output becomes
``(q - zero_point) * scale``.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

# (runtime name, module holding Interpreter, distribution names to read the version from)
_RUNTIMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ai_edge_litert", "ai_edge_litert.interpreter", ("ai-edge-litert", "ai-edge-litert-nightly")),
    ("tflite_runtime", "tflite_runtime.interpreter", ("tflite-runtime", "tflite-runtime-nightly")),
    ("tensorflow", "tensorflow.lite", ("tensorflow", "tensorflow-cpu", "tf-nightly")),
)
RUNTIME_NAMES = tuple(name for name, _, _ in _RUNTIMES)
_INTEGER_TYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


class QuantizationError(ValueError):
    """A tensor cannot be (de)quantized: an unsupported type or missing parameters."""


@dataclasses.dataclass(frozen=True)
class RuntimeInfo:
    """A runtime's name (top-level package) and installed version."""

    name: str
    version: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


@dataclasses.dataclass(frozen=True)
class LiteRT:
    """An imported runtime: its ``Interpreter`` class and ``OpResolverType`` enum (None if absent)."""

    info: RuntimeInfo
    interpreter_class: type
    op_resolver_type: Any | None

    @property
    def can_disable_xnnpack(self) -> bool:
        return self.op_resolver_type is not None

    def interpreter(self, model: bytes | str | Path, *, num_threads: int | None = None,
                    use_xnnpack: bool = True) -> Any:
        """A new interpreter for ``model`` (bytes or a path), tensors not yet allocated.

        ``use_xnnpack=False`` selects the built-in kernels without default delegates
        (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``), as ``benchmark_model --use_xnnpack=false`` does.
        Raises what the runtime raises for a bad model (``ValueError`` / ``RuntimeError``).
        """
        kwargs: dict[str, Any] = {"num_threads": num_threads}
        if isinstance(model, (bytes, bytearray, memoryview)):
            kwargs["model_content"] = bytes(model)
        else:
            kwargs["model_path"] = str(model)
        if not use_xnnpack:
            if self.op_resolver_type is None:
                raise ValueError(f"{self.info.name} {self.info.version} cannot disable XNNPACK")
            kwargs["experimental_op_resolver_type"] = self.op_resolver_type.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        return self.interpreter_class(**kwargs)


def _candidates(preference: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    if preference == "auto":
        return _RUNTIMES
    chosen = tuple(r for r in _RUNTIMES if r[0] == preference)
    if not chosen:
        raise ValueError(f"unknown runtime {preference!r}; choose auto or one of {RUNTIME_NAMES}")
    return chosen


def _version(distributions: tuple[str, ...]) -> str:
    for dist in distributions:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def describe_runtime(preference: str = "auto") -> RuntimeInfo:
    """The runtime :func:`load_runtime` would pick, found without importing it."""
    for name, _, distributions in _candidates(preference):
        if importlib.util.find_spec(name) is not None:
            return RuntimeInfo(name, _version(distributions))
    raise RuntimeError(
        "no LiteRT interpreter found; install one with `pip install ai-edge-litert` "
        "(or tflite-runtime, or tensorflow)"
    )


def load_runtime(preference: str = "auto") -> LiteRT:
    """Import the preferred runtime that imports; raise ``RuntimeError`` if none does."""
    errors = []
    for name, module_name, distributions in _candidates(preference):
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            errors.append(f"{module_name}: {exc}")
            continue
        resolver = getattr(module, "OpResolverType", None)
        if resolver is None:  # tensorflow.lite keeps it under tf.lite.experimental
            resolver = getattr(getattr(module, "experimental", None), "OpResolverType", None)
        return LiteRT(RuntimeInfo(name, _version(distributions)), module.Interpreter, resolver)
    raise RuntimeError("no LiteRT interpreter could be imported: " + "; ".join(errors))


def delegate_node_count(interpreter: Any) -> int | None:
    """How many delegate nodes (``DELEGATE`` ops) the interpreter's graph holds after
    ``allocate_tensors()``, or None when the runtime does not list its nodes.

    LiteRT applies its default XNNPACK delegate while allocating: each partition it takes over
    becomes one ``DELEGATE`` node (``Interpreter._get_ops_details()``, the node list the
    ``analyzer`` tool prints). When XNNPACK cannot start (e.g. the CPU detection of its cpuinfo
    library fails, as under an emulator without a CPU view) the interpreter silently keeps the
    built-in kernels and no such node appears, so ``use_xnnpack=True`` alone does not say it ran.
    """
    ops_details = getattr(interpreter, "_get_ops_details", None)
    if ops_details is None:
        return None
    try:
        return sum(1 for op in ops_details() if op.get("op_name") == "DELEGATE")
    except Exception:  # noqa: BLE001 - a diagnostic only: an unreadable node list is "unknown"
        return None


def _scale_zero_point(detail: Mapping[str, Any]) -> tuple[float, int]:
    scale, zero_point = detail.get("quantization") or (0.0, 0)
    return float(scale), int(zero_point)


def is_quantized(detail: Mapping[str, Any]) -> bool:
    """True for an integer tensor that carries a quantization scale."""
    return np.dtype(detail["dtype"]) in _INTEGER_TYPES and _scale_zero_point(detail)[0] != 0.0


def quantize(values: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
    """Float ``values`` as the tensor of ``detail`` (an interpreter's input details) takes them.

    int8 / uint8 / int16: ``round(x / scale) + zero_point``, clipped to the type's range; float
    tensors: a cast. Raises :class:`QuantizationError` for an integer tensor without a scale.
    """
    dtype = np.dtype(detail["dtype"])
    if np.issubdtype(dtype, np.floating):
        return np.asarray(values).astype(dtype)
    if dtype not in _INTEGER_TYPES:
        raise QuantizationError(f"unsupported tensor type {dtype}; expected int8, uint8, int16 or a float")
    scale, zero_point = _scale_zero_point(detail)
    if scale == 0.0:
        raise QuantizationError(f"tensor is {dtype} but carries no quantization parameters")
    info = np.iinfo(dtype)
    quantized = np.round(np.asarray(values, dtype=np.float64) / scale) + zero_point
    return np.clip(quantized, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
    """An output tensor's ``values`` as float32: ``(q - zero_point) * scale`` when quantized."""
    values = np.asarray(values)
    if is_quantized(detail):
        scale, zero_point = _scale_zero_point(detail)
        return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return values.astype(np.float32)


__all__ = ["RUNTIME_NAMES", "LiteRT", "QuantizationError", "RuntimeInfo", "delegate_node_count", "dequantize",
           "describe_runtime", "is_quantized", "load_runtime", "quantize"]
