"""The worker groups of ``make test`` (tests/xdist_groups.py): shared fixtures and Ray stay on one worker."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.xdist_groups import group_of

ROOT = Path(__file__).resolve().parents[1]


def _item(path: str, name: str = "test_x", fixtures: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(path=ROOT / path, name=name, fixturenames=fixtures)


@pytest.mark.parametrize(("item", "group"), [
    (_item("tests/nas/results/test_compare.py", fixtures=("tmp_path", "tiny_search_study")), "tiny_search"),
    (_item("tests/nas/cli/test_supernet_cli.py", fixtures=("tiny_supernet",)), "tiny_supernet"),
    (_item("tests/nas/cluster/test_cluster_search.py"), "ray"),
    (_item("tests/nas/cluster/test_postgres_storage.py", fixtures=("postgres",)), "ray"),
    (_item("tests/nas/strategies/test_strategy_suite.py", name="test_runs_to_the_target[ray]"), "ray"),
    (_item("tests/nas/strategies/test_ray.py"), "ray"),
    (_item("tests/nas/strategies/test_strategy_suite.py", name="test_runs_to_the_target[nsga2]"), None),
    (_item("tests/search_spaces/test_space.py", fixtures=("tmp_path",)), None),
])
def test_group_of(item: SimpleNamespace, group: str | None) -> None:
    assert group_of(item, ROOT) == group  # type: ignore[arg-type]


def test_this_run_marks_the_shared_fixture_tests(request: pytest.FixtureRequest) -> None:
    """In the running session, every collected test of the tiny search carries its group mark."""
    items = [item for item in request.session.items if "tiny_search_study" in getattr(item, "fixturenames", ())]
    marks = {item.get_closest_marker("xdist_group").args for item in items if item.get_closest_marker("xdist_group")}
    assert len(marks) <= 1 and (not items or marks == {("tiny_search",)})
