"""tests/ci_skips.py: with CI=true a skip fails the run unless the test is marked skip_ok_in_ci."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CASES = '''
import pytest

def test_needs_a_browser():
    pytest.skip("chromium is not installed")

@pytest.mark.skip_ok_in_ci("the parametrized case does not apply")
def test_allowed():
    pytest.skip("not applicable")

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False

def test_passes():
    assert True
'''
MODULE_SKIP = 'import pytest\nray = pytest.importorskip("no_such_module_w2")\n\ndef test_x():\n    pass\n'


def _run(tmp_path: Path, ci: str | None, source: str = CASES) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(
        "from tests.ci_skips import pytest_configure, pytest_make_collect_report, pytest_runtest_makereport\n")
    (tmp_path / "test_cases.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_outside_ci_skips_are_skips_with_their_reason(tmp_path: Path) -> None:
    run = _run(tmp_path, None)
    assert run.returncode == 0, run.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in run.stdout
    assert "chromium is not installed" in run.stdout  # -rs prints the reason


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_in_ci_a_skip_fails_unless_allowed(tmp_path: Path, ci: str) -> None:
    run = _run(tmp_path, ci)
    assert run.returncode == 1, run.stdout
    assert "FAILED" in run.stdout and "test_needs_a_browser" in run.stdout
    assert "skipped in CI: chromium is not installed" in run.stdout
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed" in run.stdout  # test_allowed still skips
    assert "SKIPPED [1] test_cases.py:9: not applicable" in run.stdout


def test_in_ci_a_module_level_importorskip_fails(tmp_path: Path) -> None:
    assert "1 skipped" in _run(tmp_path, None, MODULE_SKIP).stdout
    run = _run(tmp_path, "true", MODULE_SKIP)
    assert run.returncode != 0 and "skipped in CI: " in run.stdout and "no_such_module_w2" in run.stdout
