"""Issue 14: whether XNNPACK was *applied* (delegate nodes in the graph), and the CPU core of a
Raspberry Pi from the ``CPU part`` ids of /proc/cpuinfo (fakes of the file, as a Pi writes it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_profiler.client import LocalProfiler, RemoteProfiler
from edge_profiler.device import cpu_core, cpu_model, describe_device
from edge_profiler.litert import delegate_node_count, load_runtime
from edge_profiler.measure import measure_model
from edge_profiler.params import MeasureParams
from edge_profiler.server import AgentServer
from tests.edge_profiler.conftest import FAST


def _cpuinfo(parts: list[int], *, implementer: int = 0x41, board: str | None = None) -> str:
    """/proc/cpuinfo of 64-bit Raspberry Pi OS: one block per processor, the board at the end."""
    blocks = [
        f"processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
        f"CPU implementer\t: {implementer:#x}\nCPU architecture: 8\nCPU variant\t: 0x0\n"
        f"CPU part\t: {part:#x}\nCPU revision\t: 3\n"
        for n, part in enumerate(parts)
    ]
    if board:
        blocks.append(f"Revision\t: c03114\nSerial\t\t: 100000001234abcd\nModel\t\t: {board}\n")
    return "\n".join(blocks)


def _root(tmp_path: Path, text: str) -> Path:
    (tmp_path / "proc").mkdir(parents=True)
    (tmp_path / "proc/cpuinfo").write_text(text)
    return tmp_path


@pytest.mark.parametrize(("board", "parts", "core"), [
    ("Raspberry Pi 4 Model B Rev 1.4", [0xD08] * 4, "Cortex-A72"),
    ("Raspberry Pi 5 Model B Rev 1.0", [0xD0B] * 4, "Cortex-A76"),
    ("Raspberry Pi 3 Model B Plus Rev 1.3", [0xD03] * 4, "Cortex-A53"),
    ("Raspberry Pi Zero 2 W Rev 1.0", [0xD03] * 4, "Cortex-A53"),
])
def test_pi_reports_board_and_core(tmp_path: Path, board: str, parts: list[int], core: str) -> None:
    root = _root(tmp_path, _cpuinfo(parts, board=board))
    assert cpu_model(root) == board  # what a Pi's cpuinfo names is the board ...
    assert cpu_core(root) == core  # ... the core comes from the part id
    description = describe_device(root=root)
    assert (description["cpu_model"], description["cpu_core"]) == (board, core)


def test_big_little_and_unknown_parts(tmp_path: Path) -> None:
    assert cpu_core(_root(tmp_path / "a", _cpuinfo([0xD05] * 4 + [0xD0B] * 4))) == "Cortex-A55 + Cortex-A76"
    assert cpu_core(_root(tmp_path / "b", _cpuinfo([0xD99]))) == "Arm part 0xd99"
    assert cpu_core(_root(tmp_path / "c", _cpuinfo([0x805], implementer=0x51))) == "implementer 0x51 part 0x805"


def test_no_part_ids_means_no_core(tmp_path: Path) -> None:
    x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\n"
    assert cpu_core(_root(tmp_path / "x86", x86)) is None
    assert cpu_core(tmp_path / "no-proc") is None
    assert cpu_model(tmp_path / "x86") == "AMD EPYC"


@pytest.mark.parametrize("use_xnnpack", [True, False])
def test_measurement_says_whether_xnnpack_was_applied(tiny_model: bytes, use_xnnpack: bool) -> None:
    result = measure_model(tiny_model, MeasureParams(use_xnnpack=use_xnnpack, **FAST))
    assert result["params"]["use_xnnpack"] is use_xnnpack
    assert result["xnnpack_applied"] is use_xnnpack  # x86-64 with AVX: XNNPACK starts when asked
    assert (result["delegate_nodes"] >= 1) is use_xnnpack


def test_delegate_nodes_counted_after_allocation(tiny_model: bytes) -> None:
    interpreter = load_runtime().interpreter(tiny_model)
    assert delegate_node_count(interpreter) == 0  # default delegates are applied while allocating
    interpreter.allocate_tensors()
    assert delegate_node_count(interpreter) == 1  # the whole graph is one XNNPACK partition


def test_runtime_without_a_node_list_is_unknown() -> None:
    class NoNodes:
        pass

    class Broken:
        def _get_ops_details(self) -> list[dict[str, str]]:
            raise RuntimeError("not allocated")

    assert delegate_node_count(NoNodes()) is None
    assert delegate_node_count(Broken()) is None


def test_local_profiler_result_carries_the_field(tiny_model: bytes) -> None:
    result = LocalProfiler().measure(tiny_model, use_xnnpack=False, **FAST)
    assert result["xnnpack_applied"] is False and result["delegate_nodes"] == 0
    assert "cpu_core" in result["device"]


def test_agent_result_carries_the_field(agent: AgentServer, tiny_model: bytes) -> None:
    result = RemoteProfiler([agent.url], retries=0).measure(tiny_model, **FAST)
    assert result["xnnpack_applied"] is True and result["delegate_nodes"] >= 1
    assert result["measured_by"] == agent.url


def test_bench_summary_says_so(tiny_model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edge_profiler.cli import main

    assert main(["bench", str(tiny_model_path), "--no-xnnpack", "--runs", "3", "--min-seconds", "0"]) == 0
    assert "XNNPACK off" in capsys.readouterr().out
    assert main(["bench", str(tiny_model_path), "--runs", "3", "--min-seconds", "0"]) == 0
    assert "XNNPACK on (applied)" in capsys.readouterr().out
