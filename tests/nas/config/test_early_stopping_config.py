"""The `early_stopping` section (issue 17): off by default, validated with messages that name the key."""

from __future__ import annotations

import pytest

from nas.config import ConfigError, load_config


def test_off_by_default_and_old_studies_without_the_section_load() -> None:
    config = load_config()
    assert not config.early_stopping.enabled and config.early_stopping.reduction_factor == 3
    raw = config.as_dict()
    raw.pop("early_stopping")
    from nas.config.validate import build_config

    assert not build_config(raw).early_stopping.enabled


def test_rungs_from_a_flag_and_from_yaml(tmp_path) -> None:
    config = load_config(overrides=[("early_stopping.rungs", "1,3"), ("training.epochs", "9"),
                                    ("early_stopping.reduction_factor", "2")])
    assert config.early_stopping.rungs_epochs == (1, 3) and config.early_stopping.reduction_factor == 2.0
    path = tmp_path / "search.yaml"
    path.write_text("training:\n  epochs: 9\nearly_stopping:\n  rungs: [1, 3, 9]\n")
    assert load_config(path).early_stopping.rungs_epochs == (1, 3, 9)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"early_stopping.rungs": "1,12", "training.epochs": "9"},
     "early_stopping.rungs: rung 12 is beyond the training budget (training.epochs 9)"),
    ({"early_stopping.rungs": "3,1"}, "early_stopping.rungs: epochs must increase, got [3, 1]"),
    ({"early_stopping.rungs": "0,1"}, "early_stopping.rungs: must be > 0"),
    ({"early_stopping.rungs": "1.5"}, "early_stopping.rungs: expected an integer"),
    ({"early_stopping.rungs": "1", "early_stopping.reduction_factor": "1"},
     "early_stopping.reduction_factor: must be > 1"),
    ({"early_stopping.rungs": "1", "early_stopping.reduction_factor": "0.5"},
     "early_stopping.reduction_factor: must be > 1"),
    ({"early_stopping.tie_break": "epsilon"}, "early_stopping.tie_break: 'epsilon' is not one of epsilon_net, crowding"),
    ({"early_stopping.rungs": "1", "strategy.name": "keras-tuner", "strategy.keras_tuner.oracle": "hyperband",
      "objectives": "accuracy"},
     "early_stopping.rungs: the keras-tuner hyperband oracle sets each trial's epochs itself"),
])
def test_bad_settings_name_the_key(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=list(overrides.items()))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_an_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match="early_stopping.rung"):
        load_config(overrides=[("early_stopping.rung", "1")])
