"""Measurement subprocess: ``python -m edge_profiler._worker WORKDIR``.

Reads ``WORKDIR/request.json`` and ``WORKDIR/model.tflite`` (both written by
:mod:`edge_profiler.sandbox`, never a client-chosen path), limits its own address space with
``RLIMIT_AS`` before importing the interpreter, measures, and writes ``WORKDIR/result.json``:
``{"ok": true, "result": {...}}`` or ``{"ok": false, "error": {"kind": ..., "message": ...}}``.
A crash or a hang leaves no result file; the parent classifies those from the exit status.

First of all the worker asks the kernel to SIGKILL it when its parent dies (``prctl(2)``
``PR_SET_PDEATHSIG``), and exits at once if the parent is already gone: a measurement never
outlives the agent that started it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import resource
import signal
import sys
from pathlib import Path

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> None:
    """SIGKILL this process when the agent dies; exit now if it has died already."""
    expected = os.environ.get("EDGE_PROFILER_PARENT_PID")
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            sys.stderr.write(f"prctl(PR_SET_PDEATHSIG) failed: errno {ctypes.get_errno()}\n")
    if expected and expected.isdigit() and os.getppid() != int(expected):
        os._exit(3)  # the agent died before prctl took effect


def _limit_resources(memory_limit_bytes: int | None) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crashing model must not write core files
    if memory_limit_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))


def _write_result(workdir: Path, payload: dict) -> None:
    tmp = workdir / "result.json.tmp"
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, workdir / "result.json")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m edge_profiler._worker WORKDIR\n")
        return 2
    _die_with_parent()
    workdir = Path(argv[0])
    request = json.loads((workdir / "request.json").read_text())
    _limit_resources(request.get("memory_limit_bytes"))

    from edge_profiler.errors import ProfilerError
    from edge_profiler.measure import measure_model
    from edge_profiler.params import MeasureParams

    try:
        model = (workdir / "model.tflite").read_bytes()
        result = measure_model(
            model,
            MeasureParams.from_mapping(request["params"]),
            runtime=request.get("runtime", "auto"),
            max_seconds=float(request.get("max_seconds", 120.0)),
            memory_limit_bytes=request.get("memory_limit_bytes"),
        )
    except ProfilerError as exc:
        _write_result(workdir, {"ok": False, **exc.to_json()})
        return 0
    except MemoryError as exc:
        _write_result(workdir, {"ok": False, "error": {"kind": "out_of_memory", "message": f"MemoryError: {exc}"}})
        return 0
    _write_result(workdir, {"ok": True, "result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
