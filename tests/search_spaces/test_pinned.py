"""Pinned values users rely on: strides for small inputs, exact MACs / parameters, strict parsing.

The exact MAC counts were cross-checked (once, when pinned) against an independent count over the
layers of ``build_model(arch)`` (Conv2D / DepthwiseConv2D / Dense output shapes); MobileNetV2 1.0 at
224 px is Sandler et al.'s "300M multiply-adds" and Keras Applications' 3,538,984 parameters.
"""

from __future__ import annotations

import dataclasses

import pytest

from search_spaces import (
    Architecture,
    ArchitectureError,
    HeadSpec,
    StageSpec,
    StemSpec,
    arch_cost,
    effective_strides,
    feature_sizes,
    get_baseline,
    trainable_params,
)
from search_spaces.cost import block_layout, se_channels

MOBILENET_V2 = get_baseline("mobilenet_v2_1.0")
# Every block kind the cost model distinguishes: fused with expansion 1 and > 1, both with SE; MBConv
# with expansion 1 + SE and with expansion 6, noskip; odd input size, 7 classes, head dropout.
MIXED = ("in97x3-stem_c16_k3_s2_swish-er_r2_k3_s1_e1_c16_se0.25_swish-er_r2_k5_s2_e4_c24_se0.25_hswish"
         "-ir_r1_k3_s2_e1_c32_se0.5_relu6-ir_r2_k5_s2_e6_c40_noskip_swish-head_c64_d0.2_swish-cls7")
SMALL = "in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_relu6-head_c64_relu6-cls10"


# ----- strides at small inputs: ceil(n / 2) per stride-2 layer, MIN_FEATURE_PX = 3 ----------------
@pytest.mark.parametrize(
    "resolution, strides, sizes",
    [
        (17, (1, 2, 2, 1, 1, 1, 1), (9, 9, 5, 3, 3, 3, 3, 3)),
        (40, (1, 2, 2, 2, 1, 1, 1), (20, 20, 10, 5, 3, 3, 3, 3)),
        (72, (1, 2, 2, 2, 1, 2, 1), (36, 36, 18, 9, 5, 5, 3, 3)),
    ],
)
def test_mobilenet_v2_strides_at_17_40_72_px(resolution, strides, sizes):
    arch = MOBILENET_V2.with_input(resolution=resolution)
    assert effective_strides(arch) == strides
    assert feature_sizes(arch) == sizes


def test_a_stage_keeping_exactly_the_minimum_feature_size_keeps_its_stride():
    # 10 px after a stride-1 stem; 10 -> 5 -> 3 keeps both strides (3 == MIN_FEATURE_PX), the third drops.
    arch = Architecture.from_string(
        "in10x1-stem_c8_k3_s1_relu6-ir_r1_k3_s2_e1_c8_relu6-ir_r1_k3_s2_e1_c8_relu6"
        "-ir_r1_k3_s2_e1_c8_relu6-head_c8_relu6-cls2")
    assert effective_strides(arch) == (2, 2, 1)
    assert feature_sizes(arch) == (10, 5, 3, 3)


# ----- exact costs -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "arch, params, macs, trainable",
    [
        (MOBILENET_V2, 3_538_984, 300_774_272, 3_504_872),
        (MOBILENET_V2.with_input(resolution=113), 3_538_984, 92_406_912, 3_504_872),
        (get_baseline("efficientnet_b0"), 5_330_564, 385_814_752, 5_288_548),
        (Architecture.from_string(MIXED), 147_925, 69_680_376, 145_285),
        # by hand: stem 3*3*3*32*16^2 + depthwise 3*3*32*16^2 + project 32*16*16^2 + head 16*64*16^2 + 64*10
        (Architecture.from_string(SMALL), 3_914, 688_768, 3_626),
    ],
)
def test_exact_params_and_macs(arch, params, macs, trainable):
    cost = arch_cost(arch)
    assert (cost.params, cost.macs, trainable_params(arch)) == (params, macs, trainable)


