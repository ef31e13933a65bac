"""`nas search` configuration: defaults, YAML, flags, and messages that name the key and the allowed values."""

from __future__ import annotations

import pytest

from evaluators import TrainConfig
from nas.cli import main
from nas.config import ConfigError, build_dataclass, leaf_keys, load_config


def test_defaults_are_the_offline_demo():
    config = load_config()
    assert config.dataset.name == "digits"
    assert config.strategy.name == "nsga2"
    assert config.profiler.kind == "local"
    assert config.reference_baseline == "mobilenet_v2_0.35"
    assert config.objectives == ("accuracy", "latency", "size")
    assert config.storage_url == "sqlite:///runs/demo/study.db"
    assert config.max_concurrent_trials == 1


def test_yaml_then_flags(tmp_path):
    path = tmp_path / "search.yaml"
    path.write_text("strategy:\n  name: tpe\n  n_trials: 20\ntraining:\n  epochs: 2\n  lr: 0.01\n")
    config = load_config(path, [("strategy.n_trials", "7"), ("constraints.max_latency_ms", "2.5"),
                                ("dataset.name", "fashion-mnist"), ("objectives", "accuracy,latency")])
    assert config.strategy.name == "tpe"
    assert config.strategy.n_trials == 7
    assert config.training == TrainConfig(epochs=2, lr=0.01)
    assert config.dataset.name == "fashion-mnist"
    assert config.constraints.max_latency_ms == 2.5
    assert config.objectives == ("accuracy", "latency")
    assert config.as_dict()["strategy"]["n_trials"] == 7


def test_every_default_key_is_a_flag():
    keys = leaf_keys()
    assert {"strategy.n_trials", "profiler.urls", "backend.max_concurrent", "training.epochs"} <= set(keys)
    config = load_config(overrides=[(key, None) for key in ("constraints.max_latency_ms", "study.storage")])
    assert config.constraints.max_latency_ms is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"strategy.name": "nsga3"}, "strategy.name: 'nsga3' is not one of nsga2, tpe, random, reward, keras-tuner"),
        ({"strategy.n_trials": 0}, "strategy.n_trials: must be >= 1"),
        ({"strategy.n_trial": 3},
         "unknown config key 'strategy.n_trial'; allowed keys here: strategy.name, strategy.n_trials"),
        ({"objectives": "accuracy,speed"}, "objectives: 'speed' is not one of accuracy, latency, size"),
        ({"profiler.kind": "remote"}, "profiler.urls: profiler.kind 'remote' needs at least one agent URL"),
        ({"profiler.kind": "pi"}, "profiler.kind: 'pi' is not one of local, remote"),
        ({"backend.name": "dask"}, "backend.name: 'dask' is not one of local, ray"),
        ({"constraints.max_latency_ms": -1}, "constraints.max_latency_ms: must be > 0"),
        ({"constraints.min_accuracy": 80}, "constraints.min_accuracy: a fraction in [0, 1]"),
        ({"strategy.keras_tuner.oracle": "grid"},
         "strategy.keras_tuner.oracle: 'grid' is not one of bayesian, hyperband"),
        ({"search_space.channels": 2}, "search_space.channels: 2 is not one of 1, 3, null"),
        ({"search_space.source": "/nowhere.yaml"}, "search_space.source: '/nowhere.yaml' is neither 'default'"),
        ({"strategy.name": "reward", "objectives": "latency,size"}, "needs 'accuracy' in objectives"),
        ({"backend.name": "ray", "strategy.name": "keras-tuner"}, "backend.name: 'ray' runs Optuna strategies"),
    ],
)
def test_bad_values_name_the_key_and_the_allowed_values(overrides, message):
    with pytest.raises(ConfigError) as info:
        load_config(overrides=overrides)
    assert message in str(info.value)


