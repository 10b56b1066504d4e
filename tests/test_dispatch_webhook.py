"""The signed webhook and chat channels against a real aiohttp receiver on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any

import aiohttp
import orjson
import pytest
from structlog.testing import capture_logs

from stream.dispatch.base import Message, Outcome, Result
from stream.dispatch.chat import SlackChannel, TeamsChannel
from stream.dispatch.signing import WebhookSigner
from stream.dispatch.webhook import HttpChannel, WebhookChannel, parse_retry_after, post_json
from tests.dispatch_receivers import (
    HttpReceiver,
    answer,
    free_port,
    message,
    new_secret,
    resetting,
    sleeping,
    verifying,
)

TIMEOUT_S = 0.3
SECRET = new_secret()


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    """A running loopback receiver answering 204 until a test programs it."""
    async with HttpReceiver() as running:
        yield running


def webhook(url: str, secrets: list[str] | None = None, **kwargs: Any) -> WebhookChannel:
    """A signed webhook channel with the test secret and a short timeout."""
    return WebhookChannel("hook", url, secrets or [SECRET], timeout_s=TIMEOUT_S, **kwargs)


async def deliver_once(channel: HttpChannel, msg: Message | None = None) -> Result:
    """Deliver one message, then close the channel's session."""
    try:
        return await channel.deliver(msg or message())
    finally:
        await channel.close()


# Signatures, as a receiver that verifies them sees them.


async def test_valid_signature_accepted(receiver):
    """A request signed with the receiver's secret is accepted and DELIVERED; body and id
    arrive as sent."""
    receiver.handler = verifying(receiver, WebhookSigner([SECRET]))
    msg = message()
    result = await deliver_once(webhook(receiver.url()), msg)
    assert result == Result(Outcome.DELIVERED, "HTTP 204 No Content", status=204)
    (seen,) = receiver.requests
    assert seen.accepted
    assert seen.headers["webhook-id"] == msg.id
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == msg.payload


async def test_rotation_one_of_several_signatures_valid(receiver):
    """Signed with old and new secrets, a receiver knowing only the new one accepts."""
    old, new = new_secret(), new_secret()
    receiver.handler = verifying(receiver, WebhookSigner([new]))
    result = await deliver_once(webhook(receiver.url(), [old, new]))
    assert result.outcome is Outcome.DELIVERED
    (seen,) = receiver.requests
    assert seen.accepted
    assert len(seen.headers["webhook-signature"].split(" ")) == 2


async def test_altered_body_refused(receiver):
    """A body changed after signing is refused (BadSignature, 401)."""
    receiver.handler = verifying(receiver, WebhookSigner([SECRET]))
    headers = WebhookSigner([SECRET]).sign("tr-1", b'{"tier_after":2}')
    async with aiohttp.ClientSession() as session:
        result = await post_json(session, receiver.url(), b'{"tier_after":3}', headers, TIMEOUT_S)
    assert result.outcome is Outcome.FAILED
    assert result.status == 401
    assert receiver.requests[0].refusal == "BadSignature"


async def test_wrong_secret_refused(receiver):
    """A request signed with a secret the receiver does not know is refused."""
    receiver.handler = verifying(receiver, WebhookSigner([SECRET]))
    result = await deliver_once(webhook(receiver.url(), [new_secret()]))
    assert (result.outcome, result.status) == (Outcome.FAILED, 401)
    assert receiver.requests[0].refusal == "BadSignature"


async def test_timestamp_over_five_minutes_old_refused(receiver):
    """A request whose timestamp is 301 s old is refused, though correctly signed."""
    receiver.handler = verifying(receiver, WebhookSigner([SECRET]))
    stale = webhook(receiver.url(), clock=lambda: time.time() - 301)
    result = await deliver_once(stale)
    assert result.status == 401
    assert receiver.requests[0].refusal == "BadTimestamp"


async def test_missing_headers_refused(receiver):
    """A request without the webhook headers is refused."""
    receiver.handler = verifying(receiver, WebhookSigner([SECRET]))
    async with aiohttp.ClientSession() as session:
        result = await post_json(session, receiver.url(), b"{}", {}, TIMEOUT_S)
    assert result.status == 401
    assert receiver.requests[0].refusal == "MissingHeaders"


