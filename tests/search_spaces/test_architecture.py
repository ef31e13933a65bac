"""Architecture values: string / JSON round trips, validation errors, stride adaptation."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from search_spaces import (
    Architecture,
    ArchitectureError,
    HeadSpec,
    StageSpec,
    StemSpec,
    effective_strides,
    feature_sizes,
    get_baseline,
)
from search_spaces.space import SearchSpace
from tests.search_spaces.helpers import random_architecture

MOBILENET_V2_1_0 = get_baseline("mobilenet_v2_1.0")


def _sampled() -> list[Architecture]:
    rng = random.Random(20260512)
    space = SearchSpace.default()
    archs = [random_architecture(rng) for _ in range(300)]
    for _ in range(200):
        params = {c.name: rng.choice(c.values) for c in space.parameters()}
        archs.append(space.architecture(params))
    return archs


SAMPLED = _sampled()


def test_string_round_trip_is_exact_over_sampled_architectures():
    for arch in SAMPLED:
        text = arch.to_string()
        parsed = Architecture.from_string(text)
        assert parsed == arch, text
        assert parsed.to_string() == text


def test_json_round_trip_is_exact_over_sampled_architectures():
    for arch in SAMPLED:
        data = json.loads(json.dumps(arch.to_json()))
        assert data["format_version"] == 1
        assert Architecture.from_json(data) == arch


def test_sampled_architectures_cover_every_block_kind_and_token():
    texts = " ".join(a.to_string() for a in SAMPLED)
    for token in ("ir_", "er_", "_se0.25", "_se0.00001", "_noskip", "_skipall", "_hswish", "_swish"):
        assert token in texts


def test_string_form_of_mobilenet_v2_reads_like_timm():
    text = MOBILENET_V2_1_0.to_string()
    assert text.startswith("in224x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_relu6-")
    assert "-ir_r2_k3_s2_e6_c24_relu6-" in text
    assert text.endswith("-head_c1280_relu6-cls1000")


def test_from_string_accepts_optional_tokens_in_any_order_and_normalizes():
    arch = Architecture.from_string(
        "in64x1-stem_c16_k3_s2_hswish-er_swish_c24_se0.250_e4_s2_k3_r2-head_c64_d0.20_relu6-cls10"
    )
    assert arch.stages[0] == StageSpec("fused_mbconv", 4, 3, 24, 2, 2, 0.25, "swish")
    assert arch.to_string() == (
        "in64x1-stem_c16_k3_s2_hswish-er_r2_k3_s2_e4_c24_se0.25_swish-head_c64_d0.2_relu6-cls10"
    )


def test_with_input_changes_only_the_input():
    arch = MOBILENET_V2_1_0.with_input(resolution=32, channels=1, num_classes=10)
    assert (arch.resolution, arch.channels, arch.num_classes) == (32, 1, 10)
    assert arch.stages == MOBILENET_V2_1_0.stages
    assert arch.stem == MOBILENET_V2_1_0.stem and arch.head == MOBILENET_V2_1_0.head


def test_architecture_is_frozen_and_hashable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        MOBILENET_V2_1_0.resolution = 96  # type: ignore[misc]
    assert len({MOBILENET_V2_1_0, get_baseline("mobilenet_v2_1.0")}) == 1


# ----- stride adaptation ---------------------------------------------------------------------
def test_mobilenet_v2_at_224_keeps_all_strides():
    assert effective_strides(MOBILENET_V2_1_0) == (1, 2, 2, 2, 1, 2, 1)
    assert feature_sizes(MOBILENET_V2_1_0) == (112, 112, 56, 28, 14, 14, 7, 7)


@pytest.mark.parametrize("resolution", [96, 128, 160, 192, 224])
def test_mobilenet_v2_keeps_all_strides_at_its_published_input_sizes(resolution):
    arch = MOBILENET_V2_1_0.with_input(resolution=resolution)
    assert effective_strides(arch) == (1, 2, 2, 2, 1, 2, 1)
    assert feature_sizes(arch)[-1] == -(-resolution // 32)


@pytest.mark.parametrize(
    "resolution, strides, last_px",
    [(32, (1, 2, 2, 1, 1, 1, 1), 4), (48, (1, 2, 2, 2, 1, 1, 1), 3), (64, (1, 2, 2, 2, 1, 1, 1), 4)],
)
def test_small_inputs_drop_the_latest_stride_2_stages(resolution, strides, last_px):
    arch = MOBILENET_V2_1_0.with_input(resolution=resolution)
    assert effective_strides(arch) == strides
    assert feature_sizes(arch)[-1] == last_px


# ----- validation: one test per kind of bad input -------------------------------------------
def _stage(**overrides):
    values = dict(block="mbconv", expansion=6, kernel=3, channels=24, repeats=2, stride=2)
    values.update(overrides)
    return values


def _replace_stage(text_arch: Architecture, index: int, **overrides) -> Architecture:
    stages = list(text_arch.stages)
    stages[index] = dataclasses.replace(stages[index], **overrides)
    return dataclasses.replace(text_arch, stages=tuple(stages))


@pytest.mark.parametrize("field", ["expansion", "kernel", "channels", "repeats"])
@pytest.mark.parametrize("value", [0, -8])
def test_non_positive_stage_sizes_are_rejected_naming_the_field(field, value):
    with pytest.raises(ArchitectureError, match=f"stage: {field} must be a positive integer"):
        StageSpec(**_stage(**{field: value}))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"resolution": 0}, "input: resolution must be a positive integer"),
        ({"channels": -1}, "input: channels must be a positive integer"),
        ({"num_classes": 0}, "classes: num_classes must be a positive integer"),
    ],
)
def test_non_positive_input_sizes_are_rejected(kwargs, message):
    with pytest.raises(ArchitectureError, match=message):
        dataclasses.replace(MOBILENET_V2_1_0, **kwargs)


def test_non_positive_sizes_in_the_string_name_the_stage():
    text = MOBILENET_V2_1_0.to_string().replace("ir_r3_k3_s2_e6_c32", "ir_r0_k3_s2_e6_c32")
    with pytest.raises(ArchitectureError, match=r"^stage 3: repeats must be a positive integer"):
        Architecture.from_string(text)


def test_even_kernels_are_rejected():
    with pytest.raises(ArchitectureError, match="stage: kernel must be odd, got 4"):
        StageSpec(**_stage(kernel=4))
    with pytest.raises(ArchitectureError, match="stem: kernel must be odd"):
        StemSpec(kernel=2)
    text = MOBILENET_V2_1_0.to_string().replace("ir_r4_k3", "ir_r4_k4")
    with pytest.raises(ArchitectureError, match=r"^stage 4: kernel must be odd, got 4"):
        Architecture.from_string(text)


def test_channels_not_divisible_by_8_are_rejected():
    with pytest.raises(ArchitectureError, match="stage: channels must be divisible by 8, got 20"):
        StageSpec(**_stage(channels=20))
    with pytest.raises(ArchitectureError, match="stem: channels must be divisible by 8"):
        StemSpec(channels=30)
    with pytest.raises(ArchitectureError, match="head: channels must be divisible by 8"):
        HeadSpec(channels=1004)
    data = MOBILENET_V2_1_0.to_json()
    data["stages"][1]["channels"] = 25
    with pytest.raises(ArchitectureError, match=r"^stage 2: channels must be divisible by 8"):
        Architecture.from_json(data)


def test_spatial_size_collapsing_after_the_stem_is_rejected():
    with pytest.raises(ArchitectureError, match="input: resolution 4 collapses to 2 px after the stem"):
        MOBILENET_V2_1_0.with_input(resolution=4)
    tiny = MOBILENET_V2_1_0.with_input(resolution=5)  # 3 px after the stem, no stage stride left
    assert effective_strides(tiny) == (1, 1, 1, 1, 1, 1, 1)


def test_impossible_skip_is_rejected():
    arch = get_baseline("mobilenet_v2_0.35")
    with pytest.raises(ArchitectureError, match="stage 2: skip='all' is impossible"):
        _replace_stage(arch, 1, skip="all")  # stride 2, 8 -> 8 channels
    with pytest.raises(ArchitectureError, match="stage 3: skip='all' is impossible"):
        _replace_stage(arch, 2, stride=1, skip="all")  # 8 -> 16 channels
    ok = _replace_stage(arch, 1, stride=1, skip="all")  # 8 -> 8 at stride 1
    assert "ir_r2_k3_s1_e6_c8_skipall_relu6" in ok.to_string()


def test_unknown_block_types_are_rejected():
    with pytest.raises(ArchitectureError, match="stage: block must be one of mbconv, fused_mbconv"):
        StageSpec(**_stage(block="conv"))
    text = MOBILENET_V2_1_0.to_string().replace("ir_r2_k3_s2", "xx_r2_k3_s2")
    with pytest.raises(ArchitectureError, match=r"^stage 2: unknown block type 'xx'"):
        Architecture.from_string(text)


@pytest.mark.parametrize(
    "spec, message",
    [
        (lambda: StageSpec(**_stage(stride=3)), "stage: stride must be 1 or 2"),
        (lambda: StageSpec(**_stage(se_ratio=1.5)), "stage: se_ratio must be in"),
        (lambda: StageSpec(**_stage(activation="gelu")), "stage: activation must be one of"),
        (lambda: StageSpec(**_stage(skip="maybe")), "stage: skip must be one of"),
        (lambda: StageSpec(**_stage(expansion=2.5)), "stage: expansion must be a positive integer"),
        (lambda: HeadSpec(dropout=1.0), r"head: dropout must be in \[0, 1\)"),
    ],
)
def test_other_bad_fields_are_rejected(spec, message):
    with pytest.raises(ArchitectureError, match=message):
        spec()


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("in224x3-stem_c32_k3_s2_relu6-head_c1280_relu6-cls10", "needs input-stem-stage"),
        ("in224-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_relu6-head_c8_relu6-cls10", "^input:"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16-head_c8_relu6-cls10", "stage 1: expected exactly one activation"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_x9_relu6-head_c8_relu6-cls10", r"stage 1: unknown token\(s\) \['x9'\]"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_c16_relu6-head_c8_relu6-cls10", "stage 1: missing expansion"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_r2_k3_s1_e1_c16_relu6-head_c8_relu6-cls10", "stage 1: repeats given twice"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_relu6-head_c8_relu6-n10", "^classes:"),
    ],
)
def test_malformed_strings_are_rejected(text, message):
    with pytest.raises(ArchitectureError, match=message):
        Architecture.from_string(text)


def test_json_rejects_unknown_version_and_keys():
    data = MOBILENET_V2_1_0.to_json()
    with pytest.raises(ArchitectureError, match="format_version: expected 1, got 2"):
        Architecture.from_json(data | {"format_version": 2})
    with pytest.raises(ArchitectureError, match=r"architecture: unknown key\(s\) \['extra'\]"):
        Architecture.from_json(data | {"extra": 1})
    data["stages"][0]["kernal"] = 3
    with pytest.raises(ArchitectureError, match=r"stage 1: unknown key\(s\) \['kernal'\]"):
        Architecture.from_json(data)
