"""SearchSpace: YAML validation, size, the three sampler adapters, baselines as points."""

from __future__ import annotations

import itertools
import random

import numpy as np
import optuna
import pytest

from search_spaces import Architecture, get_baseline
from search_spaces.keras_backend import import_keras_tuner
from search_spaces.space import SearchSpace, SearchSpaceError

keras_tuner = import_keras_tuner()

TINY_YAML = """
name: tiny
input: {channels: 1, num_classes: 10}
resolution: [32, 48]
width: [0.35, 0.5, 1.0]
stem: {channels: 16, kernel: 3, stride: 2, activation: relu6}
head: {channels: 64, dropout: 0.1, activation: hswish}
stages:
  - {channels: 16, stride: 1, block: [mbconv, fused_mbconv], expansion: [1, 3], kernel: 3,
     width: [0.75, 1.0], depth: 1}
  - {channels: 24, stride: 2, block: mbconv, expansion: 4, kernel: [3, 5],
     width: [0.5, 1.0, 1.25], depth: [1, 2], se_ratio: [0.0, 0.25], activation: [relu6, swish]}
"""


@pytest.fixture(scope="module")
def tiny() -> SearchSpace:
    return SearchSpace.from_yaml(TINY_YAML)


@pytest.fixture(scope="module")
def default() -> SearchSpace:
    return SearchSpace.default()


def _all_architectures(space: SearchSpace) -> list[Architecture]:
    choices = space.parameters()
    return [
        space.architecture(dict(zip((c.name for c in choices), combo)))
        for combo in itertools.product(*(c.values for c in choices))
    ]


def test_size_counts_distinct_architectures(tiny):
    archs = _all_architectures(tiny)
    combos = len(archs)
    distinct = len(set(archs))
    assert distinct < combos  # some widths round to the same channels
    assert tiny.size() == distinct


def test_size_of_default_space_is_reported(default):
    # Distinct architectures never exceed the number of choice combinations.
    combos = 1
    for choice in default.parameters():
        combos *= len(choice.values)
    assert 10**12 < default.size() <= combos


def test_the_three_samplers_give_equal_architectures_for_equal_choices(tiny, default):
    rng = random.Random(7)
    for space in (tiny, default):
        for _ in range(20):
            params = {c.name: rng.choice(c.values) for c in space.parameters()}
            from_optuna = space.sample_optuna(optuna.trial.FixedTrial(params))
            hp = keras_tuner.HyperParameters()
            for name, value in params.items():
                hp.values[name] = value
            from_keras_tuner = space.sample_keras_tuner(hp)
            from_ray = space.sample_ray(dict(params))
            assert from_optuna == from_keras_tuner == from_ray == space.architecture(params)
            assert space.from_ray_config(dict(params)) == from_ray


def test_optuna_study_samples_valid_architectures_and_enqueues_a_baseline(default):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    baseline = get_baseline("mobilenet_v2_0.35")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(default.choices_of(baseline))
    seen = []
    study.optimize(lambda trial: len(seen.append(default.sample_optuna(trial)) or seen), n_trials=5)
    assert seen[0] == baseline
    assert len(set(seen)) == 5


def test_keras_tuner_registers_every_parameter(tiny):
    hp = keras_tuner.HyperParameters()
    arch = tiny.sample_keras_tuner(hp)
    assert set(hp.values) == {c.name for c in tiny.parameters()}
    assert arch == tiny.architecture(hp.values)


def test_ray_param_space_has_one_choice_per_parameter(tiny):
    from ray.tune.search.sample import Categorical

    param_space = tiny.ray_param_space()
    assert set(param_space) == {c.name for c in tiny.parameters()}
    for choice in tiny.parameters():
        domain = param_space[choice.name]
        assert isinstance(domain, Categorical)
        assert list(domain.categories) == list(choice.values)
    rng = random.Random(3)
    config = {name: rng.choice(domain.categories) for name, domain in param_space.items()}
    assert tiny.sample_ray(config) == tiny.architecture(config)
    sampled = {name: domain.sample() for name, domain in param_space.items()}
    assert isinstance(tiny.sample_ray(sampled), Architecture)


def test_numpy_scalars_from_a_tuner_give_the_same_architecture(tiny):
    params = {c.name: c.values[-1] for c in tiny.parameters()}
    as_numpy = {k: np.asarray(v).item() if isinstance(v, str) else np.asarray(v)[()] for k, v in params.items()}
    assert any(isinstance(v, np.generic) for v in as_numpy.values())
    assert tiny.sample_ray(as_numpy) == tiny.architecture(params)


@pytest.mark.parametrize("width", ["0.35", "0.5", "0.75", "1.0"])
def test_mobilenet_v2_is_a_point_of_the_default_space(default, width):
    baseline = get_baseline(f"mobilenet_v2_{width}")
    params = default.choices_of(baseline)
    assert params["width"] == float(width)
    assert default.architecture(params) == baseline
    assert default.sample_optuna(optuna.trial.FixedTrial(params)) == baseline
    small = default.with_input(resolutions=[32], channels=1, num_classes=10)
    target = baseline.with_input(resolution=32, channels=1, num_classes=10)
    assert small.architecture(small.choices_of(target)) == target