# What each answer of the receiver means.


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_2xx_delivered(receiver, status):
    """Any 2xx answer is DELIVERED."""
    receiver.handler = answer(status)
    result = await deliver_once(webhook(receiver.url()))
    assert (result.outcome, result.status) == (Outcome.DELIVERED, status)


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_5xx_retry(receiver, status):
    """A 5xx answer is RETRY, without a retry delay."""
    receiver.handler = answer(status)
    result = await deliver_once(webhook(receiver.url()))
    assert (result.outcome, result.status, result.retry_after_s) == (Outcome.RETRY, status, None)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_other_4xx_failed(receiver, status):
    """A 4xx answer other than 410 and 429 is FAILED."""
    receiver.handler = answer(status)
    result = await deliver_once(webhook(receiver.url()))
    assert (result.outcome, result.status) == (Outcome.FAILED, status)


async def test_429_retry_after_seconds(receiver):
    """429 with Retry-After: 7 is RETRY after 7 s."""
    receiver.handler = answer(429, {"Retry-After": "7"})
    result = await deliver_once(webhook(receiver.url()))
    assert (result.outcome, result.status, result.retry_after_s) == (Outcome.RETRY, 429, 7.0)


async def test_503_retry_after_http_date(receiver):
    """503 with an HTTP-date Retry-After two minutes ahead is RETRY after about 120 s."""
    receiver.handler = answer(503, {"Retry-After": formatdate(time.time() + 120, usegmt=True)})
    result = await deliver_once(webhook(receiver.url()))
    assert (result.outcome, result.status) == (Outcome.RETRY, 503)
    assert result.retry_after_s is not None
    assert 115 <= result.retry_after_s <= 121


async def test_410_disables_and_no_further_request(receiver):
    """410 is DISABLED, and the next deliver answers DISABLED without a request."""
    receiver.handler = answer(410)
    channel = webhook(receiver.url())
    try:
        first = await channel.deliver(message())
        second = await channel.deliver(message())
    finally:
        await channel.close()
    assert (first.outcome, first.status) == (Outcome.DISABLED, 410)
    assert second.outcome is Outcome.DISABLED
    assert channel.disabled
    assert len(receiver.requests) == 1


async def test_redirect_not_followed(receiver):
    """302 is FAILED and the redirect target is never called."""

    async def redirect(request, body):
        if request.path == "/target":
            return await answer(200)(request, body)
        return await answer(302, {"Location": receiver.url("/target")})(request, body)

    receiver.handler = redirect
    result = await deliver_once(webhook(receiver.url()))
    assert (result.outcome, result.status) == (Outcome.FAILED, 302)
    assert "redirect" in result.detail
    assert receiver.at("/target") == []


async def test_timeout_retry(receiver):
    """A receiver slower than the timeout is RETRY."""
    receiver.handler = sleeping(5)
    started = time.monotonic()
    result = await deliver_once(webhook(receiver.url()))
    assert result.outcome is Outcome.RETRY
    assert "no answer" in result.detail
    assert time.monotonic() - started < 2


async def test_connection_reset_retry(receiver):
    """A connection dropped without an answer is RETRY."""
    receiver.handler = resetting
    result = await deliver_once(webhook(receiver.url()))
    assert result.outcome is Outcome.RETRY
    assert result.status is None


async def test_connection_refused_retry():
    """A port nobody listens on is RETRY."""
    result = await deliver_once(webhook(f"http://127.0.0.1:{free_port()}/hook"))
    assert result.outcome is Outcome.RETRY
    assert "connection failed" in result.detail


async def test_unencodable_payload_failed(receiver):
    """A payload orjson cannot encode is FAILED without a request."""
    result = await deliver_once(webhook(receiver.url()), message(payload={"x": object()}))
    assert result.outcome is Outcome.FAILED
    assert receiver.requests == []


