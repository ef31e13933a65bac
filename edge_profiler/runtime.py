"""Which LiteRT interpreter to use: ``ai_edge_litert``, else ``tflite_runtime``, else ``tensorflow.lite``.

:func:`describe_runtime` finds the runtime and its version from package metadata without importing
it (so the agent process stays small); :func:`load_interpreter` imports it, which only the
measurement subprocess does.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
from typing import Any

# (runtime name, module holding Interpreter, distribution names to read the version from)
_RUNTIMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ai_edge_litert", "ai_edge_litert.interpreter", ("ai-edge-litert", "ai-edge-litert-nightly")),
    ("tflite_runtime", "tflite_runtime.interpreter", ("tflite-runtime", "tflite-runtime-nightly")),
    ("tensorflow", "tensorflow.lite", ("tensorflow", "tensorflow-cpu", "tf-nightly")),
)
RUNTIME_NAMES = tuple(name for name, _, _ in _RUNTIMES)


@dataclasses.dataclass(frozen=True)
class RuntimeInfo:
    """A runtime's name (top-level package) and installed version."""

    name: str
    version: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


def _candidates(preference: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    if preference == "auto":
        return _RUNTIMES
    chosen = tuple(r for r in _RUNTIMES if r[0] == preference)
    if not chosen:
        raise ValueError(f"unknown runtime {preference!r}; choose auto or one of {RUNTIME_NAMES}")
    return chosen


def _version(distributions: tuple[str, ...], module_name: str) -> str:
    for dist in distributions:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def package_version() -> str:
    """The installed version of this project (``edge-nas``)."""
    try:
        return importlib.metadata.version("edge-nas")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def describe_runtime(preference: str = "auto") -> RuntimeInfo:
    """The runtime :func:`load_interpreter` would pick, found without importing it."""
    for name, module_name, distributions in _candidates(preference):
        if importlib.util.find_spec(name) is not None:
            return RuntimeInfo(name, _version(distributions, module_name))
    raise RuntimeError(
        "no LiteRT interpreter found; install one with `pip install ai-edge-litert` "
        "(or tflite-runtime, or tensorflow)"
    )


def load_interpreter(preference: str = "auto") -> tuple[RuntimeInfo, Any, Any]:
    """Import the runtime; return (info, Interpreter class, OpResolverType enum or None)."""
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
        return RuntimeInfo(name, _version(distributions, module_name)), module.Interpreter, resolver
    raise RuntimeError("no LiteRT interpreter could be imported: " + "; ".join(errors))
