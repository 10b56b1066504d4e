"""The action page (aggregates only, escaped, every allowed action a labelled form) and its
forms (bound to the link, expiring, same-site)."""

from __future__ import annotations

import datetime as dt

import pytest

from stream.actions.forms import FORM_LIFETIME, issue_form, read_form, same_site
from stream.actions.links import ACTIONS
from stream.actions.page import page_for, refused, render, step_of
from stream.actions.tokens import ActionKeys, Grant, TokenRefused
from stream.core.reason_text import cause
from stream.core.state import LearnerState
from stream.worker.actions_web import intervention_of
from tests.kit import POLICY, profile

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
KEYS = ActionKeys([ActionKeys.generate()])
GRANT = Grant(
    transition_id="t1", learner_id="ana@example.com", recipient="manager", recipient_id="m1",
    team="t1", actions=("conversation_held", "support_plan", "not_useful"),
    expires=NOW + dt.timedelta(days=14),
)  # fmt: skip


def state(name: str = "Ana Example", tier: int = 2) -> LearnerState:
    who = profile("ana@example.com", "sales_rep", name=name, email="ana@example.com")
    return LearnerState(
        learner_id="ana@example.com", profile=who, tier=tier,
        tier_since=NOW - dt.timedelta(days=3), follow_up_due=dt.date(2026, 3, 9),
        reasons=[cause("still_down", {"week": 2934})],
    )  # fmt: skip


def test_the_page_shows_who_why_what_next_and_a_labelled_form_per_allowed_action():
    html = render(page_for(GRANT, state(), POLICY, NOW, form="F"))
    assert "Ana Example" in html
    assert "follow up by <strong>2026-03-09</strong>" in html
    assert 'aria-current="step">conversation<' in html
    assert html.count('<form method="post"') == 3
    assert html.count('name="form" value="F"') == 3
    assert '<label for="held-on">' in html
    assert "ana@example.com" not in html  # the learner's id and contacts never show


def test_names_are_escaped():
    html = render(page_for(GRANT, state(name="<script>alert(1)</script>"), POLICY, NOW, "F"))
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("tier", "last", "step"),
    [(0, None, "observe"), (1, None, "nudge"), (2, None, "conversation"),
     (2, "support_plan", "support plan"), (3, "conversation_held", "escalate")],
)  # fmt: skip
def test_the_decision_tree_step(tier: int, last: str | None, step: str):
    s = state(tier=tier)
    s.last_intervention = last
    assert step_of(s) == step


@pytest.mark.parametrize("why", ["expired", "invalid", "other_team", "form", "unknown"])
def test_refusals_are_clear_pages_with_4xx(why: str):
    status, html = refused(why)
    assert 400 <= status < 500
    assert "<h1>" in html
    assert "Traceback" not in html


def test_a_form_token_is_bound_to_its_link_and_expires():
    form = issue_form(KEYS, "link-a", NOW)
    assert read_form(KEYS, form, "link-a", NOW).nonce
    with pytest.raises(TokenRefused):
        read_form(KEYS, form, "link-b", NOW)  # a form of another link
    with pytest.raises(TokenRefused):
        read_form(KEYS, form, "link-a", NOW + FORM_LIFETIME)
    with pytest.raises(TokenRefused):
        read_form(KEYS, form[:-3] + "abc", "link-a", NOW)
    assert issue_form(KEYS, "link-a", NOW) != form  # a nonce per page


@pytest.mark.parametrize(
    ("origin", "site", "ok"),
    [
        ("https://tierwatch.example.com", "same-origin", True),
        (None, None, True),  # curl: the form token still holds
        ("https://evil.example.net", "cross-site", False),
        ("https://evil.example.net", None, False),
        (None, "cross-site", False),
        ("null", None, False),
    ],
)
def test_posts_from_another_site_are_refused(origin: str | None, site: str | None, ok: bool):
    assert same_site(origin, site, "https://tierwatch.example.com/act") is ok


def test_a_snooze_asks_for_its_last_day_within_30_days_and_records_it():
    """The manager's page has a snooze form with a date; a day from tomorrow to 30 days
    ahead is recorded as `on`; today, or later than 30 days, is refused with a sentence."""
    grant = GRANT.model_copy(update={"actions": ACTIONS["manager"]})
    page = render(page_for(grant, state(), POLICY, NOW, "f"))
    assert 'id="snooze-until" name="on"' in page
    assert 'value="snoozed"' in page
    today = NOW.date()
    made = intervention_of(
        grant, {"action": "snoozed", "on": str(today + dt.timedelta(days=30))}, "tok", NOW, today
    )
    assert not isinstance(made, str)
    assert (made.kind, made.on) == ("snoozed", today + dt.timedelta(days=30))
    for bad in (today, today + dt.timedelta(days=31)):
        refused_ = intervention_of(grant, {"action": "snoozed", "on": str(bad)}, "tok", NOW, today)
        assert isinstance(refused_, str)
        assert "Please give a date from" in refused_
