"""The weight-sharing supernet (issue 16): extracted standalone models compute what the supernet computes
with that subnet active, parameter counts match the builder's, training resumes, mismatches are refused.

Tiny spaces at 16-24 px and a few digits images keep the file fast; the MobileNetV2 points use the
default space at 32 px with random (untrained) weights, which is all the equality needs.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluators import DatasetConfig
from evaluators.supernet import (
    Supernet,
    SupernetError,
    SupernetEvaluator,
    SupernetSpec,
    SupernetTrainConfig,
    space_fingerprint,
    train_supernet,
)
from evaluators.supernet.layout import SupernetLayout
from search_spaces import Architecture, SearchSpace, arch_cost, get_baseline

# Every elastic dimension: two resolutions, overall and stage widths, both block types with and without
# expand layer, kernels 3/5, depths, squeeze-excite on/off, two activations, a stride-1 first block
# whose residual depends on the widths.
RICH_SPACE = """
name: rich
input: {channels: 1, num_classes: 10}
resolution: [16, 24]
width: [0.5, 1.0]
stem: {channels: 16, kernel: 3, stride: 2, activation: relu6}
head: {channels: 64, activation: hswish}
stages:
  - {channels: 16, stride: 1, block: [mbconv, fused_mbconv], expansion: [1, 3], kernel: [3, 5],
     width: [0.5, 1.0], depth: [1, 2]}
  - {channels: 24, stride: 2, block: [mbconv, fused_mbconv], expansion: [2, 4], kernel: [3, 5],
     width: [0.75, 1.0], depth: [1, 2], se_ratio: [0.0, 0.25], activation: [relu6, swish]}
  - {channels: 32, stride: 1, block: mbconv, expansion: [1, 3], kernel: [3, 5], width: [0.75, 1.0],
     depth: [1, 2, 3], se_ratio: 0.25}
"""
TRAIN_SPACE = """
name: small
input: {channels: 1, num_classes: 10}
resolution: [16]
width: [0.5, 1.0]
stem: {channels: 16, kernel: 3, stride: 2}
head: {channels: 64}
stages:
  - {channels: 16, stride: 2, block: [mbconv, fused_mbconv], expansion: [2, 4], kernel: [3, 5], depth: [1, 2]}
  - {channels: 24, stride: 1, block: mbconv, expansion: [2, 4], kernel: [3, 5], depth: [1, 2],
     se_ratio: [0.0, 0.25]}
"""
DIGITS = DatasetConfig(name="digits", seed=0)
TRAIN_CFG = SupernetTrainConfig(epochs=2, batch_size=64, learning_rate=5e-3, train_fraction=0.3, seed=0)


def _randomized(space: SearchSpace, *, compile_blocks: bool = True) -> Supernet:
    """An untrained supernet whose BatchNorm statistics, scales and biases are random, so that a wrong
    slice of any of them changes the outputs."""
    from evaluators.supernet.network import SupernetNetwork

    network = SupernetNetwork(SupernetLayout(space), seed=1)
    network.compile_blocks = compile_blocks
    rng = np.random.default_rng(0)
    for name, variable in network.weights.items():
        if name.endswith(("_variance", "_gamma")):
            variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype(np.float32))
        elif name.endswith(("_mean", "_beta", "_bias")):
            variable.assign(rng.normal(0.0, 0.3, variable.shape).astype(np.float32))
    return Supernet(network, SupernetSpec.for_space(space, "digits"))


def _assert_same_function(supernet: Supernet, arch: Architecture, weights: dict[str, np.ndarray]) -> None:
    images = np.random.default_rng(7).uniform(-1, 1, (3, arch.resolution, arch.resolution, 1)).astype(np.float32)
    model = supernet.extract(arch, weights=weights)
    expected = model(images, training=False).numpy()
    np.testing.assert_allclose(supernet.predict(arch, images), expected, atol=1e-5, rtol=0, err_msg=str(arch))
    assert supernet.count_params(arch) == model.count_params() == arch_cost(arch).params, arch


def test_random_subnets_equal_their_extracted_models() -> None:
    space = SearchSpace.from_yaml(RICH_SPACE)
    supernet = _randomized(space)
    weights = supernet.weights_numpy()
    rng = random.Random(3)
    archs = [supernet.layout.extreme("max"), supernet.layout.extreme("min")]
    archs += [supernet.layout.sample(rng) for _ in range(8)]
    seen = {(s.block, s.expansion == 1, bool(s.se_ratio), s.activation) for a in archs for s in a.stages}
    assert {b for b, *_ in seen} == {"mbconv", "fused_mbconv"} and {e for _, e, *_ in seen} == {True, False}
    assert {a.resolution for a in archs} == {16, 24}
    for arch in archs:
        _assert_same_function(supernet, arch, weights)


def test_mobilenet_v2_and_fused_subnets_equal_their_extracted_models() -> None:
    space = SearchSpace.default().with_input(resolutions=[32], channels=1, num_classes=10)
    supernet = _randomized(space, compile_blocks=False)
    weights = supernet.weights_numpy()
    mobilenets = [get_baseline(n).with_input(resolution=32, channels=1, num_classes=10)
                  for n in ("mobilenet_v2_0.35", "mobilenet_v2_1.0")]
    fused = {c.name: c.values[-1] for c in space.parameters()}  # widest, deepest, largest kernel ...
    fused |= {c.name: "fused_mbconv" for c in space.parameters() if c.name.endswith("_block")}
    fused_arch = space.architecture(fused)
    assert sum(s.block == "fused_mbconv" for s in fused_arch.stages) == 3
    for arch in [*mobilenets, fused_arch, supernet.layout.sample(random.Random(5))]:
        _assert_same_function(supernet, arch, weights)


def _keras_recalibration(model: Any, images: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """The oracle: Once-for-All's ``set_running_statistics`` done on the standalone Keras model (training
    mode, each BatchNorm's input moments averaged over batches), as the evaluator did before 7 Dec."""
    from search_spaces.keras_backend import keras, tf

    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    probe = keras.Model(model.inputs, [layer.input for layer in layers])
    sums = [np.zeros((2, layer.input.shape[-1])) for layer in layers]
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        for acc, tensor in zip(sums, probe(batch, training=True)):
            acc += np.stack([m.numpy() for m in tf.nn.moments(tensor, [0, 1, 2])]) * len(batch)
    return [value / len(images) for acc in sums for value in acc]


