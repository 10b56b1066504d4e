"""The action link of a real email in a real browser (issue 13, item 5): Debian's chromium
driven by Playwright for Python, against a real worker on the embedded broker.

A manager opens the link from the outreach email, records a conversation (a date), sees
"Recorded", and the intervention reaches the topic and the learner's state, and the
on-time count moves; then a support plan moves the follow-up and the decision tree on.
Also: keyboard only, a double click, back and submit again, the pages of tampered,
expired and other-team links, and axe-core's accessibility rules (no serious or critical
violation).

Needs /usr/bin/chromium (Debian's `chromium`), the `playwright` package (never its browser
download) and axe-core from npm (`.venv/node_modules/axe-core/axe.min.js`, or the path in
TIERWATCH_AXE_JS): .ci/run installs all three. Without them these tests skip, except in CI
(CI=true), where they fail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from stream.actions.page import LABELS, REFUSALS
from stream.core.step import intervention_key
from tests.browser_kit import Learner, World, running, tampered, wait_until
from tests.browser_tools import ARGS, AXE, CHROMIUM, require

try:
    from playwright.async_api import Page, async_playwright, expect
except ImportError:  # reported by the `tools` fixture: a skip, or a failure in CI
    async_playwright = None

pytestmark = pytest.mark.broker

FAY = Learner("u-fay", "Fay Wray", "fay.wray@example.com")
GUS = Learner("u-gus", "Gus Grissom", "gus.grissom@example.com")
HAL = Learner("u-hal", "Hal Holbrook", "hal.holbrook@example.com")
IDA = Learner("u-ida", "Ida Lupino", "ida.lupino@example.com")
CONVERSATION = LABELS["conversation_held"]


@pytest.fixture(scope="module")
def tools() -> None:
    """What the browser tests need: a skip without it, a failure in CI."""
    require()


@pytest.fixture(scope="module")
def world(tools, broker, tmp_path_factory) -> Iterator[World]:
    unique = f"t{uuid.uuid4().hex[:8]}"
    with running(broker, unique, tmp_path_factory.mktemp("browser"), [FAY, GUS, HAL, IDA]) as w:
        yield w


@pytest.fixture
async def browser(tools) -> AsyncIterator:
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser) -> Page:
    return await browser.new_page()


async def recorded(world: World, learner: str, before: dict[int, int], count: int = 1) -> list:
    """The learner's interventions on the topic after `before`, once `count` arrived."""
    items = await asyncio.to_thread(world.since, before, count)
    return [i for i in items if i.learner_id == learner]


async def stored(world: World, learner: str, kind: str):
    """The learner's stored state, once it shows `kind` as the last intervention."""
    return await asyncio.to_thread(
        wait_until,
        lambda: (s := world.state(learner)).last_intervention == kind and s,
        f"{learner}'s stored state to show {kind}",
    )


async def posting(page: Page, act: Callable[[], Awaitable[None]], kind: str) -> None:
    """Do what submits a form; its POST must be answered 303, then the page says `kind`."""
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await act()
    response = await answer.value
    if response.status != 303:
        heading = re.search(r"<h1>(.*?)</h1>", await response.text())
        raise AssertionError(f"the form was answered {response.status}: {heading}")
    await page.wait_for_url(re.compile(rf"\?done={kind}$"))


async def submit(page: Page, button_name: str, kind: str) -> None:
    """Click a form's button; wait for the redirect to the page that says it."""
    await posting(page, page.get_by_role("button", name=button_name).click, kind)


def conversations(world: World, learner: str, outcome: str) -> float:
    profile = world.state(learner).profile
    assert profile is not None
    assert profile.team is not None
    return world.metric(
        "tierwatch_conversations_total", outcome=outcome, role=profile.role, team=profile.team
    )