async def test_session_reused_and_closed(receiver):
    """One session serves several deliveries; close() closes it."""
    sessions: list[aiohttp.ClientSession] = []

    def factory() -> aiohttp.ClientSession:
        sessions.append(aiohttp.ClientSession())
        return sessions[-1]

    channel = webhook(receiver.url(), session_factory=factory)
    await channel.deliver(message())
    await channel.deliver(message())
    await channel.close()
    assert len(sessions) == 1
    assert sessions[0].closed


async def test_log_events_carry_no_recipient_or_url(receiver):
    """The attempt log names the channel, id and outcome, never the recipient or the URL."""
    with capture_logs() as events:
        await deliver_once(webhook(receiver.url()), message(recipient="ada@example.org"))
    (event,) = [e for e in events if e["event"] == "dispatch.attempt"]
    assert event["outcome"] == "delivered"
    assert "ada@example.org" not in repr(events)
    assert str(receiver.port) not in repr(events)


@pytest.mark.parametrize("url", ["ftp://example.org/x", "/relative", "http://"])
def test_bad_url_fails_at_construction(url):
    """A URL that is not absolute http(s) is refused when the channel is configured."""
    with pytest.raises(ValueError, match="absolute http"):
        webhook(url)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        ("0", 0.0),
        (" 12 ", 12.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: now
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value, expected):
    """Retry-After is seconds or an HTTP date; a past date is 0; anything else is None."""
    assert parse_retry_after(value, now=time.time()) == expected


# Chat bodies.


async def test_slack_body_shape(receiver):
    """Slack gets JSON with fallback text, a header block and mrkdwn sections, escaped."""
    msg = message(subject="Checking in", text="Hi <!channel> & team.\n\nSecond paragraph.")
    channel = SlackChannel("slack", receiver.url(), timeout_s=TIMEOUT_S)
    assert (await deliver_once(channel, msg)).outcome is Outcome.DELIVERED
    (seen,) = receiver.requests
    assert seen.headers["Content-Type"] == "application/json"
    assert "webhook-signature" not in seen.headers
    body = orjson.loads(seen.body)
    assert body["text"].startswith("Checking in")
    assert body["blocks"] == [
        {"type": "header", "text": {"type": "plain_text", "text": "Checking in"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "Hi &lt;!channel&gt; &amp; team."},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": "Second paragraph."}},
    ]


async def test_slack_long_text_split_to_limits(receiver):
    """A long paragraph is split into sections of at most 3000 characters; header ≤ 150."""
    msg = message(subject="S" * 200, text="x" * 7000)
    await deliver_once(SlackChannel("slack", receiver.url(), timeout_s=TIMEOUT_S), msg)
    blocks = orjson.loads(receiver.requests[0].body)["blocks"]
    assert len(blocks[0]["text"]["text"]) == 150
    assert [len(b["text"]["text"]) for b in blocks[1:]] == [3000, 3000, 1000]


async def test_teams_body_shape(receiver):
    """Teams gets a message with one Adaptive Card 1.4: a bold title and a TextBlock a paragraph."""
    msg = message(subject="Checking in", text="First.\n\nSecond.")
    channel = TeamsChannel("teams", receiver.url(), timeout_s=TIMEOUT_S)
    assert (await deliver_once(channel, msg)).outcome is Outcome.DELIVERED
    body = orjson.loads(receiver.requests[0].body)
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert [block["type"] for block in card["body"]] == ["TextBlock"] * 3
    assert [block["text"] for block in card["body"]] == ["Checking in", "First.", "Second."]
    assert card["body"][0]["weight"] == "Bolder"
    assert all(block["wrap"] for block in card["body"])


@pytest.mark.parametrize("status", [(429, Outcome.RETRY), (410, Outcome.DISABLED)])
async def test_chat_channels_share_the_status_mapping(receiver, status):
    """Chat channels map answers like the webhook: 429 retries, 410 disables."""
    code, outcome = status
    receiver.handler = answer(code)
    for channel in (
        SlackChannel("slack", receiver.url(), timeout_s=TIMEOUT_S),
        TeamsChannel("teams", receiver.url(), timeout_s=TIMEOUT_S),
    ):
        assert (await deliver_once(channel)).outcome is outcome