def test_block_layout_and_se_width():
    arch = Architecture.from_string(MIXED)
    assert block_layout(arch) == [(0, 0, 16, 1), (0, 1, 16, 1), (1, 0, 16, 2), (1, 1, 24, 1), (2, 0, 24, 2),
                                  (3, 0, 32, 2), (3, 1, 40, 1)]
    assert se_channels(24, 0.25) == 6 and se_channels(3, 0.25) == 1 and se_channels(10, 0.19) == 1


# ----- strict values and strings ---------------------------------------------------------------
def _stage(**overrides):
    values = dict(block="mbconv", expansion=6, kernel=3, channels=24, repeats=2, stride=2)
    return values | overrides


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: StemSpec(stride=3), r"^stem: stride must be 1 or 2, got 3$"),
        (lambda: StemSpec(stride=True), r"^stem: stride must be 1 or 2, got True$"),
        (lambda: StemSpec(channels=12), r"^stem: channels must be divisible by 8, got 12$"),
        (lambda: StemSpec(kernel=4), r"^stem: kernel must be odd, got 4$"),
        (lambda: StemSpec(activation="gelu"), r"^stem: activation must be one of relu6, hswish, swish"),
        (lambda: StageSpec(**_stage(se_ratio=True)), r"^stage: se_ratio must be in \[0, 1\], got True$"),
        (lambda: StageSpec(**_stage(se_ratio=-0.1)), r"^stage: se_ratio must be in \[0, 1\], got -0.1$"),
        (lambda: StageSpec(**_stage(repeats=0)), r"^stage: repeats must be a positive integer, got 0$"),
        (lambda: StageSpec(**_stage(expansion=0)), r"^stage: expansion must be a positive integer, got 0$"),
        (lambda: StageSpec(**_stage(expansion=2.5)), r"^stage: expansion must be a positive integer, got 2.5$"),
        (lambda: StageSpec(**_stage(kernel=-3)), r"^stage: kernel must be a positive integer, got -3$"),
        (lambda: StageSpec(**_stage(channels=0)), r"^stage: channels must be a positive integer, got 0$"),
        (lambda: StageSpec(**_stage(skip="maybe")), r"^stage: skip must be one of auto, none, all, got 'maybe'$"),
        (lambda: StageSpec(**_stage(block="conv")), r"^stage: block must be one of mbconv, fused_mbconv, got 'conv'$"),
        (lambda: StageSpec(**_stage(activation="gelu")), r"^stage: activation must be one of relu6, hswish, swish"),
        (lambda: StemSpec(channels=-8), r"^stem: channels must be a positive integer, got -8$"),
        (lambda: HeadSpec(channels=16.0), r"^head: channels must be a positive integer, got 16.0$"),
        (lambda: HeadSpec(activation="relu"), r"^head: activation must be one of relu6, hswish, swish, got 'relu'$"),
        (lambda: MOBILENET_V2.with_input(num_classes=0), r"^classes: num_classes must be a positive integer, got 0$"),
        (lambda: MOBILENET_V2.with_input(resolution=True), r"^input: resolution must be a positive integer, got True$"),
        (lambda: HeadSpec(dropout=True), r"^head: dropout must be in \[0, 1\), got True$"),
        (lambda: HeadSpec(dropout=-0.5), r"^head: dropout must be in \[0, 1\), got -0.5$"),
        (lambda: HeadSpec(dropout=1.0), r"^head: dropout must be in \[0, 1\), got 1.0$"),
        (lambda: StageSpec(**_stage(se_ratio=1.01)), r"^stage: se_ratio must be in \[0, 1\], got 1.01$"),
        (lambda: HeadSpec(channels=100), r"^head: channels must be divisible by 8, got 100$"),
        (lambda: dataclasses.replace(MOBILENET_V2, stages=list(MOBILENET_V2.stages)),
         r"^stages: expected a tuple of StageSpec, got list$"),
        (lambda: dataclasses.replace(MOBILENET_V2, stages=()), r"^stages: at least one stage is required$"),
        (lambda: dataclasses.replace(MOBILENET_V2, stages=(MOBILENET_V2.stem,)),
         r"^stage 1: expected a StageSpec, got StemSpec$"),
        (lambda: dataclasses.replace(MOBILENET_V2, stem=MOBILENET_V2.head), r"^stem: expected a StemSpec, got HeadSpec$"),
        (lambda: dataclasses.replace(MOBILENET_V2, head=MOBILENET_V2.stem), r"^head: expected a HeadSpec, got StemSpec$"),
        (lambda: MOBILENET_V2.with_input(resolution=4), r"^input: resolution 4 collapses to 2 px after the stem "
         r"\(stride 2\); at least 3 px are needed, so resolution must be >= 5$"),
        (lambda: MOBILENET_V2.with_input(channels=0), r"^input: channels must be a positive integer, got 0$"),
    ],
)
def test_bad_values_are_rejected_with_the_field_named(make, message):
    with pytest.raises(ArchitectureError, match=message):
        make()


