"""What the real-browser tests need, found once: Debian's chromium (driven by Playwright
for Python, never its browser download) and axe-core from npm. Without them a browser test
skips, except in CI (CI=true), where it fails: .ci/run installs all three."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

try:
    from playwright.async_api import async_playwright
except ImportError:  # reported by `require`: a skip, or a failure in CI
    async_playwright = None

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("TIERWATCH_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(os.environ.get("TIERWATCH_AXE_JS", ROOT / ".venv/node_modules/axe-core/axe.min.js"))
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def missing() -> list[str]:
    gaps = []
    if not CHROMIUM.exists():
        gaps.append(f"{CHROMIUM} (Debian's `chromium` package)")
    if async_playwright is None:
        gaps.append("the `playwright` Python package (the dev extras)")
    if not AXE.exists():
        gaps.append(f"{AXE} (`npm install --prefix .venv axe-core@4`)")
    return gaps


def require() -> None:
    """Skip the test without chromium, Playwright and axe-core; fail in CI."""
    gaps = missing()
    if not gaps:
        return
    why = "missing: " + "; ".join(gaps)
    if os.environ.get("CI", "").lower() in {"true", "1"}:
        pytest.fail(f"{why}; CI must have them: .ci/run installs them")
    pytest.skip(why)
