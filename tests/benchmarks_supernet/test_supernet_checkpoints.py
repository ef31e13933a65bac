"""The checkpoint diagnostic (docs/supernet.md, "Where the supernet's noise enters"): deriving the
epoch-3 and averaged supernets, and the read-out's rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import supernet_checkpoints
from evaluators.supernet import SupernetSpec, SupernetTrainConfig
from evaluators.supernet.layout import SupernetLayout
from evaluators.supernet.store import Manifest, write_manifest
from search_spaces import SearchSpace

SPACE = """
name: tiny
input: {channels: 1, num_classes: 10}
resolution: [16]
stem: {channels: 8, kernel: 3, stride: 2}
head: {channels: 32}
stages:
  - {channels: 8, stride: 2, block: [mbconv, fused_mbconv], expansion: [2, 4], kernel: [3, 5], depth: [1, 2]}
"""
TRUTH = [0.70 + 0.005 * i for i in range(12)]


def _trained_folder(folder: Path, space: SearchSpace) -> dict[str, dict[str, np.ndarray]]:
    """A finished 4-epoch supernet folder whose epoch-3 and epoch-4 checkpoints hold known weights."""
    from evaluators.supernet.network import SupernetNetwork
    from search_spaces.keras_backend import tf

    network, kept = SupernetNetwork(SupernetLayout(space), seed=0), {}
    for epoch in (3, 4):
        for variable in network.weights.values():
            variable.assign(np.full(variable.shape, float(epoch), np.float32) + np.arange(variable.shape[-1]))
        kept[epoch] = {name: v.numpy() for name, v in network.weights.items()}
        tf.train.Checkpoint(net=network).write(str(folder / "checkpoints" / f"epoch-{epoch:04d}"))
    cfg = SupernetTrainConfig(epochs=4, batch_size=8, learning_rate=1e-3)
    write_manifest(folder, Manifest(spec=SupernetSpec.for_space(space, "fashion-mnist"), config=cfg,
                                    space=space.to_dict(), epochs_done=4, finished=True,
                                    checkpoint="checkpoints/epoch-0004"))
    return kept


@pytest.mark.parametrize("variant", ["e3", "avg"])
def test_a_derived_supernet_holds_the_epoch3_or_the_averaged_weights(tmp_path, variant):
    from evaluators.supernet import Supernet

    space = SearchSpace.from_yaml(SPACE)
    kept = _trained_folder(tmp_path / "source", space)
    supernet_checkpoints.derive(tmp_path / "source", tmp_path / "out", variant, space)
    loaded = Supernet.load(tmp_path / "out", space=space, dataset_name="fashion-mnist").weights_numpy()
    for name, value in loaded.items():
        want = kept[3][name] if variant == "e3" else (kept[3][name] + kept[4][name]) / 2
        np.testing.assert_allclose(value, want, rtol=0, atol=1e-6, err_msg=name)


def test_derive_refuses_an_unknown_variant_and_an_unfinished_training(tmp_path):
    space = SearchSpace.from_yaml(SPACE)
    _trained_folder(tmp_path / "source", space)
    with pytest.raises(ValueError, match="unknown variant 'e2'"):
        supernet_checkpoints.derive(tmp_path / "source", tmp_path / "out", "e2", space)
    with pytest.raises(ValueError, match="not a finished 4-epoch supernet"):
        supernet_checkpoints.derive(tmp_path / "nothing", tmp_path / "out", "e3", space)


def _write(path: Path, key: str, values: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"name": f"net{i:02d}", "architecture": f"a{i}", key: v} for i, v in enumerate(values)]
    path.write_text(json.dumps({"rows": rows}))


def _results(tmp_path: Path, e3: list[float], avg: list[float], e4: list[float]) -> Path:
    _write(tmp_path / "supernet_ranking.json", "accuracy_int8_scratch", TRUTH)
    for seed in (0, 1, 2, 3):
        _write(tmp_path / "supernet_checkpoints" / f"e3_s{seed}.json", "accuracy_int8_inherited", e3)
        _write(tmp_path / "supernet_checkpoints" / f"avg_s{seed}.json", "accuracy_int8_inherited", avg)
        _write(tmp_path / "supernet_seeds" / f"base_s{seed}.json", "accuracy_int8_inherited", e4)
    return tmp_path


def _swapped(values: list[float], pairs: int) -> list[float]:
    out = list(values)
    for i in range(0, 2 * pairs, 2):
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


def test_averaging_that_ranks_better_becomes_an_option(tmp_path):
    noisy = _swapped(TRUTH, 6)  # tau 1 - 12/66 against the truth
    out = supernet_checkpoints.read_out(_results(tmp_path, e3=noisy, avg=TRUTH, e4=noisy), resamples=50)
    assert out["within_training_mean_tau"] == 1.0 and out["rule"]["settled_by_epoch3"] is True
    assert out["against_scratch_seed0_mean"] == {"e3": pytest.approx(1 - 12 / 66, abs=1e-4), "avg": 1.0,
                                                 "e4": pytest.approx(1 - 12 / 66, abs=1e-4)}
    assert out["avg_beats_e4_in"] == 4 and out["rule"]["averaging_becomes_an_option"] is True
    assert out["avg_minus_e4"][0]["difference"] == pytest.approx(12 / 66, abs=1e-4)
    assert out["between_trainings_mean_tau"] == {"e4": 1.0, "avg": 1.0}


def test_averaging_that_ranks_alike_does_not(tmp_path):
    out = supernet_checkpoints.read_out(_results(tmp_path, e3=TRUTH[::-1], avg=TRUTH, e4=TRUTH), resamples=50)
    assert out["within_training_mean_tau"] == -1.0 and out["rule"]["settled_by_epoch3"] is False
    assert out["avg_beats_e4_in"] == 0 and out["rule"]["averaging_becomes_an_option"] is False


def test_the_read_out_names_a_missing_result_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(supernet_checkpoints, "RESULTS", tmp_path)
    assert supernet_checkpoints.main(["--read-out"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "supernet_ranking.json" in err and err.count("\n") == 1