@pytest.mark.parametrize("compile_blocks", [True, False])
def test_batchnorm_recalibration_in_the_supernet_equals_it_on_the_standalone_model(compile_blocks: bool) -> None:

    space = SearchSpace.from_yaml(RICH_SPACE)
    supernet = _randomized(space, compile_blocks=compile_blocks)
    before = supernet.weights_numpy()
    rng = random.Random(11)
    for arch in [supernet.layout.extreme("max"), *(supernet.layout.sample(rng) for _ in range(3))]:
        images = np.random.default_rng(2).uniform(-1, 1, (250, arch.resolution, arch.resolution, 1)).astype(np.float32)
        # The default: 250 images at 16-24 px are one batch. Then batches of 100, 100 and 50.
        for pixels, batch_size in ((None, 250), (100 * arch.resolution ** 2, 100)):
            expected = _keras_recalibration(supernet.extract(arch, weights=before), images, batch_size)
            model = supernet.extract(arch, weights=supernet.recalibrated(arch, images, before, batch_pixels=pixels))
            got = _moving(model)
            assert len(got) == len(expected) > 0
            for a, b in zip(got, expected):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"{arch} in batches of {batch_size}")
            assert any(not np.allclose(a, b) for a, b in zip(got, _moving(supernet.extract(arch, weights=before))))
    after = supernet.weights_numpy()
    assert all(np.array_equal(before[name], after[name]) for name in before)  # the supernet is untouched


def _moving(model: Any) -> list[np.ndarray]:
    """Moving mean and variance of every BatchNorm layer of ``model``, in layer order."""
    from search_spaces.keras_backend import keras

    return [w for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
            for w in layer.get_weights()[2:]]


