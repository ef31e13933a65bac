"""Every tensor of an int8 model on this machine, for ``make pi-check`` (run on the x86 host and in
the emulated arm64 guest, which has only NumPy, ai-edge-litert and the project wheel).

Two views, both from one fixed input (``input.npy``):

- ``ref/<index>``: every tensor of the model with LiteRT's built-in kernels, read with
  ``experimental_preserve_all_tensors=True`` (the debugging option of the LiteRT Interpreter API;
  it applies no default delegate, so this is what ``use_xnnpack=False`` computes); the kernels'
  scratch buffers that allocation appends are left out;
- ``xnn/<index>``: every tensor through XNNPACK. Intermediate tensors inside a delegate
  partition are not readable, so the host rewrites the model with every operator output listed as
  a graph output (``model_all_outputs.tflite``): XNNPACK then has to produce each one.

Writes an ``.npz`` plus a JSON line on stdout: runtime, delegate nodes of each view, and whether
TensorFlow is importable (``--assert-no-tensorflow`` fails when it is).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

from edge_profiler.litert import delegate_node_count, load_runtime


def _run(interpreter: object, data: np.ndarray) -> None:
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], data)
    interpreter.invoke()


def reference_tensors(model: Path, data: np.ndarray) -> tuple[dict[str, np.ndarray], int | None]:
    runtime = load_runtime()
    interpreter = runtime.interpreter_class(
        model_path=str(model), num_threads=1, experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=runtime.op_resolver_type.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    model_tensors = len(interpreter.get_tensor_details())  # allocation appends kernel scratch buffers
    _run(interpreter, data)
    tensors = {}
    for detail in interpreter.get_tensor_details()[:model_tensors]:
        try:
            tensors[f"ref/{detail['index']}"] = np.array(interpreter.get_tensor(detail["index"]))
        except ValueError:  # a tensor without data (e.g. an optional operand)
            continue
    return tensors, delegate_node_count(interpreter)


def xnnpack_outputs(model: Path, data: np.ndarray) -> tuple[dict[str, np.ndarray], int | None]:
    interpreter = load_runtime().interpreter(model, num_threads=1, use_xnnpack=True)
    _run(interpreter, data)
    tensors = {f"xnn/{d['index']}": np.array(interpreter.get_tensor(d["index"]))
               for d in interpreter.get_output_details()}
    return tensors, delegate_node_count(interpreter)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="holds model.tflite, model_all_outputs.tflite, input.npy")
    parser.add_argument("out", type=Path, help=".npz to write")
    parser.add_argument("--assert-no-tensorflow", action="store_true")
    args = parser.parse_args()
    tensorflow = importlib.util.find_spec("tensorflow") is not None
    if args.assert_no_tensorflow and tensorflow:
        print("error: TensorFlow is installed next to the agent", file=sys.stderr)
        return 1
    data = np.load(args.workdir / "input.npy")
    ref, ref_delegates = reference_tensors(args.workdir / "model.tflite", data)
    xnn, xnn_delegates = xnnpack_outputs(args.workdir / "model_all_outputs.tflite", data)
    np.savez(args.out, **ref, **xnn)
    print(json.dumps({"runtime": load_runtime().info.to_json(), "tensorflow_importable": tensorflow,
                      "reference_tensors": len(ref), "reference_delegate_nodes": ref_delegates,
                      "xnnpack_tensors": len(xnn), "xnnpack_delegate_nodes": xnn_delegates}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
