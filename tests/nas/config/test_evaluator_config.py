"""The `evaluator` section (issue 16): training by default, `supernet` with its folder, BatchNorm
calibration size and `nas supernet train` budget; bad values name the key in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas.config import ConfigError, load_config
from nas.config.validate import build_config


def test_training_by_default_and_old_studies_without_the_section_load() -> None:
    config = load_config()
    assert config.evaluator.name == "training" and not config.evaluator.inherits_weights
    raw = config.as_dict()
    raw.pop("evaluator")
    old = build_config(raw)
    assert old.evaluator.name == "training"
    assert old.evaluator.supernet.training == config.evaluator.supernet.training  # the YAML's = the code's default


def test_supernet_folder_defaults_to_beside_the_study(tmp_path: Path) -> None:
    config = load_config(overrides=[("evaluator.name", "supernet"), ("study.runs_dir", str(tmp_path)),
                                    ("study.name", "s1")])
    assert config.evaluator.inherits_weights
    assert config.evaluator.supernet.folder_for(config.study) == tmp_path / "s1" / "supernet"
    other = load_config(overrides=[("evaluator.supernet.folder", str(tmp_path / "shared"))])
    assert other.evaluator.supernet.folder_for(other.study) == tmp_path / "shared"


def test_supernet_settings_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "search.yaml"
    path.write_text("evaluator:\n  name: supernet\n  supernet:\n    bn_calibration_images: 200\n"
                    "    training:\n      epochs: 3\n      distillation: false\n      learning_rate: 1e-3\n")
    settings = load_config(path).evaluator.supernet
    assert settings.bn_calibration_images == 200
    assert (settings.training.epochs, settings.training.distillation, settings.training.learning_rate) == \
        (3, False, 1e-3)
    assert settings.training.batch_size == 64  # untouched keys keep the default


def test_progressive_shrinking_from_yaml_and_from_set(tmp_path: Path) -> None:
    path = tmp_path / "search.yaml"
    path.write_text("evaluator:\n  supernet:\n    training:\n      epochs: 4\n"
                    "      shrinking: [[], [kernel], [kernel, depth]]\n")
    assert load_config(path).evaluator.supernet.training.shrinking == ((), ("kernel",), ("kernel", "depth"))
    config = load_config(overrides=[("evaluator.supernet.training.shrinking", "[[], [kernel]]")])
    assert config.evaluator.supernet.training.elastic_at(1) == frozenset({"kernel"})
    assert build_config(config.as_dict()).evaluator.supernet.training == config.evaluator.supernet.training


@pytest.mark.parametrize(("overrides", "message"), [
    ({"evaluator.name": "oneshot"}, "evaluator.name: 'oneshot' is not one of training, supernet"),
    ({"evaluator.supernet.bn_calibration_images": "0"}, "evaluator.supernet.bn_calibration_images: must be >= 1"),
    ({"evaluator.supernet.bn_calibration_images": "many"},
     "evaluator.supernet.bn_calibration_images: expected an integer"),
    ({"evaluator.supernet.folder": "''"}, "evaluator.supernet.folder: expected a non-empty string or null"),
    ({"evaluator.supernet.training.epochs": "0"}, "evaluator.supernet.training: epochs must be an integer >= 1"),
    ({"evaluator.supernet.training.train_fraction": "1.5"},
     "evaluator.supernet.training: train_fraction must be in (0, 1]"),
    ({"evaluator.supernet.training.distillation": "maybe"},
     "evaluator.supernet.training.distillation: expected true or false"),
    ({"evaluator.supernet.training.shrinking": "[[kernal]]"},
     "evaluator.supernet.training: shrinking, epoch 1: unknown kind(s) ['kernal']"),
    ({"evaluator.supernet.training.epoch": "3"}, "unknown config key 'evaluator.supernet.training.epoch'"),
    ({"evaluator.supernet.size": "3"}, "unknown config key 'evaluator.supernet.size'"),
    ({"evaluator.name": "supernet", "early_stopping.rungs": "1"},
     "evaluator.name: 'supernet' trains no candidate, so early_stopping.rungs has nothing to stop"),
    ({"evaluator.name": "supernet", "strategy.name": "keras-tuner", "strategy.keras_tuner.oracle": "hyperband",
      "objectives": "accuracy"}, "the keras-tuner hyperband oracle budgets training epochs"),
])
def test_bad_settings_name_the_key(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=list(overrides.items()))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_recorded_section_with_unknown_keys_is_refused() -> None:
    raw = load_config().as_dict()
    raw["evaluator"] = {"name": "supernet", "supernet": {"training": {"epochs": 2}, "shared": True}}
    with pytest.raises(ConfigError, match="unknown config key 'evaluator.supernet.shared'"):
        build_config(raw)
    raw["evaluator"] = {"name": "supernet", "supernet": {"training": [2]}}
    with pytest.raises(ConfigError, match="evaluator.supernet.training: expected a mapping"):
        build_config(raw)
