"""A study written by the previous main (tests/fixtures/legacy_study, before the nas/ subpackages)
still opens with `nas trials`, `nas pareto` and `nas export`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nas.cli import main

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "legacy_study" / "study.db"


@pytest.fixture()
def legacy_runs(tmp_path: Path) -> Path:
    """A private copy of the legacy study as ``<tmp>/runs/legacy/study.db``."""
    runs = tmp_path / "runs"
    (runs / "legacy").mkdir(parents=True)
    shutil.copy(FIXTURE, runs / "legacy" / "study.db")
    return runs


def _args(command: str, runs: Path) -> list[str]:
    return [command, "--study", "legacy", "--runs-dir", str(runs)]


def test_nas_trials_reads_the_legacy_study(legacy_runs: Path, capsys) -> None:
    assert main(_args("trials", legacy_runs)) == 0
    table = capsys.readouterr().out
    header, *rows = table.strip().splitlines()
    assert header.split()[:9] == ["trial", "state", "status", "reference", "accuracy_int8", "accuracy_source",
                                  "latency_ms_p50", "size_kib", "params"]
    assert len(rows) >= 2 and "mobilenet_v2_0.35" in rows[0] and "complete" in rows[0]
    assert " trained " in rows[0]  # recorded before accuracy_source existed: its accuracy was trained

    assert main([*_args("trials", legacy_runs), "--json", "-"]) == 0
    trials = json.loads(capsys.readouterr().out)
    reference = trials[0]["user_attrs"]
    assert reference["is_reference"] and reference["architecture"].startswith("in16x1-")
    assert 0.0 <= reference["accuracy_int8"] <= 1.0 and reference["size_bytes"] > 0

    assert main([*_args("trials", legacy_runs), "--csv", "-"]) == 0
    csv_text = capsys.readouterr().out
    assert "size_kib" in csv_text.splitlines()[0] and "time_s_total" in csv_text.splitlines()[0]


def test_nas_pareto_reads_the_legacy_study(legacy_runs: Path, capsys) -> None:
    assert main([*_args("pareto", legacy_runs), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["study"] == "legacy" and out["n_evaluated"] >= 2
    assert out["front"] and all(0.0 <= row["accuracy_int8"] <= 1.0 and row["size_kib"] > 0 for row in out["front"])
    assert out["hypervolume"] > 0
    assert [m["name"] for m in out["mobilenet_v2"]] == ["mobilenet_v2_0.35"]

    assert main(_args("pareto", legacy_runs)) == 0
    text = capsys.readouterr().out
    assert "feasible evaluated trials are on the front" in text and "MobileNetV2 reference mobilenet_v2_0.35" in text


def test_nas_export_reads_the_legacy_study(legacy_runs: Path, capsys) -> None:
    """The knee of the legacy front, retrained for one epoch with the study's stored settings."""
    from edge_profiler.model_metadata import read_sidecar

    assert main([*_args("export", legacy_runs), "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "exporting trial " in printed and "export verified: " in printed
    out = Path(printed.split("export verified: ")[1].split()[0])
    assert out.parent == legacy_runs / "legacy" / "export"
    assert sorted(p.name for p in out.iterdir()) == ["MODEL_CARD.md", "export.json", "model.json", "model.keras",
                                                      "model.tflite"]
    summary = json.loads((out / "export.json").read_text())
    assert summary["training"]["epochs"] == 1 and summary["quantization"] == "int8"
    assert summary["accuracy_int8_val"] == pytest.approx(summary["accuracy_int8_val_before_write"], abs=1e-12)
    assert summary["latency_ms_p50"] > 0
    sidecar = read_sidecar(out / "model.tflite")
    assert sidecar.extra["study"] == "legacy" and sidecar.extra["trial"] == summary["selection"]["trial"]
    assert "mobilenet_v2_0.35 (trial 0)" in (out / "MODEL_CARD.md").read_text()
