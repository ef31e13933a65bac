"""``make pi-check``'s own logic, without the emulator: the Pi 4 CPU view it writes must read back
as a Cortex-A72 through edge_profiler.device, and the tensor comparison and verdict must fail
when they should."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from benchmarks.pi_check import pi_check
from edge_profiler.device import cpu_core, cpu_frequencies, describe_device


def test_cpu_view_reads_as_a_pi4(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    cpuinfo = pi_check.write_cpu_view(rootfs)
    (rootfs / "proc").mkdir()
    shutil.copyfile(cpuinfo, rootfs / "proc/cpuinfo")  # the check binds it over the guest's
    assert cpu_core(rootfs) == "Cortex-A72"
    description = describe_device(root=rootfs)
    assert description["cpu_model"] == pi_check.PI4_BOARD
    assert [f["max_mhz"] for f in cpu_frequencies(rootfs)] == [1800.0] * 4
    assert (rootfs / "sys/devices/system/cpu/possible").read_text() == "0-3\n"


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_compare_tensors_counts_every_difference(tmp_path: Path) -> None:
    same = np.arange(-8, 8, dtype=np.int8)
    off = same.copy()
    off[3] += 2
    x86 = _npz(tmp_path / "x86.npz", **{"ref/1": same, "ref/2": same, "xnn/2": same})
    arm = _npz(tmp_path / "arm.npz", **{"ref/1": same, "ref/2": off, "xnn/2": same})
    report = pi_check.compare_tensors(x86, arm, output_index=2)
    assert report["ref"] == {"tensors": 2, "missing": 0, "differing": 1, "max_abs_int_difference": 2,
                             "output_identical": False, "bit_identical": False}
    assert report["xnn"]["bit_identical"] and report["xnn"]["output_identical"]
    missing = _npz(tmp_path / "missing.npz", **{"ref/1": same, "ref/2": same})
    assert not pi_check.compare_tensors(x86, missing, output_index=2)["xnn"]["bit_identical"]


def _record(*, control_applied: bool, tensorflow: bool = False) -> dict:
    result = {"xnnpack_applied": True, "model_sha256": "ab", "device": {"architecture": "aarch64"}}
    return {
        "guest": {"pip_freeze": ["ai-edge-litert==2.3.0", "numpy==2.4.6"] + (["tensorflow==2.21.0"] * tensorflow),
                  "python": "3.11.2 aarch64", "tensors": {"tensorflow_importable": tensorflow, "xnnpack_delegate_nodes": 1},
                  "device": {"cpu_core": "Cortex-A72", "cpu_model": pi_check.PI4_BOARD},
                  "bench": result, "serve": {"result": result}},
        "compare": {"ref": {"bit_identical": False}, "xnn": {"bit_identical": True}},
        "control": {"xnnpack_applied": control_applied},
        "memory": {"guest_rlimit_ignored": True, "cap_enforced": True},
    }


def test_verdict_fails_on_tensorflow_or_a_silent_control() -> None:
    assert all(pi_check.checks_of(_record(control_applied=False)).values())  # built-in kernel diffs are information
    checks = pi_check.checks_of(_record(control_applied=True, tensorflow=True))
    failed = [name for name, ok in checks.items() if not ok]
    assert failed == ["installed [agent,camera] from the wheel, no TensorFlow",
                      "control, no CPU view: XNNPACK reported not applied"]
