"""`nas export --weights finetune|retrain` of a trial scored with inherited weights (issue 16): the fine-tune
starts from the very weights the search scored, both accuracies are in the model card and export.json,
and a trial without inherited weights or a changed supernet is refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nas.cli import main
from nas.record import study as record
from nas.record.trial_record import TrialRecord
from tests.nas.supernet_study import supernet_args


@pytest.fixture(scope="module")
def supernet_study(tiny_supernet: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    runs = tmp_path_factory.mktemp("supernet_export") / "runs"
    assert main(["search", "--quiet", *supernet_args(tiny_supernet, runs, **{"strategy.name": "random",
                                                                             "strategy.n_trials": 2})]) == 0
    study = record.open_study("sn", runs_dir=runs)
    trial = TrialRecord.from_trial(study.get_trials()[0])
    return {"runs": runs, "record": trial, "config": study.user_attrs["config"]}


def _export(study: dict[str, Any], out: Path, *flags: str) -> int:
    return main(["export", "--study", "sn", "--runs-dir", str(study["runs"]), "--trial", "0", "--epochs", "1",
                 "--no-profile", "--out", str(out), *flags])


def test_the_inherited_weights_are_the_ones_the_search_scored(supernet_study: dict[str, Any]) -> None:
    from evaluators import DatasetConfig, convert, evaluate_tflite, load_dataset
    from nas.config import build_config
    from nas.results.export.inherited import inherited_weights
    from search_spaces import Architecture, build_model

    trial, search = supernet_study["record"], build_config(supernet_study["config"])
    arch = Architecture.from_string(trial.architecture)
    model = build_model(arch)
    model.set_weights(inherited_weights(search, arch, trial.inherited_from))
    dataset = load_dataset(DatasetConfig(name="digits"), resolution=16, channels=1, batch_size=256)
    tflite = convert(model, "int8", calibration=dataset, calibration_samples=100, seed=0).tflite_bytes
    assert evaluate_tflite(tflite, dataset.val, dataset.class_names).accuracy == pytest.approx(
        trial.accuracy_int8, abs=1e-9)


def test_finetune_starts_from_the_inherited_weights(supernet_study: dict[str, Any], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from evaluators import TrainingEvaluator

    started_from: list[Any] = []
    original = TrainingEvaluator.evaluate

    def spy(self: Any, arch: Any, workdir: Any, **kwargs: Any) -> Any:
        started_from.append(kwargs.get("initial_weights"))
        return original(self, arch, workdir, **kwargs)

    monkeypatch.setattr(TrainingEvaluator, "evaluate", spy)
    assert _export(supernet_study, tmp_path / "finetune", "--weights", "finetune") == 0
    summary = json.loads((tmp_path / "finetune" / "export.json").read_text())
    trial = supernet_study["record"]
    assert summary["weights"] == "finetune" and summary["accuracy_source"] == "inherited"
    assert summary["search_accuracy_int8"] == pytest.approx(trial.accuracy_int8)
    study_lr = supernet_study["config"]["training"].get("lr", 3e-3)
    assert summary["training"]["lr"] == pytest.approx(study_lr * 0.1)  # a tenth of the study's peak rate
    assert len(started_from) == 1 and started_from[0] is not None and len(started_from[0]) > 10
    card = (tmp_path / "finetune" / "MODEL_CARD.md").read_text()
    assert f"int8 accuracy {100 * trial.accuracy_int8:.2f} % (inherited)" in card
    assert f"after fine-tuning those weights: {100 * summary['accuracy_int8_val']:.2f} % (val)" in card
    assert "fine-tuned from the weights inherited from the study's supernet" in card
    capsys.readouterr()


def test_retrain_from_scratch_keeps_both_numbers(supernet_study: dict[str, Any], tmp_path: Path) -> None:
    assert _export(supernet_study, tmp_path / "retrain", "--weights", "retrain") == 0
    summary = json.loads((tmp_path / "retrain" / "export.json").read_text())
    assert summary["weights"] == "retrain" and summary["accuracy_source"] == "inherited"
    card = (tmp_path / "retrain" / "MODEL_CARD.md").read_text()
    assert f"{100 * supernet_study['record'].accuracy_int8:.2f} % (inherited)" in card
    assert f"after retraining from scratch: {100 * summary['accuracy_int8_val']:.2f} % (val)" in card
    assert "(trained from scratch)" in card


def test_finetune_is_refused_without_inherited_weights_or_with_a_changed_supernet(
        supernet_study: dict[str, Any], tmp_path: Path) -> None:
    from nas.config import build_config
    from nas.record.points import point_from_attrs
    from nas.results.export.exporter import ExportError, ExportSettings, _starting_weights
    from nas.results.export.inherited import InheritedWeightsError, inherited_weights
    from search_spaces import Architecture

    trial, search = supernet_study["record"], build_config(supernet_study["config"])
    arch = Architecture.from_string(trial.architecture)
    trained = point_from_attrs(3, {"architecture": trial.architecture, "status": "complete", "trained": True,
                                   "accuracy_int8": 0.5})
    settings = ExportSettings(out_dir=tmp_path / "x", weights="finetune")
    with pytest.raises(ExportError, match="trial 3's accuracy was trained, not inherited from a supernet"):
        _starting_weights(trained, search, settings, arch)
    with pytest.raises(InheritedWeightsError, match="changed since the trial was scored"):
        inherited_weights(search, arch, {**trial.inherited_from, "fingerprint": "0" * 64})
    with pytest.raises(InheritedWeightsError, match="is not at .* any more"):
        inherited_weights(search, arch, {**trial.inherited_from, "folder": str(tmp_path / "gone")})
    with pytest.raises(ValueError, match="--weights: 'warm' is not one of finetune, retrain"):
        ExportSettings(out_dir=tmp_path / "x", weights="warm")
