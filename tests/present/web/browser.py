"""A real headless Chromium for the page tests: required (not skipped) where
``REQUIRE_SYSTEM_TOOLS`` is set, as in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if CHROMIUM is None and os.environ.get("REQUIRE_SYSTEM_TOOLS"):
    raise RuntimeError("chromium is required (make system-deps installs it)")

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")


def dump_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (eight seconds of virtual time)."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=8000",
         "--dump-dom", url],
        capture_output=True, text=True, timeout=90)
    return result.stdout
