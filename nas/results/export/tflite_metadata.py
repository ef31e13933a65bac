"""Embed a JSON document in a ``.tflite`` file's metadata table, and read it back.

The TFLite flatbuffer schema has a ``metadata`` list of (name, buffer) pairs on ``Model``; the
converter itself stores ``min_runtime_version`` and ``CONVERSION_METADATA`` there. We add one entry,
:data:`METADATA_NAME`, holding the exported model's sidecar (labels, normalization, input size)
as UTF-8 JSON, using the schema bindings and ``flatbuffer_utils`` shipped with ``ai_edge_litert``.

This is not the TFLite Support ``TFLITE_METADATA`` (``ModelMetadata``) format read by the Task
Library and Android Studio: writing that needs the ``tflite-support`` package, which is not
installed (its wheels are old), so :func:`support_metadata_available` reports False and the
model card says so. The sidecar JSON file is written in every case.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from typing import Any

METADATA_NAME = "edge_nas.model_json"


class TFLiteMetadataError(RuntimeError):
    """The model cannot be read or rewritten, or has no such metadata entry."""


def support_metadata_available() -> bool:
    """Whether the TFLite Support metadata writer (``tflite_support.metadata``) is importable."""
    return importlib.util.find_spec("tflite_support") is not None


def _flatbuffer_tools():
    try:
        from ai_edge_litert import schema_py_generated as schema
        from ai_edge_litert.tools import flatbuffer_utils
    except ImportError as exc:  # pragma: no cover - ai_edge_litert is a dependency of `search`
        raise TFLiteMetadataError(
            "ai_edge_litert (with tools.flatbuffer_utils) is needed to edit .tflite metadata: "
            "pip install ai-edge-litert"
        ) from exc
    return schema, flatbuffer_utils


def embed_json(model: bytes, payload: Mapping[str, Any], *, name: str = METADATA_NAME) -> bytes:
    """A copy of ``model`` with ``payload`` stored as JSON under metadata entry ``name``.

    An existing entry of that name is replaced; tensors, operators and other metadata are kept.
    """
    schema, flatbuffer_utils = _flatbuffer_tools()
    try:
        obj = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    except Exception as exc:  # the flatbuffer parser raises assorted errors on garbage
        raise TFLiteMetadataError(f"not a TFLite flatbuffer: {exc}") from exc
    data = list(json.dumps(dict(payload), sort_keys=True).encode("utf-8"))
    existing = [m for m in (obj.metadata or []) if _decode(m.name) == name]
    if existing:  # rewrite in place so no orphaned buffer is left behind
        obj.buffers[existing[0].buffer].data = data
    else:
        buffer = schema.BufferT()
        buffer.data = data
        obj.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = name
        entry.buffer = len(obj.buffers) - 1
        obj.metadata = list(obj.metadata or []) + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))


def read_json(model: bytes, *, name: str = METADATA_NAME) -> dict[str, Any]:
    """The JSON document stored under metadata entry ``name`` of ``model``."""
    schema, _ = _flatbuffer_tools()
    try:
        root = schema.Model.GetRootAs(bytearray(model), 0)
        entries = [root.Metadata(i) for i in range(root.MetadataLength())]
    except Exception as exc:
        raise TFLiteMetadataError(f"not a TFLite flatbuffer: {exc}") from exc
    for entry in entries:
        if _decode(entry.Name()) == name:
            buffer = root.Buffers(entry.Buffer())
            if buffer.Offset():  # large models keep buffers after the flatbuffer
                raw = bytes(model[buffer.Offset(): buffer.Offset() + buffer.Size()])
            else:
                raw = buffer.DataAsNumpy().tobytes()
            return json.loads(raw.decode("utf-8"))
    names = [_decode(e.Name()) for e in entries]
    raise TFLiteMetadataError(f"the model has no metadata entry {name!r} (entries: {names})")


def _decode(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else str(value)
