"""A manager's team view over HTTP against a real worker (issue 13, item 3).

One worker on the embedded broker streams a history that brings each learner to Tier 2;
the learners' rows reach the teams table through the teams topic, and `GET /team/{token}`
shows them: the manager's learners only, with their tier and the dates due, overdue first;
filters and sorting as GET parameters; a learner who moves to another manager leaves the
view; a tampered or expired link gets its page and a 4xx.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator

import pytest

from stream.actions.page import REFUSALS
from tests.browser_kit import (
    TEAM_LINK,
    Learner,
    World,
    http,
    roster,
    running,
    tampered,
    wait_until,
)

pytestmark = pytest.mark.broker

ANA = Learner("u-ana", "Ana Ivanova", "ana.ivanova@example.com")
BO = Learner("u-bo", "Bo Ek", "bo.ek@example.com")
CY = Learner("u-cy", "Cy Twombly", "cy.twombly@example.com")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
ROW = re.compile(r"<tr[^>]*>\s*<th scope=\"row\">(.*?)</th>", re.S)


@pytest.fixture(scope="module")
def world(broker, tmp_path_factory) -> Iterator[World]:
    unique = f"t{uuid.uuid4().hex[:8]}"
    with running(broker, unique, tmp_path_factory.mktemp("team"), [ANA, BO, CY]) as w:
        yield w


def names_in(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>|\s*overdue", "", cell).strip() for cell in ROW.findall(html)]


def view(link: str) -> str:
    status, headers, body = http("GET", link)
    assert status == 200, body[:500]
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-store"
    return body.decode()


def test_the_managers_view_lists_their_learners_at_tier_2_with_the_dates_due(world):
    html = wait_until(
        lambda: (h := view(world.team_link())) and len(names_in(h)) == 3 and h, "three rows"
    )
    assert sorted(names_in(html)) == sorted(w.name for w in (ANA, BO, CY))
    for who in (ANA, BO, CY):
        due = world.outreach[who.id].follow_up_due
        assert due is not None
        assert due.isoformat() in html
    assert "Tier 2: 3." in html
    assert not EMAIL.search(html)  # nobody's address
    for who in (ANA, BO, CY):
        assert who.id not in html  # names as the roster has them, ids only inside tokens


def test_the_weekly_digest_email_counts_and_links_to_the_team_view(world):
    """Mia's digest of the week (its first tick) counts her people by tier, names nobody,
    and carries a team-view link that opens her view."""
    (text, *_) = wait_until(world.digests, "a weekly digest email")
    assert "at Tier 1" in text or "at Tier 2" in text
    for who in (ANA, BO, CY):
        assert who.name not in text
        assert who.email not in text
    (link,) = TEAM_LINK.findall(text)
    assert link.startswith(f"{world.web}/team/")
    html = view(link)
    assert "people report to you" in html
    assert world.keys.read_team(link.rpartition("/")[2], dt.datetime.now(dt.UTC)).manager_id == "m1"


def test_each_row_links_to_that_learners_action_page(world):
    html = view(world.team_link())
    (token,) = re.findall(r'href="\.\./act/([^"]+)">' + re.escape(BO.name), html)
    status, _, body = http("GET", f"{world.web}/act/{token}")
    assert status == 200
    assert f"<h1>{BO.name}" in body.decode()


def test_filters_and_sorting_are_query_parameters(world):
    link = world.team_link()
    by_name = names_in(view(f"{link}?show=all&sort=name"))
    assert by_name == sorted(by_name, key=str.casefold)
    assert names_in(view(f"{link}?show=flagged"))
    assert names_in(view(f"{link}?show=due"))
    assert names_in(view(f"{link}?sort=%3Cscript%3E")) == names_in(view(link))


def test_another_managers_link_shows_only_their_team(world):
    html = view(world.team_link("m-nobody"))
    assert names_in(html) == []
    assert "0 people report to you" in html


def test_a_learner_moved_to_another_manager_leaves_the_view(world):
    world.send(roster(CY, manager="m2"))
    wait_until(lambda: CY.name not in names_in(view(world.team_link())), "Cy to leave the view")
    assert names_in(view(world.team_link("m2"))) == [CY.name]


def test_tampered_and_expired_team_links_get_a_page_and_a_4xx(world):
    for link, why, status in (
        (tampered(world.team_link()), "invalid", 400),
        (world.team_link(days=-1), "expired", 410),
        (world.links[ANA.id].replace("/act/", "/team/"), "invalid", 400),  # an action link
    ):
        got, _, body = http("GET", link)
        assert got == status
        assert f"<h1>{REFUSALS[why][1]}</h1>" in body.decode()
    assert http("POST", world.team_link(), form={"show": "all"})[0] == 405
