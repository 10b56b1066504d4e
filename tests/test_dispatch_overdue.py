"""Dispatch planning of an overdue follow-up (`stream.dispatch.overdue`): the reminder to
the manager, the escalation to HR and the manager, on which channels, with the action link,
and nothing private."""

from __future__ import annotations

import datetime as dt

from schemas.reminders import FollowUpOverdue
from schemas.transitions import Reason
from stream.dispatch.config import parse_dispatch
from stream.dispatch.overdue import plan_overdue
from stream.dispatch.privacy import ALLOWED_KEYS
from tests.kit import day
from tests.test_dispatch_plan import ANA, CONFIG, TEMPLATES
from tests.test_reminders import arrived, tick_days

LINK = "https://tierwatch.example.com/act/gAAAAB-token"


def chased() -> tuple[FollowUpOverdue, FollowUpOverdue, list[Reason]]:
    """The reminder and the escalation of the sales rep's arrival (`tests.test_reminders`)."""
    timeline, _ = arrived()
    out = tick_days(timeline, day(5, 2), day(6, 2))
    reminder, escalation = [o for o in out if isinstance(o, FollowUpOverdue)]
    reasons = [c.as_reason() for c in timeline.states["p"].reasons]
    return reminder, escalation, reasons


def links_for(role: str) -> dict[str, str]:
    return {"act": f"{LINK}-{role}"}


def test_the_reminder_goes_to_the_manager_with_the_link_to_record_the_conversation():
    reminder, _, reasons = chased()
    result = plan_overdue(reminder, ANA, reasons, CONFIG, TEMPLATES, links_for=links_for)
    assert not result.missing
    assert {(p.role, p.message.channel) for p in result.messages} == {
        ("manager", c) for c in ("hooks", "chat", "teams", "mail")
    }
    mail = next(p.message for p in result.messages if p.message.channel == "mail")
    assert mail.recipient == "ben@example.com"
    assert mail.id == reminder.id
    assert mail.route == "follow_up_reminder"
    assert f"{LINK}-manager" in mail.text
    assert reminder.talk_by.isoformat() in mail.text
    assert mail.subject == "Reminder: your check-in with Ana Lima is not recorded yet"
    assert mail.payload["links"]["act"] == f"{LINK}-manager"


def test_the_escalation_goes_to_hr_of_the_team_and_the_manager():
    """HR first (its message id is the follow-up's), the manager informed (id + role);
    each with their own link; HR's message names the day the manager was reminded."""
    _, escalation, reasons = chased()
    result = plan_overdue(escalation, ANA, reasons, CONFIG, TEMPLATES, links_for=links_for)
    assert not result.missing
    mails = {p.role: p.message for p in result.messages if p.message.channel == "mail"}
    assert set(mails) == {"hr", "manager"}
    assert (mails["hr"].recipient, mails["hr"].id) == ("hr-t1@example.com", escalation.id)
    assert mails["manager"].id == f"{escalation.id}.manager"
    assert f"{LINK}-hr" in mails["hr"].text
    assert f"{LINK}-manager" in mails["manager"].text
    assert escalation.reminded_on is not None
    assert f"reminded on {escalation.reminded_on.isoformat()}" in mails["hr"].text
    assert all(r.text in mails["hr"].text for r in reasons)


def test_a_follow_up_route_of_its_own_wins_and_an_empty_one_sends_nothing():
    reminder, escalation, reasons = chased()
    own = CONFIG.model_copy(update={"routes": {**CONFIG.routes, "follow_up_reminder": ["mail"]}})
    assert [
        p.message.channel for p in plan_overdue(reminder, ANA, reasons, own, TEMPLATES).messages
    ] == ["mail"]
    off = CONFIG.model_copy(update={"routes": {**CONFIG.routes, "follow_up_overdue": []}})
    result = plan_overdue(escalation, ANA, reasons, off, TEMPLATES)
    assert result.messages == []
    assert result.skipped == ["no channel for follow_up_overdue"]


def test_the_channels_default_to_the_outreach_and_the_escalation():
    """A configuration that names no follow-up route: the reminder on the outreach's
    channels, the escalation on the escalation's."""
    config = parse_dispatch(
        {
            "channels": {
                "hooks": {
                    "type": "webhook",
                    "url": "https://notify.example.com/hook",
                    "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
                },
                "chat": {"type": "slack", "url": "https://hooks.slack.example.com/T1/B2/x"},
                "mail": {"type": "email", "host": "127.0.0.1", "sender": "t@example.com"},
            },
            "routes": {"manager_outreach": ["chat"], "hr_escalation": ["mail", "hooks"]},
            "hr": {"default": "hr@example.com"},
        }
    )
    reminder, escalation, reasons = chased()
    assert {
        p.message.channel for p in plan_overdue(reminder, ANA, reasons, config, TEMPLATES).messages
    } == {"chat"}
    assert {
        (p.role, p.message.channel)
        for p in plan_overdue(escalation, ANA, reasons, config, TEMPLATES).messages
    } == {("hr", "mail"), ("hr", "hooks"), ("manager", "mail"), ("manager", "hooks")}


def test_nothing_private_leaves():
    """Allow-listed keys only, no time of day, no id but the follow-up's: the arrival's
    transition id stays inside the signed link."""
    for overdue in chased()[:2]:
        result = plan_overdue(overdue, ANA, chased()[2], CONFIG, TEMPLATES, links_for=links_for)
        for planned in result.messages:
            payload = planned.message.payload
            assert set(payload) <= ALLOWED_KEYS
            assert overdue.transition_id not in planned.message.text
            assert overdue.transition_id not in str(payload)
            assert "00:00" not in planned.message.text
            assert payload["date"] == overdue.at.date().isoformat()


def test_a_message_the_privacy_scan_refuses_is_missing_not_sent():
    """A roster name carrying an e-mail address is refused, as for transitions."""
    reminder, _, reasons = chased()
    leaky = ANA.model_copy(update={"name": "ana.lima@private.example.org"})
    result = plan_overdue(reminder, leaky, reasons, CONFIG, TEMPLATES)
    assert result.messages == []
    assert {m.reason.split(":")[0] for m in result.missing} == {"privacy"}


def test_the_date_of_a_message_is_the_day_it_was_found_due():
    reminder, _, reasons = chased()
    result = plan_overdue(reminder, ANA, reasons, CONFIG, TEMPLATES)
    assert result.messages[0].message.payload["date"] == dt.date(2026, 2, 14).isoformat()
