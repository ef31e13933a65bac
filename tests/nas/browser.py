"""Headless Debian Chromium for the report tests: load a page from disk offline, read the DOM,
the console messages and a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Every host name fails to resolve: the page must not need the network.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=10000",
    "--window-size=1280,1400",
]


def _run(page: Path, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )


def dump_dom(page: Path) -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and the console messages Chromium logged."""
    result = _run(page, "--enable-logging=stderr", "--v=0", "--dump-dom")
    if result.returncode != 0:
        raise RuntimeError(f"chromium failed ({result.returncode}): {result.stderr[-2000:]}")
    console = [line for line in result.stderr.splitlines() if re.search(r":CONSOLE[:(]", line)]
    return result.stdout, console


def screenshot(page: Path, out: Path) -> Path:
    result = _run(page, f"--screenshot={out}")
    if result.returncode != 0 or not out.exists():
        raise RuntimeError(f"chromium screenshot failed ({result.returncode}): {result.stderr[-2000:]}")
    return out