def test_bad_yaml_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("strategy: [1, 2\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(path)
    path.write_text("strategy:\n  nam: tpe\n")
    with pytest.raises(ConfigError, match="unknown config key 'strategy.nam'"):
        load_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_dataset_and_training_fields_are_checked_against_the_evaluators():
    from evaluators import DatasetConfig, TrainConfig

    with pytest.raises(ConfigError) as info:
        build_dataclass(TrainConfig, {"epochz": 2}, "training")
    assert "unknown config key 'training.epochz'; allowed keys: epochs, optimizer" in str(info.value)
    with pytest.raises(ConfigError, match="training: unknown optimizer 'sgdx'"):
        build_dataclass(TrainConfig, {"optimizer": "sgdx"}, "training")
    assert build_dataclass(DatasetConfig, {"name": "digits"}, "dataset").name == "digits"


def test_cli_reports_bad_config(capsys):
    assert main(["search", "--strategy", "nsga3"]) == 2
    assert "invalid config: strategy.name: 'nsga3' is not one of" in capsys.readouterr().err
    assert main(["search", "--set", "objectives=[accuracy, accuracy]"]) == 2
    assert "lists an objective twice" in capsys.readouterr().err
    assert main(["search", "--set", "novalue"]) == 2
    assert "is not of the form key.path=value" in capsys.readouterr().err


def test_cli_resume_without_study(tmp_path, capsys):
    assert main(["search", "--resume", "--study.runs_dir", str(tmp_path)]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_concurrency_is_bounded_by_the_profiler_agents():
    urls = "http://pi1:8600,http://pi2:8600,http://pi3:8600"
    remote = {"profiler.kind": "remote", "profiler.urls": urls}
    assert load_config(overrides=remote).max_concurrent_trials == 3
    assert load_config(overrides={**remote, "backend.max_concurrent": 8}).max_concurrent_trials == 3
    assert load_config(overrides={**remote, "backend.max_concurrent": 2}).max_concurrent_trials == 2
    assert load_config(overrides={"backend.max_concurrent": 4}).max_concurrent_trials == 4  # each on its own CPU


def test_the_token_is_never_part_of_the_recorded_config(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="profiler.token_file.*EDGE_PROFILER_TOKEN"):
        load_config(overrides=[("profiler.token", "s3cret-s3cret-s3cret")])
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-s3cret-s3cret\n")
    config = load_config(overrides=[("profiler.token_file", str(token_file))])
    assert "s3cret" not in repr(config.as_dict())
    assert config.profiler.read_token() == "s3cret-s3cret-s3cret"

    monkeypatch.setenv("EDGE_PROFILER_TOKEN", "from-the-environment")
    assert load_config().profiler.read_token() == "from-the-environment"
    missing = load_config(overrides=[("profiler.token_file", str(tmp_path / "absent"))])
    with pytest.raises(ConfigError, match="profiler.token_file: cannot read"):
        missing.profiler.read_token()
    with pytest.raises(SystemExit):
        main(["search", "--profiler.token", "abc"])  # no abbreviation of --profiler.token_file


def test_remote_profiler_gets_the_token_from_its_file(tmp_path):
    from nas.trial.evaluation import make_profiler

    token_file = tmp_path / "token"
    token_file.write_text("s3cret-s3cret-s3cret")
    config = load_config(overrides=[("profiler.kind", "remote"), ("profiler.urls", "http://127.0.0.1:9"),
                                    ("profiler.token_file", str(token_file))])
    for settings in (config.profiler, config.as_dict()["profiler"]):
        profiler = make_profiler(settings)
        assert profiler._token == "s3cret-s3cret-s3cret"


def test_config_recorded_with_the_old_token_key_still_loads():
    from nas.config import build_config

    recorded = load_config().as_dict()
    recorded["profiler"].pop("token_file")
    recorded["profiler"]["token"] = None
    config = build_config(recorded)
    assert config.profiler.token_file is None
    assert "token" not in config.as_dict()["profiler"]
