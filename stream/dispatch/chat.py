"""Chat channels: a Slack-compatible incoming webhook and a Microsoft Teams workflow webhook.

Both post `message.subject` and `message.text` (paragraphs split on blank lines) to the
configured webhook URL, unsigned (the URL itself is the credential), and map the answer to
a `Result` exactly as the signed webhook does (`stream.dispatch.webhook`).
`message.payload` and `message.recipient` are not used: the URL says where it goes.
"""

from __future__ import annotations

from typing import Any

import orjson

from stream.dispatch.base import Message
from stream.dispatch.webhook import HttpChannel

SLACK_HEADER_MAX = 150  # Slack: a header block's plain_text is at most 150 characters
SLACK_SECTION_MAX = 3000  # Slack: a section block's text is at most 3000 characters
SLACK_BLOCKS_MAX = 50  # Slack: at most 50 blocks in a message
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


def paragraphs(text: str) -> list[str]:
    """The non-empty paragraphs of `text`, split on blank lines and stripped."""
    chunks = text.replace("\r\n", "\n").split("\n\n")
    return [chunk.strip() for chunk in chunks if chunk.strip()]


def _slack_escape(text: str) -> str:
    """Escape the three characters Slack mrkdwn treats as control (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_body(subject: str, text: str) -> dict[str, Any]:
    """An incoming-webhook body: fallback `text`, a header block and one mrkdwn section a
    paragraph (long paragraphs split to Slack's limits)."""
    blocks: list[dict[str, Any]] = []
    if subject.strip():
        header = {"type": "plain_text", "text": _clip(subject.strip(), SLACK_HEADER_MAX)}
        blocks.append({"type": "header", "text": header})
    for paragraph in paragraphs(_slack_escape(text)):
        for start in range(0, len(paragraph), SLACK_SECTION_MAX):
            chunk = paragraph[start : start + SLACK_SECTION_MAX]
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    fallback = "\n\n".join(part for part in (subject.strip(), text.strip()) if part)
    return {"text": _slack_escape(fallback), "blocks": blocks[:SLACK_BLOCKS_MAX]}


def teams_body(subject: str, text: str) -> dict[str, Any]:
    """A Teams workflow-webhook message: one Adaptive Card (1.4), a bold title and one
    wrapping TextBlock a paragraph."""
    body: list[dict[str, Any]] = []
    if subject.strip():
        body.append(
            {
                "type": "TextBlock",
                "text": subject.strip(),
                "size": "Large",
                "weight": "Bolder",
                "wrap": True,
            }
        )
    body.extend({"type": "TextBlock", "text": part, "wrap": True} for part in paragraphs(text))
    card = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    attachment = {"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


class SlackChannel(HttpChannel):
    """A Slack (or Slack-compatible: Mattermost, Rocket.Chat) incoming webhook.

    Constructor: `SlackChannel(name, url, *, timeout_s=10.0, session_factory=...)`.
    """

    def encode(self, message: Message) -> tuple[bytes, dict[str, str]]:
        """The Slack body for the message's subject and text; no extra headers."""
        return orjson.dumps(slack_body(message.subject, message.text)), {}


class TeamsChannel(HttpChannel):
    """A Microsoft Teams channel reached by a Workflows ("Post to a channel when a webhook
    request is received") webhook, which expects an Adaptive Card message.

    Constructor: `TeamsChannel(name, url, *, timeout_s=10.0, session_factory=...)`.
    """

    def encode(self, message: Message) -> tuple[bytes, dict[str, str]]:
        """The Teams body for the message's subject and text; no extra headers."""
        return orjson.dumps(teams_body(message.subject, message.text)), {}