def test_spec_defaults_are_mobilenet_v2s():
    assert StemSpec() == StemSpec(channels=32, kernel=3, stride=2, activation="relu6")
    assert HeadSpec() == HeadSpec(channels=1280, dropout=0.0, activation="relu6")
    stage = StageSpec(block="mbconv", expansion=6, kernel=3, channels=24, repeats=2, stride=2)
    assert (stage.se_ratio, stage.activation, stage.skip) == (0.0, "relu6", "auto")


def test_the_edges_of_the_ranges_are_accepted():
    assert HeadSpec(dropout=0.0).dropout == 0.0 and HeadSpec(dropout=0.999).dropout == 0.999
    assert StageSpec(**_stage(se_ratio=1.0)).se_ratio == 1.0 and StageSpec(**_stage(se_ratio=0)).se_ratio == 0
    assert StemSpec(channels=8, kernel=1, stride=1).kernel == 1


def test_the_smallest_input_the_stem_allows_is_accepted():
    assert MOBILENET_V2.with_input(resolution=5).resolution == 5
    stem_s1 = Architecture.from_string("in3x1-stem_c8_k3_s1_relu6-ir_r1_k3_s1_e1_c8_relu6-head_c8_relu6-cls2")
    assert feature_sizes(stem_s1) == (3, 3)
    with pytest.raises(ArchitectureError, match="resolution must be >= 3$"):
        stem_s1.with_input(resolution=2)


def test_skip_all_needs_stride_1_and_equal_channels_in_the_first_block():
    ok = "in32x3-stem_c16_k3_s2_relu6-ir_r2_k3_s1_e1_c16_skipall_relu6-head_c64_relu6-cls10"
    assert Architecture.from_string(ok).stages[0].skip == "all"
    for bad in (ok.replace("s1_e1_c16_skipall", "s2_e1_c16_skipall"), ok.replace("e1_c16_skipall", "e1_c24_skipall")):
        with pytest.raises(ArchitectureError, match=r"^stage 1: skip='all' is impossible"):
            Architecture.from_string(bad)
    # a later stage compares with the stage before it, not with the stem
    later = "in32x3-stem_c16_k3_s2_relu6-ir_r1_k3_s1_e1_c24_relu6-ir_r2_k3_s1_e1_c{}_skipall_relu6-head_c64_relu6-cls10"
    assert Architecture.from_string(later.format(24)).stages[1].skip == "all"
    with pytest.raises(ArchitectureError, match=r"^stage 2: skip='all' is impossible, the first block goes from 24 to 16 "):
        Architecture.from_string(later.format(16))


_TAIL = "-ir_r1_k3_s1_e1_c16_relu6-head_c64_relu6-cls10"


