"""edge_profiler: the latency agent that runs on a Raspberry Pi, and its client.

This package must stay light: it imports only the standard library, NumPy and a LiteRT interpreter
(``ai_edge_litert``, else ``tflite_runtime``, else ``tensorflow.lite``), and the interpreter only
inside the measurement subprocess (or ``classify``). :mod:`edge_profiler.litert` is the one module
that picks the interpreter and quantizes int8 inputs / dequantizes outputs; the evaluators use it
too. Import the pieces from their modules::

    from edge_profiler.client import LocalProfiler, RemoteProfiler
    from edge_profiler.errors import ProfilerError
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
