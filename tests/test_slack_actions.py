"""Slack buttons: a message with an action link carries one button per action of its
recipient's role; a click, signed by Slack, records the intervention once and replaces
the buttons with what was recorded."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from urllib.parse import urlencode

import orjson
import pytest

from stream.actions.links import ACTIONS
from stream.actions.slack import SlackRefused, read_click
from stream.actions.tokens import ActionKeys, Grant
from stream.dispatch.chat import slack_body, slack_buttons

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
KEYS = ActionKeys([ActionKeys.generate()])
HOSTS = {"hooks.slack.com"}
TOKEN = KEYS.issue(
    Grant(
        transition_id="t1", learner_id="ana", recipient="manager", recipient_id="m1",
        actions=ACTIONS["manager"], expires=NOW + dt.timedelta(days=14),
    )
)  # fmt: skip


def signed(payload: dict, secret: str = SECRET, at: int | None = None) -> tuple[bytes, str, str]:
    body = urlencode({"payload": orjson.dumps(payload).decode()}).encode()
    timestamp = str(at if at is not None else int(time.time()))
    base = f"v0:{timestamp}:{body.decode()}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return body, timestamp, signature


def click(value: str, url: str = "https://hooks.slack.com/actions/T1/1/x") -> dict:
    return {
        "type": "block_actions",
        "user": {"id": "U1", "name": "maria"},
        "response_url": url,
        "message": {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}},
                               {"type": "actions", "elements": []}]},
        "actions": [{"action_id": "tierwatch.conversation_held", "value": value}],
    }  # fmt: skip


def test_a_managers_message_has_a_button_per_action_the_learners_has_none():
    manager = {"role": "manager", "links": {"act": f"https://tw.example.com/act/{TOKEN}"}}
    buttons = slack_buttons(manager)
    # every action of the link but the snooze (its page asks for the day)
    assert [b["value"].split(" ")[0] for b in buttons] == [
        a for a in ACTIONS["manager"] if a != "snoozed"
    ]
    assert all(b["value"].split(" ")[1] == TOKEN for b in buttons)
    assert all(len(b["text"]["text"]) <= 75 for b in buttons)
    body = slack_body("Subject", "Text", buttons)
    assert body["blocks"][-1]["type"] == "actions"
    assert slack_buttons({"role": "learner", "links": {}}) == []


def test_a_signed_click_records_the_intervention_and_replaces_the_buttons():
    body, ts, sig = signed(click(f"conversation_held {TOKEN}"))
    made = read_click(body, ts, sig, SECRET, KEYS, HOSTS, NOW, TODAY)
    assert made.intervention is not None
    assert (made.intervention.kind, made.intervention.learner_id) == ("conversation_held", "ana")
    assert made.intervention.on == TODAY
    assert made.recipient == "manager"
    again = read_click(body, ts, sig, SECRET, KEYS, HOSTS, NOW, TODAY)
    assert again.intervention is not None
    assert again.intervention.id == made.intervention.id  # clicked twice: recorded once
    assert made.response_url == "https://hooks.slack.com/actions/T1/1/x"
    assert made.reply is not None
    blocks = made.reply["blocks"]
    assert [b["type"] for b in blocks] == ["section", "context"]  # type: ignore[union-attr]
    assert "Recorded by maria" in str(made.reply["text"])


@pytest.mark.parametrize(
    ("secret", "age_s"), [("another-secret", 0), (SECRET, 6 * 60)]
)  # fmt: skip
def test_a_bad_or_old_signature_is_refused(secret: str, age_s: int):
    body, ts, sig = signed(click(f"conversation_held {TOKEN}"), secret, int(time.time()) - age_s)
    with pytest.raises(SlackRefused) as refused:
        read_click(body, ts, sig, SECRET, KEYS, HOSTS, NOW, TODAY)
    assert refused.value.status == 401


def test_an_expired_or_changed_token_or_another_action_records_nothing():
    late = NOW + dt.timedelta(days=15)
    body, ts, sig = signed(click(f"conversation_held {TOKEN}"))
    expired = read_click(body, ts, sig, SECRET, KEYS, HOSTS, late, late.date())
    assert expired.intervention is None
    assert "expired" in str(expired.reply["text"])  # type: ignore[index]
    body, ts, sig = signed(click(f"conversation_held {TOKEN[:-4]}abcd"))
    assert read_click(body, ts, sig, SECRET, KEYS, HOSTS, NOW, TODAY).intervention is None
    body, ts, sig = signed(click(f"delete_everything {TOKEN}"))
    assert read_click(body, ts, sig, SECRET, KEYS, HOSTS, NOW, TODAY).intervention is None


def test_a_response_url_elsewhere_gets_no_reply():
    body, ts, sig = signed(click(f"resolved {TOKEN}", url="http://169.254.169.254/x"))
    made = read_click(body, ts, sig, SECRET, KEYS, HOSTS, NOW, TODAY)
    assert made.intervention is not None
    assert made.response_url is None


def test_a_signed_request_that_is_not_a_click_is_400():
    body = b"command=/tierwatch"
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    with pytest.raises(SlackRefused) as refused:
        read_click(body, ts, sig, SECRET, KEYS, HOSTS, NOW, TODAY)
    assert refused.value.status == 400
