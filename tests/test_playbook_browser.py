"""The playbook's HTML in a real browser (issue 15, items 3 and 6): Debian's chromium driven
by Playwright, the page opened from the file `tierwatch playbook` wrote.

Nothing is fetched but the file itself, no console error, the decision tree's SVG is drawn
with a size, the page does not scroll sideways at a phone's 375 px (the wide tables scroll
inside their own region), and axe-core finds no serious or critical violation. Skips
without chromium, Playwright or axe-core, except in CI (see tests/browser_tools.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from stream.dispatch.config import parse_dispatch
from stream.policyfile import load_policy
from stream.tools.playbook import write
from tests.browser_tools import ARGS, AXE, CHROMIUM, require

try:
    from playwright.async_api import async_playwright
except ImportError:  # reported by `require`
    async_playwright = None

DISPATCH = {
    "channels": {"chat": {"type": "slack", "url": "https://hooks.example.com/x"}},
    "routes": {"manager_outreach": ["chat"], "hr_escalation": ["chat"]},
    "hr": {"default": "hr@example.com", "teams": {"emea": "hr-emea@example.com"}},
    "links": {"portal": "https://learning.example.com/"},
}
STEPS = ("Observe", "Nudge", "Conversation", "Support plan", "Escalate")


@pytest.fixture(scope="module")
def playbook(tmp_path_factory) -> Path:
    """The playbook's HTML, written as the command writes it."""
    require()
    out = tmp_path_factory.mktemp("playbook")
    (page,) = write(load_policy(), out, parse_dispatch(DISPATCH), ("html",))
    return page


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    require()
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def opened(browser: Any, playbook: Path, width: int) -> tuple[Any, list[str], list[str]]:
    """The page at `width` px, with the console errors and the requests made while loading."""
    page = await browser.new_page(viewport={"width": width, "height": 800})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    await page.goto(playbook.as_uri())
    await page.wait_for_load_state("load")
    return page, errors, requests


@pytest.mark.parametrize("width", [375, 1280])
async def test_the_page_loads_alone_and_draws_the_tree(browser, playbook, width):
    """No console error, no request but the file, the SVG drawn (a size, every step's
    name), and no sideways scroll of the page: at 375 px the tables scroll in their region."""
    page, errors, requests = await opened(browser, playbook, width)
    assert errors == []
    assert requests == [playbook.as_uri()]
    box = await page.locator("#tree svg").bounding_box()
    assert box is not None
    assert box["width"] > 200
    assert box["height"] > 300
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width
    drawn = await page.locator("#tree svg").text_content() or ""
    assert all(step in drawn for step in STEPS)
    scroll = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll[0] <= scroll[1] == width
    for region in await page.locator(".scroll").all():
        edge = await region.bounding_box()
        assert edge is not None
        assert edge["x"] + edge["width"] <= width
    if width == 375:  # the roles' table is wider than a phone: its region scrolls, not the page
        roles = page.locator("#roles .scroll")
        widths = await roles.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert widths[0] > widths[1]


async def test_the_text_equivalent_and_the_scripts_are_on_the_page(browser, playbook):
    """The tree in words (as many items as the SVG has steps and more), the outreach script
    and the channel from the dispatch file are visible text."""
    page, _, _ = await opened(browser, playbook, 375)
    items = await page.locator("#tree ol li").all_text_contents()
    assert len(items) > len(STEPS)
    assert items[0].startswith("Observe")
    scripts = await page.locator("#scripts").text_content() or ""
    assert "A suggested conversation" in scripts
    assert "chat (slack)" in (await page.locator("#tiers").text_content() or "")


async def test_no_serious_accessibility_violation(browser, playbook):
    """axe-core (from the local npm install) finds nothing serious or critical, at a phone's
    width and at a desktop's."""
    found = []
    for width in (375, 1280):
        page, _, _ = await opened(browser, playbook, width)
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate("async () => await axe.run()")
        assert result["passes"], "axe ran no rule"
        found.extend((width, v["id"], v["impact"]) for v in result["violations"])
    for width, rule, impact in found:
        print(f"axe {impact}: {rule} at {width} px")
    assert [f for f in found if f[2] in ("serious", "critical")] == []
