"""nas.config by section: typed dataset/training checked at load time, the latency section, recorded
configs (the legacy study's included) and the exact dict form a study stores."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import optuna
import pytest

from evaluators import DatasetConfig, TrainConfig
from nas.config import (
    LATENCY_SOURCES,
    ConfigError,
    LatencySettings,
    build_config,
    default_config_dict,
    leaf_keys,
    load_config,
)
from nas.record.storage import default_storage_url

LEGACY_DB = Path(__file__).resolve().parents[2] / "fixtures" / "legacy_study" / "study.db"


def _legacy_config() -> dict:
    storage = optuna.storages.RDBStorage(f"sqlite:///{LEGACY_DB}")
    return dict(optuna.load_study(study_name="legacy", storage=storage).user_attrs["config"])


def test_dataset_and_training_are_the_evaluators_dataclasses():
    config = load_config(overrides={"training.epochs": 2, "training.lr": "3e-3", "dataset.fraction": 0.5,
                                    "dataset.augmentation": "flip,crop"})
    assert isinstance(config.dataset, DatasetConfig) and isinstance(config.training, TrainConfig)
    assert config.training.epochs == 2 and config.training.lr == pytest.approx(0.003)
    assert config.dataset.fraction == 0.5 and config.dataset.augmentation == ("flip", "crop")
    # the study stores the keys as given, not the dataclass with every default
    assert config.as_dict()["training"] == {"epochs": 2, "lr": "3e-3"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"training.epochz": 2}, "unknown config key 'training.epochz'; allowed keys: epochs, optimizer"),
        ({"training.epochs": "many"}, "training.epochs: expected an integer, got 'many'"),
        ({"training.epochs": 2.5}, "training.epochs: expected an integer, got 2.5"),
        ({"training.lr": "fast"}, "training.lr: expected a number, got 'fast'"),
        ({"training.validate_each_epoch": "often"}, "training.validate_each_epoch: expected true or false"),
        ({"training.optimizer": "sgdx"}, "training: unknown optimizer 'sgdx'"),
        ({"training.epochs": 0}, "training: epochs and batch_size must be >= 1"),
        ({"dataset.name": "imagenet-42"}, "dataset: unknown dataset 'imagenet-42'"),
        ({"dataset.fraction": 0}, "dataset: fraction must be in (0, 1]"),
        ({"dataset.colour": "red"}, "unknown config key 'dataset.colour'; allowed keys: name, data_dir"),
        ({"dataset.name": 7}, "dataset.name: expected a non-empty string, got 7"),
    ],
)
def test_dataset_and_training_are_checked_when_loading(overrides, message):
    with pytest.raises(ConfigError) as info:
        load_config(overrides=overrides)
    assert message in str(info.value)


def test_latency_section():
    assert LATENCY_SOURCES == ("measured", "predicted", "predicted+verify")
    assert "latency.source" in leaf_keys()
    assert default_config_dict()["latency"]["source"] == "measured"
    config = load_config()
    assert config.latency == LatencySettings(source="measured")
    assert config.as_dict()["latency"]["source"] == "measured"
    with pytest.raises(ConfigError, match=r"latency.source: 'oracle' is not one of measured"):
        load_config(overrides={"latency.source": "oracle", "latency.predictor": "p.json"})
    with pytest.raises(ConfigError, match=r"latency.predictor: latency.source 'predicted' needs a predictor"):
        load_config(overrides={"latency.source": "predicted"})
    with pytest.raises(ConfigError, match=r"unknown config key 'latency.table'"):
        load_config(overrides={"latency.table": "x.csv"})


def test_settings_are_frozen():
    config = load_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.strategy = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.training.epochs = 3


def test_storage_url_is_the_record_default(tmp_path):
    config = load_config(overrides={"study.runs_dir": str(tmp_path), "study.name": "s1"})
    assert config.storage_url == default_storage_url(tmp_path, "s1") == f"sqlite:///{tmp_path.as_posix()}/s1/study.db"
    assert load_config(overrides={"study.storage": "journal:///x.log"}).storage_url == "journal:///x.log"


def test_as_dict_is_the_merged_tree():
    """The stored form: every default section and key, overrides applied, lists normalized."""
    config = load_config(overrides={"objectives": "accuracy,latency", "profiler.urls": "http://a:1, http://b:2",
                                    "dataset.name": "mnist"})
    stored = config.as_dict()
    expected = default_config_dict()
    expected["objectives"] = ["accuracy", "latency"]
    expected["profiler"]["urls"] = ["http://a:1", "http://b:2"]
    expected["dataset"]["name"] = "mnist"
    assert stored == expected
    assert build_config(stored).as_dict() == stored  # what a study stores loads back to itself


def test_the_legacy_study_config_still_loads():
    recorded = _legacy_config()
    assert "latency" not in recorded  # recorded before the section existed
    config = build_config(recorded)
    assert config.study.name == "legacy" and config.training.epochs == 1 and config.dataset.name == "digits"
    assert config.latency.source == "measured"
    assert not config.early_stopping.enabled
    assert config.evaluator.name == "training"
    assert config.search_space_resolutions == (16,) and config.profiler.runs == 5
    added = ("latency", "artifact_store", "early_stopping", "evaluator")  # sections newer than the record
    assert {k: v for k, v in config.as_dict().items() if k not in added} == recorded


def test_a_recorded_config_missing_a_key_names_it():
    recorded = _legacy_config()
    recorded["strategy"] = {k: v for k, v in recorded["strategy"].items() if k != "population_size"}
    with pytest.raises(ConfigError, match=r"missing config key\(s\) strategy.population_size"):
        build_config(recorded)
    recorded = _legacy_config()
    del recorded["backend"]
    with pytest.raises(ConfigError, match="backend: expected a mapping"):
        build_config(recorded)


def test_validation_is_short_functions_without_one_letter_names():
    """validate.py is one short function per section (the issue: no 125-line build_config)."""
    import ast
    import inspect

    from nas.config import validate

    tree = ast.parse(inspect.getsource(validate))
    lengths = {node.name: node.end_lineno - node.lineno + 1 for node in ast.walk(tree)
               if isinstance(node, ast.FunctionDef)}
    assert max(lengths.values()) <= 80 and lengths["build_config"] <= 40
    assert all(len(name) > 1 for node in ast.walk(tree) if isinstance(node, ast.Name) for name in [node.id]
               if isinstance(node.ctx, ast.Store))

