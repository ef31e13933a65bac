"""A cheap structural check of a .tflite flatbuffer before it reaches a subprocess.

Random bytes and truncated uploads are the common garbage; rejecting them here costs microseconds
instead of a process start. It checks the file identifier ``TFL3`` and that the root ``Model``
table, its vtable, and the ``operator_codes`` / ``subgraphs`` / ``buffers`` vectors (with each
buffer's data and each subgraph's tensor/operator vectors) lie inside the file (field numbers from
LiteRT's ``schema.fbs``). It is not a full flatbuffer verifier: anything that passes still runs
in the sandboxed subprocess.
"""

from __future__ import annotations

import struct

from edge_profiler.errors import ProfilerError

FILE_IDENTIFIER = b"TFL3"
# Model table fields (schema.fbs): 1 operator_codes, 2 subgraphs, 4 buffers.
_MODEL_OPERATOR_CODES, _MODEL_SUBGRAPHS, _MODEL_BUFFERS = 1, 2, 4
# SubGraph fields: 0 tensors, 1 inputs, 2 outputs, 3 operators. Buffer: 0 data, 1 offset, 2 size.
_SUBGRAPH_VECTORS = (0, 1, 2, 3)
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def _need(self, pos: int, length: int, what: str) -> None:
        if pos < 0 or pos + length > self.size:
            raise ProfilerError(
                "rejected",
                f"not a valid .tflite flatbuffer: {what} at byte {pos} lies outside the "
                f"{self.size}-byte file (truncated or corrupted upload?)",
                detail={"stage": "check"})

    def u32(self, pos: int, what: str) -> int:
        self._need(pos, 4, what)
        return struct.unpack_from("<I", self.data, pos)[0]

    def table_field(self, table: int, field: int, what: str) -> int:
        """Absolute position of a field's value in a table, or 0 when absent."""
        self._need(table, 4, what)
        vtable = table - struct.unpack_from("<i", self.data, table)[0]
        self._need(vtable, 4, f"{what} vtable")
        vtable_size, table_size = struct.unpack_from("<HH", self.data, vtable)
        self._need(vtable, vtable_size, f"{what} vtable")
        self._need(table, table_size, what)
        slot = 4 + 2 * field
        if slot + 2 > vtable_size:
            return 0
        offset = struct.unpack_from("<H", self.data, vtable + slot)[0]
        return table + offset if offset else 0

    def deref(self, pos: int, what: str) -> int:
        return pos + self.u32(pos, what)

    def vector(self, table: int, field: int, element_size: int, what: str) -> tuple[int, int]:
        """(position of first element, length) of a vector field; (0, 0) when absent."""
        pos = self.table_field(table, field, what)
        if not pos:
            return 0, 0
        start = self.deref(pos, what)
        length = self.u32(start, f"{what} length")
        self._need(start + 4, length * element_size, what)
        return start + 4, length


def check_tflite(data: bytes) -> None:
    """Raise ``ProfilerError('rejected')`` if ``data`` is clearly not a whole .tflite model."""
    if len(data) < 8:
        raise ProfilerError("rejected", f"not a .tflite model: only {len(data)} bytes", detail={"stage": "check"})
    if data[4:8] != FILE_IDENTIFIER:
        raise ProfilerError(
            "rejected", f"not a .tflite model: file identifier is {data[4:8]!r}, expected {FILE_IDENTIFIER!r}",
            detail={"stage": "check"})
    reader = _Reader(data)
    model = reader.deref(0, "root table")
    reader.vector(model, _MODEL_OPERATOR_CODES, 4, "Model.operator_codes")
    start, count = reader.vector(model, _MODEL_SUBGRAPHS, 4, "Model.subgraphs")
    if count == 0:
        raise ProfilerError("rejected", "the model has no subgraphs", detail={"stage": "check"})
    for i in range(count):
        subgraph = reader.deref(start + 4 * i, f"SubGraph {i}")
        for field in _SUBGRAPH_VECTORS:
            reader.vector(subgraph, field, 4, f"SubGraph {i} field {field}")
    start, count = reader.vector(model, _MODEL_BUFFERS, 4, "Model.buffers")
    for i in range(count):
        buffer = reader.deref(start + 4 * i, f"Buffer {i}")
        reader.vector(buffer, _BUFFER_DATA, 1, f"Buffer {i} data")
        offset_pos = reader.table_field(buffer, _BUFFER_OFFSET, f"Buffer {i}")
        size_pos = reader.table_field(buffer, _BUFFER_SIZE, f"Buffer {i}")
        if offset_pos and size_pos:
            reader._need(offset_pos, 8, f"Buffer {i} offset")
            reader._need(size_pos, 8, f"Buffer {i} size")
            offset = struct.unpack_from("<Q", data, offset_pos)[0]
            size = struct.unpack_from("<Q", data, size_pos)[0]
            if offset > 1:
                reader._need(offset, size, f"Buffer {i} external data")