def test_choices_of_explains_why_an_architecture_is_not_a_point(default):
    with pytest.raises(SearchSpaceError, match="input 1 channels / 10 classes"):
        default.choices_of(get_baseline("mobilenet_v2_1.0").with_input(channels=1, num_classes=10))
    with pytest.raises(SearchSpaceError, match="width 0.35: stem"):
        default.choices_of(get_baseline("mobilenet_v2_1.4"))
    with pytest.raises(SearchSpaceError, match="stem channels=32, .*activation=swish"):
        default.choices_of(get_baseline("efficientnet_b0"))
    text = get_baseline("mobilenet_v2_1.0").to_string().replace("ir_r4_k3", "ir_r4_k7")
    with pytest.raises(SearchSpaceError, match="width 1.0: stage 4 ir_r4_k7_s2_e6_c64_relu6 is not reachable"):
        default.choices_of(Architecture.from_string(text))


def test_to_dict_round_trips(default, tiny):
    for space in (default, tiny):
        assert SearchSpace.from_dict(space.to_dict()) == space


def test_architecture_rejects_unknown_missing_and_disallowed_parameters(tiny):
    params = {c.name: c.values[0] for c in tiny.parameters()}
    with pytest.raises(SearchSpaceError, match=r"unknown parameter\(s\) \['stage9_kernel'\]"):
        tiny.architecture(params | {"stage9_kernel": 3})
    with pytest.raises(SearchSpaceError, match=r"stage2_kernel: 7 is not allowed; allowed: \[3, 5\]"):
        tiny.architecture(params | {"stage2_kernel": 7})
    del params["width"]
    with pytest.raises(SearchSpaceError, match=r"width: missing; allowed: \[0.35, 0.5, 1.0\]"):
        tiny.architecture(params)
    with pytest.raises(SearchSpaceError, match="Ray config has no 'resolution'"):
        tiny.sample_ray({})


# ----- YAML validation: errors name the key and the allowed values --------------------------
def _yaml_with(old: str, new: str) -> str:
    assert old in TINY_YAML
    return TINY_YAML.replace(old, new, 1)


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("name: tiny", "nmae: tiny", r"search space: unknown key 'nmae'; allowed keys: name, input"),
        ("kernel: [3, 5]", "kernal: [3, 5]", r"stages\[2\]: unknown key 'kernal'; allowed keys: channels, stride, block"),
        ("input: {channels: 1,", "input: {chanels: 1,", "input: unknown key 'chanels'"),
        ("head: {channels: 64,", "head: {width: 64,", "head: unknown key 'width'"),
        ("block: mbconv", "block: [mbconv, resnet]", r"stages\[2\].block: 'resnet' is not allowed; allowed values: mbconv, fused_mbconv"),
        ("activation: [relu6, swish]", "activation: [relu6, gelu]", r"stages\[2\].activation: 'gelu' is not allowed; allowed values: relu6, hswish, swish"),
        ("kernel: [3, 5]", "kernel: [3, 4]", r"stages\[2\].kernel: 4 is not allowed \(kernel must be odd"),
        ("depth: [1, 2]", "depth: [0, 2]", r"stages\[2\].depth: 0 is not allowed \(repeats must be a positive integer"),
        ("kernel: [3, 5]", "kernel: [3, 3]", r"stages\[2\].kernel: duplicate values"),
        ("kernel: [3, 5]", "kernel: []", r"stages\[2\].kernel: needs at least one value"),
        ("kernel: [3, 5]", "kernel: [3, five]", r"stages\[2\].kernel: expected int, got 'five'"),
        ("{channels: 24, stride: 2,", "{channels: 0, stride: 2,", r"stages\[2\].channels: must be a positive integer"),
        ("{channels: 24, stride: 2,", "{channels: 24, stride: 3,", r"stages\[2\].stride: must be 1 or 2"),
        ("{channels: 24, stride: 2,", "{stride: 2,", r"stages\[2\]: missing key 'channels'"),
        ("resolution: [32, 48]", "resolution: [4, 48]", r"resolution: 4 is not allowed \(input: resolution 4 collapses"),
        ("width: [0.35, 0.5, 1.0]", "width: [0.35, -0.5]", "width: values must be positive"),
        ("stem: {channels: 16,", "stem: {channels: 12,", "stem: channels must be divisible by 8"),
    ],
)
def test_bad_yaml_is_rejected_naming_the_key(old, new, message):
    with pytest.raises(SearchSpaceError, match=message):
        SearchSpace.from_yaml(_yaml_with(old, new))


def test_bad_yaml_documents_are_rejected():
    with pytest.raises(SearchSpaceError, match="invalid YAML"):
        SearchSpace.from_yaml("stages: [\n")
    with pytest.raises(SearchSpaceError, match="search space must be a mapping"):
        SearchSpace.from_yaml("- 1\n- 2\n")
    with pytest.raises(SearchSpaceError, match="search space: missing key 'stages'"):
        SearchSpace.from_yaml("name: x\n")


def test_from_yaml_reads_a_file(tmp_path, tiny):
    path = tmp_path / "space.yaml"
    path.write_text(TINY_YAML)
    assert SearchSpace.from_yaml(path) == tiny
    assert SearchSpace.from_yaml(str(path)) == tiny
