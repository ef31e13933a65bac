"""Which tests must share one pytest-xdist worker (``make test`` runs ``-n 2 --dist loadgroup``).

Two kinds of tests go to one worker each, as ``xdist_group`` marks (pytest-xdist's ``loadgroup``
distribution): those that read one expensive session fixture (a real tiny search, a tiny trained
supernet), so it is built once and not once per worker; and those that start Ray or PostgreSQL, so
two Ray instances never compete for this machine's two cores and the cluster tests keep their
timing. Every other test goes to whichever worker is free.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# A fixture a test uses -> the group it joins (the first match wins).
FIXTURE_GROUPS = {
    "tiny_search_study": "tiny_search",
    "tiny_supernet": "tiny_supernet",
    "postgres": "ray",
    "ray_session": "ray",
}
RAY_FOLDERS = ("tests/nas/cluster/",)
RAY_FILES = ("tests/nas/strategies/test_ray.py",)


def group_of(item: pytest.Item, root: Path) -> str | None:
    """The worker group of a collected test, or None if it may run anywhere."""
    names = getattr(item, "fixturenames", ())
    for fixture, group in FIXTURE_GROUPS.items():
        if fixture in names:
            return group
    path = Path(str(item.path)).resolve().relative_to(root).as_posix() if item.path else ""
    if path.startswith(RAY_FOLDERS) or path in RAY_FILES or "[ray]" in item.name:
        return "ray"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath)).resolve()
    for item in items:
        group = group_of(item, root)
        if group is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