async def test_a_manager_records_a_conversation_and_then_a_support_plan(world, page):
    """Open the email's link, give yesterday as the conversation's date, submit: "Recorded"
    after the redirect, the intervention (with that date) on the topic and in the learner's
    state, and the conversation counted on time or late (by the outreach's follow-up date);
    a support plan then moves the follow-up to its date and the decision tree on."""
    outreach = world.outreach[FAY.id]
    before = await asyncio.to_thread(world.mark)
    response = await page.goto(world.links[FAY.id])
    assert response is not None
    assert response.status == 200
    await expect(page.get_by_role("heading", level=1)).to_contain_text(FAY.name)
    await expect(page.locator('[aria-current="step"]')).to_have_text("conversation")
    date = page.get_by_label("Date of the conversation")
    held_on = dt.date.fromisoformat(await date.get_attribute("max")) - dt.timedelta(days=1)
    assert outreach.follow_up_due is not None
    outcome = "on_time" if held_on <= outreach.follow_up_due else "late"
    counted = await asyncio.to_thread(conversations, world, FAY.id, outcome)
    await date.fill(held_on.isoformat())
    await submit(page, CONVERSATION, "conversation_held")
    await expect(page.get_by_role("status")).to_contain_text(f"Recorded: {CONVERSATION}")

    (item,) = await recorded(world, FAY.id, before)
    assert (item.kind, item.on) == ("conversation_held", held_on)
    assert item.transition_id == outreach.id
    state = await stored(world, FAY.id, "conversation_held")
    assert state.seen_interventions.count(intervention_key(item)) == 1
    await asyncio.to_thread(
        wait_until,
        lambda: conversations(world, FAY.id, outcome) == counted + 1,
        f"the conversation counted {outcome}",
    )

    follow = page.get_by_label("Follow-up date")
    due = dt.date.fromisoformat(await follow.get_attribute("min")) + dt.timedelta(days=7)
    await follow.fill(due.isoformat())
    await submit(page, LABELS["support_plan"], "support_plan")
    await stored(world, FAY.id, "support_plan")
    view = await asyncio.to_thread(world.learner_view, FAY.id)
    assert view["follow_up_due"] == due.isoformat()
    await page.reload()
    await expect(page.locator('[aria-current="step"]')).to_have_text("support plan")
    await expect(page.get_by_text(f"follow up by {due.isoformat()}")).to_be_visible()


async def test_keyboard_only_tab_to_the_date_and_the_button_enter_submits(world, page):
    """Tab reaches the conversation's date field, then its submit button (with a visible
    focus outline); Enter submits and records the conversation with today's date."""
    before = await asyncio.to_thread(world.mark)
    await page.goto(world.links[GUS.id])

    async def tab_until(script: str) -> int:
        for presses in range(1, 60):
            await page.keyboard.press("Tab")
            if await page.evaluate(f"() => {{ const e = document.activeElement; {script} }}"):
                return presses
        raise AssertionError(f"Tab never reached: {script}")

    await tab_until("return e.id === 'held-on'")
    today = await page.get_attribute("#held-on", "value")
    await tab_until(f"return e.tagName === 'BUTTON' && e.textContent === {CONVERSATION!r}")
    outline = await page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    await posting(page, lambda: page.keyboard.press("Enter"), "conversation_held")
    await expect(page.get_by_role("status")).to_contain_text("Recorded")
    (item,) = await recorded(world, GUS.id, before)
    assert item.kind == "conversation_held"
    assert item.on is not None
    assert item.on.isoformat() == today


async def test_a_double_click_on_submit_records_one_intervention(world, page):
    """Two clicks as fast as a mouse gives them: whatever the browser posts, every record
    on the topic has one id, and the learner's state holds it once."""
    before = await asyncio.to_thread(world.mark)
    await page.goto(world.links[HAL.id])
    await posting(page, page.get_by_role("button", name=CONVERSATION).dblclick, "conversation_held")
    items = await recorded(world, HAL.id, before)
    assert len({i.id for i in items}) == 1
    state = await stored(world, HAL.id, "conversation_held")
    assert state.seen_interventions.count(intervention_key(items[0])) == 1


