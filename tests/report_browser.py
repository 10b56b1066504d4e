"""What every generated report must show in a real browser (issue 15, item 6), shared by
the reports' browser tests: Debian's chromium driven by Playwright opens the file; no
console error or failed request, every plot drawn, readable at phone width (the page never
scrolls sideways; a wide table scrolls in its own box), and axe-core finds no serious or
critical violation. A test module imports these tests and defines its `report` fixture
(the path of the report's index.html)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.test_actions_browser import ARGS, AXE, CHROMIUM, async_playwright, tools  # noqa: F401


@pytest.fixture
async def page_at(tools) -> AsyncIterator:  # noqa: F811
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def _open(browser, report: Path, width: int) -> tuple:
    page = await browser.new_page(viewport={"width": width, "height": 800})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    await page.goto(report.as_uri())
    await page.wait_for_load_state("load")
    return page, errors, failed


async def test_the_report_opens_with_no_error_and_every_plot_drawn(report, page_at):
    """No console error or failed request; each `<svg>` has a size and drawn content."""
    page, errors, failed = await _open(page_at, report, 1280)
    plots = await page.evaluate(
        """() => [...document.querySelectorAll('figure svg')].map(s => {
            const r = s.getBoundingClientRect();
            const shapes = s.querySelectorAll('path,rect,line,text,use').length;
            return {w: r.width, h: r.height, shapes: shapes};
        })"""
    )
    assert len(plots) >= 3
    for plot in plots:
        assert plot["w"] > 100
        assert plot["h"] > 50
        assert plot["shapes"] > 10
    assert errors == []
    assert failed == []


async def test_at_phone_width_the_page_never_scrolls_sideways(report, page_at):
    """375 px: the body is no wider than the window; a wide table scrolls in its box."""
    page, errors, _ = await _open(page_at, report, 375)
    widths = await page.evaluate(
        """() => ({body: document.documentElement.scrollWidth, view: window.innerWidth,
            boxes: [...document.querySelectorAll('.table-box')].map(b =>
                ({client: b.clientWidth, scroll: b.scrollWidth,
                  overflow: getComputedStyle(b).overflowX}))})"""
    )
    assert widths["body"] <= widths["view"]
    assert any(b["scroll"] > b["client"] for b in widths["boxes"]), "no table is wider"
    for box in widths["boxes"]:
        assert box["client"] <= widths["view"]
        assert box["overflow"] == "auto"
    assert errors == []


async def test_the_report_has_no_serious_accessibility_violation(report, page_at):
    """axe-core finds nothing serious or critical, at desktop and at phone width."""
    serious = []
    for width in (1280, 375):
        page, _, _ = await _open(page_at, report, width)
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate("async () => await axe.run()")
        assert result["passes"], "axe ran no rule"
        serious += [
            (v["id"], v["impact"], width)
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
    assert serious == []
