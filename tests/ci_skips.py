"""In CI (``CI=true``) a skipped test fails, unless it is marked ``skip_ok_in_ci``.

A test skips when a real component it needs (Chromium, PostgreSQL, Ray, a Debian package) is
missing; locally that is a skip with its reason printed (``pytest -rs``), in CI it must fail the run
so a broken install cannot turn CI green. Skips that do not mean a missing component (a
parametrized case that does not apply, a random draw that made the check moot) are allowed with
``@pytest.mark.skip_ok_in_ci("why")``. Hooks as documented in pytest's "Writing hook functions"
(``pytest_runtest_makereport`` / ``pytest_make_collect_report`` hook wrappers).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

MARKER = "skip_ok_in_ci"


def in_ci() -> bool:
    """True when the run is CI's (``CI=true``, as GitHub Actions and GitLab set it)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def _reason(longrepr: Any) -> str:
    text = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


def _failure(reason: str) -> str:
    return (f"skipped in CI: {reason} -- CI=true turns a skip into a failure (a real component is missing; "
            f"install it in .ci/run, or mark the test @pytest.mark.{MARKER}('why') if the skip is expected)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(reason): this test may skip in CI (no component is missing)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail") or item.get_closest_marker(MARKER):
        return
    report.outcome = "failed"
    report.longrepr = _failure(_reason(report.longrepr))


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    """A whole module skipped at import (``pytest.importorskip``) fails in CI too."""
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped:
        report.outcome = "failed"
        report.longrepr = _failure(_reason(report.longrepr))