async def test_submit_go_back_and_submit_again_records_one_intervention(world, page):
    """Submit, the browser's Back button, submit the same form again: one intervention."""
    before = await asyncio.to_thread(world.mark)
    await page.goto(world.links[IDA.id])
    await submit(page, CONVERSATION, "conversation_held")
    await page.go_back()
    await submit(page, CONVERSATION, "conversation_held")
    items = await recorded(world, IDA.id, before, count=2)
    assert len({i.id for i in items}) == 1


async def test_tampered_expired_and_other_team_links_show_their_page_with_a_4xx(world, page):
    """Each refusal is a page with its heading and the issue's status, and no form."""
    link = world.links[FAY.id]
    cases = {
        "invalid": (tampered(link), 400),
        "expired": (world.link(FAY.id, expires=world.outreach[FAY.id].at), 410),
        "other_team": (world.link(FAY.id, recipient_id="m2"), 403),
    }
    for why, (url, status) in cases.items():
        response = await page.goto(url)
        assert response is not None
        assert (why, response.status) == (why, status)
        await expect(page.get_by_role("heading", level=1)).to_have_text(REFUSALS[why][1])
        assert await page.locator("form").count() == 0


async def test_the_pages_have_no_serious_accessibility_violation(world, browser):
    """axe-core (served from the local npm install) finds nothing serious or critical on
    the action page, the page saying what was recorded, and a refusal page."""
    page = await browser.new_page(bypass_csp=True)  # the page's CSP forbids injected scripts
    link = world.links[IDA.id]
    found: dict[str, list] = {}
    for url in (link, f"{link}?done=conversation_held", tampered(link)):
        await page.goto(url)
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate("async () => await axe.run()")
        assert result["passes"], "axe ran no rule"
        found[url] = result["violations"]
    for url, violations in found.items():
        for v in violations:
            print(f"axe {v['impact']}: {v['id']} ({len(v['nodes'])}) on {url[-12:]}")
    serious = [
        (v["id"], v["impact"])
        for violations in found.values()
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []


async def test_a_manager_uses_the_team_view_with_the_keyboard_at_phone_width(world, browser):
    """The team view at 375 px: no sideways scroll of the page; Tab reaches the filter,
    arrow keys choose "With something due", Enter on Apply applies it (a GET: the query names it);
    a learner's name opens their action page; axe-core finds nothing serious or critical."""
    page = await browser.new_page(viewport={"width": 375, "height": 740}, bypass_csp=True)
    link = world.team_link()
    want = sorted(w.name for w in (FAY, GUS, HAL, IDA))

    async def names() -> list[str]:
        await page.goto(link)
        cells = await page.locator("tbody th[scope=row] a").all_inner_texts()
        return sorted(cells)

    deadline = asyncio.get_running_loop().time() + 60
    while await names() != want:
        assert asyncio.get_running_loop().time() < deadline, await names()
        await asyncio.sleep(0.5)
    wide = await page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= 375, f"the page scrolls sideways at phone width ({wide} px)"
    for _ in range(40):
        await page.keyboard.press("Tab")
        if await page.evaluate("() => document.activeElement.id === 'show'"):
            break
    else:
        raise AssertionError("Tab never reached the filter")
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")
    assert await page.input_value("#show") == "due"
    await page.keyboard.press("Tab")  # the order
    await page.keyboard.press("Tab")  # Apply
    assert await page.evaluate("() => document.activeElement.textContent") == "Apply"
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"\?show=due&sort=due$"))
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("async () => await axe.run()")
    assert result["passes"], "axe ran no rule"
    serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
    await page.get_by_role("link", name=HAL.name).click()
    await expect(page.locator("h1")).to_contain_text(HAL.name)
    assert "/act/" in page.url
