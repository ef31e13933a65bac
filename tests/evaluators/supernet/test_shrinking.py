"""Progressive shrinking (Once-for-All, Cai et al. 2020): which subnets each epoch trains, the config's
checks, and a short training that uses it."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest

from evaluators.supernet import SupernetTrainConfig, train_supernet
from evaluators.supernet.layout import SupernetLayout
from evaluators.supernet.spec import elastic_kind
from evaluators.supernet.train import _epoch_codes
from search_spaces import SearchSpace
from tests.evaluators.supernet.test_supernet import DIGITS, RICH_SPACE, TRAIN_CFG, TRAIN_SPACE

STAGE_FIELDS = {"kernel": "kernel", "depth": "repeats", "expansion": "expansion", "se_ratio": "se_ratio",
                "block": "block", "activation": "activation"}


def _varied(layout: SupernetLayout, archs: list, largest) -> set[str]:
    """The kinds in which any of ``archs`` differs from ``largest`` (width: the stages' channels)."""
    kinds = set()
    for arch in archs:
        if arch.resolution != largest.resolution:
            kinds.add("resolution")
        for mine, big in zip(arch.stages, largest.stages):
            kinds |= {kind for kind, field in STAGE_FIELDS.items() if getattr(mine, field) != getattr(big, field)}
            if mine.channels != big.channels:
                kinds.add("width")
    return kinds


def test_kinds_of_the_space_parameters() -> None:
    assert [elastic_kind(n) for n in ("width", "resolution", "stage2_se_ratio", "stage1_block", "stage3_depth")] \
        == ["width", "resolution", "se_ratio", "block", "depth"]


@pytest.mark.parametrize("elastic", [frozenset({"kernel"}), frozenset({"kernel", "depth"}),
                                     frozenset({"kernel", "depth", "expansion", "width"})])
def test_a_phase_varies_only_its_kinds(elastic: frozenset[str]) -> None:
    layout = SupernetLayout(SearchSpace.from_yaml(RICH_SPACE))
    largest = layout.extreme("max")
    rng = random.Random(0)
    samples = [layout.sample(rng, max(layout.space.resolution), elastic) for _ in range(60)]
    assert _varied(layout, samples, largest) == elastic  # every elastic kind varies, no other one
    smallest = layout.extreme("min", elastic)
    assert _varied(layout, [smallest], largest) == elastic
    assert layout.extreme("min", None) == layout.extreme("min")


def test_epochs_follow_the_phases_and_later_epochs_are_the_plain_sandwich() -> None:
    space = SearchSpace.from_yaml(RICH_SPACE)
    layout = SupernetLayout(space)
    cfg = SupernetTrainConfig(epochs=4, batch_size=8, learning_rate=1e-3, shrinking=[[], ["kernel"], ["kernel", "depth"]])
    plain = dataclasses.replace(cfg, shrinking=())
    largest = layout.encode(layout.extreme("max"))
    first = _epoch_codes(layout, cfg, 0, 5)
    assert all(codes == [largest] and sizes == [max(space.resolution)] for codes, sizes in first)
    second = _epoch_codes(layout, cfg, 1, 5)
    assert all(len(codes) == 2 + cfg.sandwich_random_subnets and codes[0] == largest for codes, _ in second)
    assert all(set(sizes) == {max(space.resolution)} for _, sizes in second)  # resolution is not elastic yet
    assert _epoch_codes(layout, cfg, 3, 5) == _epoch_codes(layout, plain, 3, 5)


@pytest.mark.parametrize(("shrinking", "message"), [
    ([["kernal"]], "shrinking, epoch 1: unknown kind(s) ['kernal']; known: resolution, width"),
    ([["kernel", "depth"], ["kernel"]], "shrinking, epoch 2: drops ['depth']; each epoch must keep"),
    ([[], [], []], "shrinking lists 3 epoch(s) of 3: leave at least the last epoch"),
    (["kernel"], "shrinking must be a list of lists of kinds"),
])
def test_bad_shrinking_is_named_in_one_line(shrinking, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        SupernetTrainConfig(epochs=3, batch_size=8, learning_rate=1e-3, shrinking=shrinking)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_config_round_trips_through_json() -> None:
    cfg = SupernetTrainConfig(epochs=3, batch_size=8, learning_rate=1e-3, shrinking=[[], ["kernel"]])
    assert cfg.shrinking == ((), ("kernel",))
    again = SupernetTrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.elastic_at(0) == frozenset() and again.elastic_at(2) is None


def test_a_shrinking_training_trains_the_largest_first_then_resumes_as_configured(tmp_path: Path) -> None:
    space = SearchSpace.from_yaml(TRAIN_SPACE)
    cfg = dataclasses.replace(TRAIN_CFG, shrinking=((),))
    folder = train_supernet(space, DIGITS, cfg, tmp_path / "s", progress=False)
    manifest = json.loads((folder / "supernet.json").read_text())
    assert manifest["finished"] and manifest["config"]["shrinking"] == [[]]
    first, second = manifest["history"]
    # Epoch 1 trains the largest subnet alone: its sandwich loss is the teacher's loss.
    assert first["sandwich_loss"] == pytest.approx(first["teacher_loss"])
    assert second["sandwich_loss"] > second["teacher_loss"]
    assert train_supernet(space, DIGITS, cfg, folder, progress=False) == folder  # the stored config is equal