def test_a_subnet_outside_the_supernet_is_named() -> None:
    supernet = _randomized(SearchSpace.from_yaml(TRAIN_SPACE))
    good = supernet.layout.extreme("max")
    with pytest.raises(SupernetError, match="resolution 24 is not one of") as error:
        supernet.check(good.with_input(resolution=24))
    bad_kernel = Architecture.from_string(good.to_string().replace("_k5_", "_k7_"))
    with pytest.raises(SupernetError, match="subnet outside the supernet: .*stage 1 er_r2_k7.* not reachable") as error:
        supernet.extract(bad_kernel)
    assert "\n" not in str(error.value)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A supernet trained in two calls: the first is interrupted after epoch 1, the second resumes."""
    import evaluators.supernet.train as train_module

    space = SearchSpace.from_yaml(TRAIN_SPACE)
    folder = tmp_path_factory.mktemp("supernet")
    original = train_module._epoch_codes

    def interrupted(layout: Any, cfg: Any, epoch: int, steps: int) -> Any:
        if epoch == 1:
            raise KeyboardInterrupt("stopped in epoch 2")
        return original(layout, cfg, epoch, steps)

    train_module._epoch_codes = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            train_supernet(space, DIGITS, TRAIN_CFG, folder, progress=False)
    finally:
        train_module._epoch_codes = original
    after_interrupt = json.loads((folder / "supernet.json").read_text())
    unfinished_error = None
    try:
        Supernet.load(folder, space=space, dataset_name="digits")
    except SupernetError as error:
        unfinished_error = str(error)
    train_supernet(space, DIGITS, TRAIN_CFG, folder, progress=False)
    return {"space": space, "folder": folder, "after_interrupt": after_interrupt,
            "unfinished_error": unfinished_error, "manifest": json.loads((folder / "supernet.json").read_text())}


def test_training_resumes_after_an_interruption(trained: dict[str, Any]) -> None:
    first, final = trained["after_interrupt"], trained["manifest"]
    assert (first["epochs_done"], first["finished"]) == (1, False)
    assert (final["epochs_done"], final["finished"]) == (2, True)
    assert final["history"][0] == first["history"][0]  # epoch 1 was read back, not trained again
    assert trained["unfinished_error"] is not None and "unfinished (1/2 epochs)" in trained["unfinished_error"]
    # The optimizer state came back too: its step counter counts both epochs' steps.
    from search_spaces.keras_backend import tf

    reader = tf.train.load_checkpoint(str(trained["folder"] / final["checkpoint"]))
    steps_per_epoch = 6  # ceil(20 batches of digits' 1,222 training images x 0.3)
    assert reader.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 2 * steps_per_epoch
    assert final["history"][1]["teacher_loss"] < final["history"][0]["teacher_loss"]


def test_inherited_evaluation_scores_the_extracted_int8_model(trained: dict[str, Any], tmp_path: Path) -> None:
    space = trained["space"]
    supernet = Supernet.load(trained["folder"], space=space, dataset_name="digits")
    evaluator = SupernetEvaluator(supernet, DIGITS, bn_calibration_images=200, calibration_samples=50)
    arch = supernet.layout.extreme("max")
    result = evaluator.evaluate(arch, tmp_path)
    assert result.ok, result.failure_reason
    assert result.training["accuracy_source"] == "inherited"
    assert result.training["space_fingerprint"] == space_fingerprint(space)
    assert result.accuracy_int8 > 0.3  # ten classes: chance is 0.1
    assert abs(result.accuracy_gap) < 0.1
    assert {"extract", "bn_recalibrate", "convert", "evaluate"} <= set(result.timings_s)
    assert Path(result.artifacts["tflite_int8"]).stat().st_size == result.size_bytes
    assert Path(result.artifacts["keras_model"]).exists()
    assert result.latency is None and result.params == arch_cost(arch).params


def test_mismatches_are_refused_in_one_line(trained: dict[str, Any]) -> None:
    space, folder = trained["space"], trained["folder"]
    other_space = space.with_input(resolutions=[24])
    cases = [
        (lambda: Supernet.load(folder, space=other_space, dataset_name="digits"), "space_fingerprint: .*resolutions"),
        (lambda: Supernet.load(folder, space=space, dataset_name="mnist"), "dataset_name: 'digits' != 'mnist'"),
        (lambda: train_supernet(space, DIGITS, TRAIN_CFG.__class__(**TRAIN_CFG.to_dict() | {"epochs": 3}), folder,
                                progress=False), "another config .*epochs: 2 != 3"),
        (lambda: train_supernet(other_space, DIGITS, TRAIN_CFG, folder, progress=False), "another space or dataset"),
        (lambda: SupernetEvaluator(Supernet.load(folder, space=space, dataset_name="digits"),
                                   DatasetConfig(name="mnist")), "trained on 'digits', not on 'mnist'"),
        (lambda: Supernet.load(folder / "nothing", space=space, dataset_name="digits"), "no supernet.json"),
    ]
    for call, pattern in cases:
        with pytest.raises(SupernetError, match=pattern) as error:
            call()
        assert "\n" not in str(error.value)


def test_a_damaged_manifest_or_checkpoint_is_named(trained: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained["folder"], copy)
    manifest = json.loads((copy / "supernet.json").read_text())
    for data in (copy / "checkpoints").glob(f"{Path(manifest['checkpoint']).name}.data*"):
        data.write_bytes(b"garbage")
    with pytest.raises(SupernetError, match="cannot read the supernet checkpoint"):
        Supernet.load(copy, space=trained["space"], dataset_name="digits")
    (copy / "supernet.json").write_text("{not json")
    with pytest.raises(SupernetError, match="unreadable supernet manifest"):
        Supernet.load(copy, space=trained["space"], dataset_name="digits")


@pytest.mark.parametrize(("field", "value"), [("epochs", 0), ("batch_size", -1), ("learning_rate", 0.0),
                                              ("train_fraction", 1.5), ("sandwich_random_subnets", -1)])
def test_train_config_errors_name_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        SupernetTrainConfig(**(TRAIN_CFG.to_dict() | {field: value}))
