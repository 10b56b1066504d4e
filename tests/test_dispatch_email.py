"""The email channel against a real aiosmtpd SMTP server on loopback."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from structlog.testing import capture_logs

from stream.dispatch.base import Outcome
from stream.dispatch.email import EmailChannel, html_from_text, message_id_for
from tests.dispatch_receivers import SmtpRecorder, free_port, message, smtp_server

SENDER = "Tierwatch <noreply@tierwatch.example>"


@pytest.fixture
def recorder() -> SmtpRecorder:
    """A fresh recording SMTP handler."""
    return SmtpRecorder()


@pytest.fixture
def smtp(recorder: SmtpRecorder) -> Iterator[tuple[str, int]]:
    """An SMTP server on loopback handing mail to `recorder`."""
    with smtp_server(recorder) as address:
        yield address


def channel(address: tuple[str, int], **kwargs: Any) -> EmailChannel:
    """An email channel to the loopback server, with a short timeout."""
    host, port = address
    return EmailChannel("mail", host, port, SENDER, timeout_s=2.0, **kwargs)


def parsed(recorder: SmtpRecorder) -> EmailMessage:
    """The one email the server accepted, parsed."""
    (envelope,) = recorder.envelopes
    assert envelope.original_content is not None
    mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


async def test_email_delivered_with_both_parts_and_headers(smtp, recorder):
    """The server receives one multipart/alternative email: To, Subject, Message-ID from the
    id, X-Tierwatch-Id, a text part and the given HTML part."""
    msg = message(recipient="ada.manager@example.org", html="<p>Hello <b>there</b></p>")
    result = await channel(smtp).deliver(msg)
    assert result.outcome is Outcome.DELIVERED
    (envelope,) = recorder.envelopes
    assert envelope.mail_from == "noreply@tierwatch.example"
    assert envelope.rcpt_tos == ["ada.manager@example.org"]
    mail = parsed(recorder)
    assert mail["To"] == "ada.manager@example.org"
    assert mail["From"] == SENDER
    assert mail["Subject"] == msg.subject
    assert mail["Message-ID"] == f"<{msg.id}@tierwatch>"
    assert mail["X-Tierwatch-Id"] == msg.id
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().replace("\r\n", "\n").strip() == msg.text
    assert html.get_content().strip() == "<p>Hello <b>there</b></p>"


async def test_html_generated_and_escaped_when_missing(smtp, recorder):
    """Without html, the HTML part is the text, escaped, one <p> a paragraph."""
    msg = message(text="Scores <50% & falling\n\nLet's talk.", html=None)
    assert (await channel(smtp).deliver(msg)).outcome is Outcome.DELIVERED
    html = parsed(recorder).get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "<p>Scores &lt;50% &amp; falling</p>" in content
    assert "<p>Let&#x27;s talk.</p>" in content


async def test_non_ascii_subject_and_text(smtp, recorder):
    """Non-ASCII subject and text arrive intact."""
    msg = message(subject="Rückmeldung für Zoë", text="Grüße — bis Freitag.")
    assert (await channel(smtp).deliver(msg)).outcome is Outcome.DELIVERED
    mail = parsed(recorder)
    assert mail["Subject"] == "Rückmeldung für Zoë"
    text = mail.get_body(("plain",))
    assert text is not None
    assert text.get_content().strip() == "Grüße — bis Freitag."


async def test_451_is_retry(smtp, recorder):
    """A 451 reply (temporary) is RETRY with the SMTP code."""
    recorder.reply = "451 4.3.0 Try again later"
    result = await channel(smtp).deliver(message())
    assert (result.outcome, result.status) == (Outcome.RETRY, 451)


async def test_550_is_failed(smtp, recorder):
    """A 550 reply (permanent) is FAILED with the SMTP code."""
    recorder.reply = "550 5.1.1 No such user"
    result = await channel(smtp).deliver(message())
    assert (result.outcome, result.status) == (Outcome.FAILED, 550)


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [("450 4.2.1 Mailbox busy", Outcome.RETRY), ("550 5.1.1 No such user", Outcome.FAILED)],
)
async def test_recipient_refusal_follows_the_code(smtp, recorder, reply, outcome):
    """A recipient refused at RCPT is RETRY for 4xx and FAILED for 5xx, with the code."""
    recorder.rcpt_reply = reply
    result = await channel(smtp).deliver(message())
    assert (result.outcome, result.status) == (outcome, int(reply[:3]))
    assert recorder.envelopes == []


async def test_closed_port_is_retry():
    """A port nobody listens on is RETRY."""
    result = await channel(("127.0.0.1", free_port())).deliver(message())
    assert result.outcome is Outcome.RETRY
    assert result.status is None


async def test_starttls_required_but_not_offered_is_failed(smtp, recorder):
    """With starttls=True and a server without STARTTLS, the message is FAILED, not sent."""
    result = await channel(smtp, starttls=True).deliver(message())
    assert result.outcome is Outcome.FAILED
    assert "STARTTLS" in result.detail
    assert recorder.envelopes == []


async def test_credentials_without_auth_offered_is_failed(smtp, recorder):
    """With credentials and a server that offers no AUTH, the message is FAILED, not sent."""
    result = await channel(smtp, username="u", password="p").deliver(message())
    assert result.outcome is Outcome.FAILED
    assert "AUTH" in result.detail
    assert recorder.envelopes == []


@pytest.mark.parametrize("recipient", ["", "not an address", "a@b.example\r\nBcc: x@y.example"])
async def test_unusable_recipient_is_failed(smtp, recorder, recipient):
    """A recipient that is not one email address is FAILED without sending."""
    result = await channel(smtp).deliver(message(recipient=recipient))
    assert result.outcome is Outcome.FAILED
    assert recorder.envelopes == []


async def test_header_injection_in_subject_is_failed(smtp, recorder):
    """A subject with a line break is FAILED, never sent as extra headers."""
    result = await channel(smtp).deliver(message(subject="Hi\r\nBcc: evil@example.org"))
    assert result.outcome is Outcome.FAILED
    assert recorder.envelopes == []


async def test_log_events_carry_no_recipient(smtp):
    """The attempt log names channel, id and outcome, never the recipient or the sender."""
    with capture_logs() as events:
        await channel(smtp).deliver(message(recipient="ada@example.org"))
    (event,) = [e for e in events if e["event"] == "dispatch.attempt"]
    assert event["outcome"] == "delivered"
    assert "ada@example.org" not in repr(events)
    assert "noreply@" not in repr(events)


@pytest.mark.parametrize(
    ("msg_id", "expected"),
    [
        ("tr-0001", "<tr-0001@tierwatch>"),
        ("a.b_c", "<a.b_c@tierwatch>"),
    ],
)
def test_message_id_from_id(msg_id, expected):
    """An id made of atom characters is the Message-ID's left part as is."""
    assert message_id_for(msg_id) == expected


@pytest.mark.parametrize("msg_id", ["has space", "a..b", "<x>", "x@y", ""])
def test_message_id_hashed_when_id_cannot_be_one(msg_id):
    """An id a Message-ID cannot hold is replaced by its SHA-256, stable per id."""
    made = message_id_for(msg_id)
    assert made == message_id_for(msg_id)
    assert len(made) == len("<@tierwatch>") + 64


def test_html_from_text_keeps_line_breaks():
    """Single newlines inside a paragraph become <br>."""
    assert "<p>one<br>\ntwo</p>" in html_from_text("s", "one\ntwo")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sender": "no address"},
        {"username": "u"},
        {"starttls": True, "use_tls": True},
        {"timeout_s": 0},
    ],
)
def test_bad_configuration_fails_at_construction(kwargs):
    """An unusable sender, half credentials, both TLS modes or a zero timeout is a ValueError."""
    args = {"sender": SENDER} | kwargs
    with pytest.raises(ValueError, match="channel 'mail'"):
        EmailChannel("mail", "127.0.0.1", 25, **args)
