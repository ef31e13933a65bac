"""`nas supernet train` and `nas search --evaluator supernet` from the command line (issue 16): the JSON
summary, resuming an interrupted training, one-line errors for a missing or mismatched supernet or a
reference outside it, the accuracy source in `nas trials`, and `nas compare` scoring with the supernet."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from nas.cli import main
from tests.nas.supernet_study import TINY_SPACE, supernet_args


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int, *fragments: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and all(fragment in err[0] for fragment in fragments), err
    return err[0]


def test_train_on_a_finished_folder_prints_its_summary(tiny_supernet: dict[str, Any], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["supernet", "train", "--json", *supernet_args(tiny_supernet, tmp_path / "runs")])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (summary["epochs_done"], summary["epochs"], summary["finished"]) == (1, 1, True)
    assert summary["resumed_from_epoch"] == 1 and summary["seconds_this_run"] < 30  # nothing trained again
    assert summary["fingerprint"] == tiny_supernet["summary"]["fingerprint"]
    assert summary["space"] == "tiny" and summary["dataset"] == "digits" and summary["resolutions"] == [16]


def test_an_interrupted_training_resumes(tiny_supernet: dict[str, Any], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import evaluators.supernet.train as train_module

    folder = tmp_path / "supernet"
    args = ["supernet", "train", "--json", *supernet_args(
        {**tiny_supernet, "folder": folder}, tmp_path / "runs", **{"evaluator.supernet.training.epochs": 2,
                                                                  "evaluator.supernet.training.train_fraction": 0.1})]
    original = train_module._epoch_codes

    def stop_in_epoch_2(layout: Any, cfg: Any, epoch: int, steps: int) -> Any:
        if epoch == 1:
            raise KeyboardInterrupt
        return original(layout, cfg, epoch, steps)

    monkeypatch.setattr(train_module, "_epoch_codes", stop_in_epoch_2)
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "interrupted; finished epochs are kept" in err and "resume with: nas supernet train --set" in err
    assert json.loads((folder / "supernet.json").read_text())["epochs_done"] == 1
    monkeypatch.setattr(train_module, "_epoch_codes", original)
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["resumed_from_epoch"], summary["epochs_done"], summary["finished"]) == (1, 2, True)


def test_search_without_a_supernet_says_how_to_train_it(tiny_supernet: dict[str, Any], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    args = supernet_args({**tiny_supernet, "folder": tmp_path / "none"}, tmp_path / "runs")
    _one_line_error(capsys, main(["search", "--quiet", *args]), "nas search: invalid config: evaluator.supernet.folder:",
                    "no supernet.json; train a supernet there first (nas supernet train)")
    assert not (tmp_path / "runs" / "sn" / "study.db").exists()


def test_a_supernet_of_another_space_or_a_reference_outside_it_is_refused(
        tiny_supernet: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(TINY_SPACE.replace("kernel: [3, 5], depth: [1, 2]}", "kernel: [3], depth: [1, 2]}"))
    args = supernet_args({**tiny_supernet, "space_yaml": other}, tmp_path / "runs")
    _one_line_error(capsys, main(["search", "--quiet", *args]), "evaluator.supernet.folder: supernet in",
                    "was trained for another space or dataset (stored != requested): space_fingerprint:")
    args = supernet_args(tiny_supernet, tmp_path / "runs", **{"reference.baseline": "mobilenet_v2_0.35"})
    _one_line_error(capsys, main(["search", "--quiet", *args]),
                    "reference.baseline: mobilenet_v2_0.35 is not a subnet of the supernet")
    args = supernet_args(tiny_supernet, tmp_path / "runs", **{"evaluator.supernet.training.epochs": 3})
    _one_line_error(capsys, main(["supernet", "train", "--quiet", *args]),
                    "nas supernet train:", "trained with another config (stored != requested): epochs: 1 != 3")
    _one_line_error(capsys, main(["supernet", "train", "--set", "evaluator.supernet.training.epoch=3"]),
                    "nas supernet train: unknown config key 'evaluator.supernet.training.epoch'")


def test_trials_show_the_accuracy_source(tiny_supernet: dict[str, Any], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    args = supernet_args(tiny_supernet, runs, **{"strategy.name": "random", "strategy.n_trials": 2})
    assert main(["search", "--quiet", *args]) == 0
    capsys.readouterr()
    assert main(["trials", "--study", "sn", "--runs-dir", str(runs)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "accuracy_source" in table[0] and all("inherited" in row for row in table[1:3])
    assert main(["trials", "--study", "sn", "--runs-dir", str(runs), "--csv", "-"]) == 0
    header, first = capsys.readouterr().out.splitlines()[:2]
    assert "inherited_from_fingerprint" in header.split(",")
    assert tiny_supernet["summary"]["fingerprint"] in first
    # nas compare scores references with the study's supernet too (trained ones would not compare):
    # MobileNetV2 is not a subnet of the tiny space, and the refusal says so.
    _one_line_error(capsys, main(["compare", "--study", "sn", "--runs-dir", str(runs), "--baseline",
                                  "mobilenet_v2_0.35"]),
                    "reference mobilenet_v2_0.35 could not be evaluated: supernet: subnet outside the supernet")
    shutil.rmtree(runs)
