"""Chat channels: a Slack-compatible incoming webhook and a Microsoft Teams workflow webhook.

Both post `message.subject` and `message.text` (paragraphs split on blank lines) to the
configured webhook URL, unsigned (the URL itself is the credential), and map the answer to
a `Result` exactly as the signed webhook does (`stream.dispatch.webhook`).
`message.recipient` is not used: the URL says where it goes. A Slack message whose payload
carries an action link gets a button per action of the recipient's role; Teams gets the
link in the text.
"""

from __future__ import annotations

from typing import Any

import orjson

from stream.actions.links import ACTIONS
from stream.dispatch.base import Message
from stream.dispatch.webhook import HttpChannel

SLACK_HEADER_MAX = 150  # Slack: a header block's plain_text is at most 150 characters
SLACK_SECTION_MAX = 3000  # Slack: a section block's text is at most 3000 characters
SLACK_BLOCKS_MAX = 50  # Slack: at most 50 blocks in a message
SLACK_BUTTON_MAX = 75  # Slack: a button's text is at most 75 characters
SLACK_ACTIONS_MAX = 25  # Slack: at most 25 elements in an actions block
BUTTONS = {
    "conversation_held": "We talked today",
    "support_plan": "Support plan agreed",
    "concern_raised": "Raise a concern",
    "resolved": "Resolved",
    "not_useful": "Not useful",
    "incorrectly_flagged": "Flagged incorrectly",
}
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


def slack_buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The action buttons of a message whose payload carries an action link: one per
    action of the recipient's role, each naming the action and the link's token (the
    `/slack/actions` endpoint records it, `stream.worker.slack_web`)."""
    link = (payload.get("links") or {}).get("act")
    role = payload.get("role")
    if not isinstance(link, str) or "/act/" not in link or role not in ACTIONS:
        return []
    token = link.rsplit("/act/", 1)[1]
    return [
        {
            "type": "button",
            "action_id": f"tierwatch.{action}",
            "text": {"type": "plain_text", "text": _clip(BUTTONS[action], SLACK_BUTTON_MAX)},
            "value": f"{action} {token}",
        }
        for action in ACTIONS[role]
        if action in BUTTONS  # a snooze needs a date: the link's page asks for it
    ][:SLACK_ACTIONS_MAX]


def slack_body(
    subject: str, text: str, buttons: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An incoming-webhook body: fallback `text`, a header block and one mrkdwn section a
    paragraph (long paragraphs split to Slack's limits), then the action buttons."""
    blocks: list[dict[str, Any]] = []
    if subject.strip():
        header = {"type": "plain_text", "text": _clip(subject.strip(), SLACK_HEADER_MAX)}
        blocks.append({"type": "header", "text": header})
    for paragraph in paragraphs(_slack_escape(text)):
        for start in range(0, len(paragraph), SLACK_SECTION_MAX):
            chunk = paragraph[start : start + SLACK_SECTION_MAX]
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    fallback = "\n\n".join(part for part in (subject.strip(), text.strip()) if part)
    blocks = blocks[: SLACK_BLOCKS_MAX - 1 if buttons else SLACK_BLOCKS_MAX]
    if buttons:
        blocks.append({"type": "actions", "block_id": "tierwatch.actions", "elements": buttons})
    return {"text": _slack_escape(fallback), "blocks": blocks}


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
        """The Slack body for the message's subject, text and buttons; no extra headers."""
        buttons = slack_buttons(message.payload or {})
        return orjson.dumps(slack_body(message.subject, message.text, buttons)), {}


class TeamsChannel(HttpChannel):
    """A Microsoft Teams channel reached by a Workflows ("Post to a channel when a webhook
    request is received") webhook, which expects an Adaptive Card message.

    Constructor: `TeamsChannel(name, url, *, timeout_s=10.0, session_factory=...)`.
    """

    def encode(self, message: Message) -> tuple[bytes, dict[str, str]]:
        """The Teams body for the message's subject and text; no extra headers."""
        return orjson.dumps(teams_body(message.subject, message.text)), {}