@pytest.mark.parametrize(
    "text, message",
    [
        ("in32x3-stem_k3_s2_relu6" + _TAIL, r"^stem: missing channels in 'stem_k3_s2_relu6'$"),
        ("in32x3-stem_c32_s2_relu6" + _TAIL, r"^stem: missing kernel in "),
        ("in32x3-stem_c32_k3_relu6" + _TAIL, r"^stem: missing stride in "),
        ("in32x3-stem_c32_k3_s2_x9_relu6" + _TAIL, r"^stem: unknown token\(s\) \['x9'\] in 'stem_c32_k3_s2_x9_relu6'$"),
        ("in32x3-stem_c32_k3_s2" + _TAIL, r"^stem: expected exactly one activation"),
        ("in32x3-stem_c32_k3_s2_relu6_swish" + _TAIL, r"^stem: expected exactly one activation"),
        ("in32x3-stam_c32_k3_s2_relu6" + _TAIL, r"^stem: expected a part starting with 'stem', got 'stam_c32_k3_s2_relu6'$"),
        ("in32x3-stem_c32_c16_k3_s2_relu6" + _TAIL, r"^stem: channels given twice \('c16'\)$"),
        ("in32x3-stem_c32_k3_s3_relu6" + _TAIL, r"^stem: stride must be 1 or 2, got 3$"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_relu6-head_d0.2_relu6-cls10", r"^head: missing channels in "),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_relu6-head_c64_y_relu6-cls10",
         r"^head: unknown token\(s\) \['y'\] in 'head_c64_y_relu6'$"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_relu6-head_c64-cls10", r"^head: expected exactly one activation"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_relu6-hd_c64_relu6-cls10", r"^head: expected a part starting with 'head'"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_noskip_skipall_relu6-head_c64_relu6-cls10",
         r"^stage 1: more than one skip token in 'ir_r1_k3_s1_e1_c16_noskip_skipall_relu6'$"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_noskip_noskip_relu6-head_c64_relu6-cls10",
         r"^stage 1: more than one skip token"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s3_e1_c16_relu6-head_c64_relu6-cls10", r"^stage 1: stride must be 1 or 2, got 3$"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_relu6-ir_r1_k3_s1_e1_c12_relu6-head_c64_relu6-cls10",
         r"^stage 2: channels must be divisible by 8, got 12$"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_relu6-head_c64_relu6-cls", r"^classes: expected 'cls<num_classes>', got 'cls'$"),
        ("in32x3x1-stem_c32_k3_s2_relu6" + _TAIL, r"^input: expected 'in<resolution>x<channels>', got 'in32x3x1'$"),
        (" \n ", r"^architecture string is empty$"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_c16_relu6-head_c64_relu6-cls10",
         r"^stage 1: missing expansion in 'ir_r1_k3_s1_c16_relu6'$"),
        ("in32x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_x9_relu6-head_c64_relu6-cls10",
         r"^stage 1: unknown token\(s\) \['x9'\] in 'ir_r1_k3_s1_e1_c16_x9_relu6'$"),
        ("in32x3-stem_c32_k3_s2_relu6-xx_r1_k3_s1_e1_c16_relu6-head_c64_relu6-cls10",
         r"^stage 1: unknown block type 'xx' in 'xx_r1_k3_s1_e1_c16_relu6'; expected one of ir \(mbconv\), er \(fused_mbconv\)$"),
        ("in32x3-stem_c32_k3_s2_relu6-head_c64_relu6-cls10",
         r"^architecture string needs input-stem-stage\(s\)-head-classes parts, got 'in32x3-stem_c32_k3_s2_relu6-head_c64"),
        ("in32x3-stem_c32_k3_s2_relu6-cls10", r"^architecture string needs input-stem-stage\(s\)-head-classes parts"),
    ],
)
def test_strict_string_parsing(text, message):
    with pytest.raises(ArchitectureError, match=message):
        Architecture.from_string(text)


def test_optional_tokens_parse_to_their_fields():
    arch = Architecture.from_string("in33x1-stem_c8_k5_s1_hswish-er_r3_k5_s1_e4_c8_se0.25_skipall_swish"
                                    "-ir_r1_k7_s2_e3_c16_noskip_hswish-head_c24_d0.125_swish-cls3")
    assert (arch.resolution, arch.channels, arch.num_classes) == (33, 1, 3)
    assert arch.stem == StemSpec(channels=8, kernel=5, stride=1, activation="hswish")
    assert arch.stages == (
        StageSpec(block="fused_mbconv", expansion=4, kernel=5, channels=8, repeats=3, stride=1, se_ratio=0.25,
                  activation="swish", skip="all"),
        StageSpec(block="mbconv", expansion=3, kernel=7, channels=16, repeats=1, stride=2, activation="hswish",
                  skip="none"),
    )
    assert arch.head == HeadSpec(channels=24, dropout=0.125, activation="swish")
    assert Architecture.from_string(arch.to_string()) == arch


# ----- string and JSON forms (a few architectures; the sampled round trips are in test_architecture) --
_FORMS = [MOBILENET_V2.to_string(), MIXED, SMALL, get_baseline("efficientnet_b0").to_string(),
          "in33x1-stem_c8_k5_s1_hswish-er_r3_k5_s1_e4_c8_se0.00001_skipall_swish-head_c24_d0.125_swish-cls3"]


@pytest.mark.parametrize("text", _FORMS)
def test_string_and_json_round_trips(text):
    arch = Architecture.from_string(text)
    assert arch.to_string() == text and str(arch) == text
    data = arch.to_json()
    assert data["format_version"] == 1 and data["stages"][0] == dataclasses.asdict(arch.stages[0])
    assert Architecture.from_json(data) == arch and hash(Architecture.from_json(data)) == hash(arch)


def test_floats_are_written_short_and_without_exponent():
    head = dataclasses.replace(MOBILENET_V2.head, dropout=0.1 + 0.2)
    assert MOBILENET_V2.to_string().endswith("-head_c1280_relu6-cls1000")
    assert dataclasses.replace(MOBILENET_V2, head=head).to_string().endswith("head_c1280_d0.30000000000000004_relu6-cls1000")
    assert "_se0.00001_" in _FORMS[-1] and "_se1_" in StageSpec(**_stage(se_ratio=1.0)).to_string() + "_"
    assert StageSpec(**_stage(se_ratio=1.0)).to_string() == "ir_r2_k3_s2_e6_c24_se1_relu6"
    assert StageSpec(**_stage(skip="none", activation="swish")).to_string() == "ir_r2_k3_s2_e6_c24_noskip_swish"


def test_with_input_keeps_what_is_not_given():
    arch = MOBILENET_V2.with_input(resolution=96, num_classes=3)
    assert (arch.resolution, arch.channels, arch.num_classes) == (96, 3, 3)
    assert MOBILENET_V2.with_input(channels=1).channels == 1 and MOBILENET_V2.with_input() == MOBILENET_V2


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d | {"format_version": 2}, r"^format_version: expected 1, got 2$"),
        (lambda d: {k: v for k, v in d.items() if k != "format_version"}, r"^format_version: expected 1, got None$"),
        (lambda d: d | {"extra": 1}, r"^architecture: unknown key\(s\) \['extra'\]; allowed: channels, "),
        (lambda d: {k: v for k, v in d.items() if k != "head"}, r"^architecture: missing key\(s\) \['head'\]$"),
        (lambda d: d | {"stages": {"0": 1}}, r"^stages: expected a list$"),
        (lambda d: d | {"stem": [32]}, r"^stem: expected an object, got list$"),
        (lambda d: d | {"stem": d["stem"] | {"stride": 3}}, r"^stem: stride must be 1 or 2, got 3$"),
        (lambda d: d | {"head": {"drop": 0.1}}, r"^head: unknown key\(s\) \['drop'\]; allowed: activation, channels, dropout$"),
        (lambda d: d | {"stages": [d["stages"][0], d["stages"][1] | {"kernel": 4}]}, r"^stage 2: kernel must be odd, got 4$"),
        (lambda d: d | {"stages": [d["stages"][0] | {"kernal": 3}]}, r"^stage 1: unknown key\(s\) \['kernal'\]"),
        (lambda d: d | {"stages": [{"block": "mbconv"}]}, r"^stage 1: missing key\(s\) \['channels', 'expansion', "),
    ],
)
def test_json_errors_name_the_part(change, message):
    with pytest.raises(ArchitectureError, match=message):
        Architecture.from_json(change(MOBILENET_V2.to_json()))
    with pytest.raises(ArchitectureError, match=r"^architecture JSON must be an object, got list$"):
        Architecture.from_json([])
