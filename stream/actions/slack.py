"""A click on a Slack message's button, read and checked: the intervention it records and
the message Slack shows instead.

Slack signs each request (v0: HMAC-SHA256 of `v0:{timestamp}:{body}` with the app's
signing secret; a timestamp more than five minutes away is refused): checked by
`slack_sdk`'s `SignatureVerifier` (constant-time compare). The button's value names the
action and the message's action token (`stream.dispatch.chat.slack_buttons`); the token
grants the action or not, as a link does. The intervention's id is made of the link and the
action, so a button clicked twice records one intervention. The reply replaces the
message's buttons with what was recorded, by whom (Slack's user name), and is posted to
the request's `response_url`, which must be on one of the configured hosts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import orjson
from slack_sdk.signature import SignatureVerifier

from schemas.roster import Intervention
from stream.actions.forms import intervention_id
from stream.actions.page import LABELS
from stream.actions.tokens import ActionKeys, Grant, TokenRefused
from stream.errors import TierwatchError

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Click:
    """What a verified request asks: the intervention to record (None: nothing) and the
    reply for its `response_url` (None: nowhere allowed to answer)."""

    intervention: Intervention | None
    reply: dict[str, object] | None
    response_url: str | None
    recipient: str = ""  # whom the message's link was for
    grant: Grant | None = None  # what the button's token grants (None: nothing)
    kept: tuple[dict[str, object], ...] = ()  # the message's blocks without its buttons

    def refused(self, text: str) -> Click:
        """The same click, recording nothing, its reply saying why."""
        return Click(None, _reply(text, list(self.kept)), self.response_url)


class SlackRefused(TierwatchError):
    """A request that is not Slack's (bad or old signature, not a button click): 401/400."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def read_click(
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    secret: str,
    keys: ActionKeys,
    hosts: set[str],
    now: dt.datetime,
    today: dt.date,
) -> Click:
    """The click a request carries, checked (`SlackRefused` when it is not Slack's)."""
    if len(body) > MAX_BODY:
        raise SlackRefused(400, "too large")
    verifier = SignatureVerifier(secret)
    if not timestamp or not signature or not verifier.is_valid(body, timestamp, signature):
        raise SlackRefused(401, "the Slack signature does not verify")
    try:
        payload = orjson.loads(parse_qs(body.decode())["payload"][0])
        action = payload["actions"][0]
        kind, token = str(action["value"]).split(" ", 1)
    except (KeyError, IndexError, ValueError, TypeError, orjson.JSONDecodeError):
        raise SlackRefused(400, "not a button click") from None
    url = payload.get("response_url")
    response_url = url if isinstance(url, str) and urlsplit(url).hostname in hosts else None
    user = (payload.get("user") or {}).get("name") or "someone"
    kept = [
        block
        for block in ((payload.get("message") or {}).get("blocks") or [])
        if isinstance(block, dict) and block.get("type") != "actions"
    ]
    try:
        grant = keys.read(token, now)
    except TokenRefused as refused:
        text = "This button has expired" if refused.why == "expired" else "This button is not valid"
        reply = _reply(f"{text}: open the link in the latest message.", kept)
        return Click(None, reply, response_url)
    if kind not in grant.actions:
        return Click(None, _reply("This button does not allow that.", kept), response_url)
    on = today if kind == "conversation_held" else None
    intervention = Intervention(
        id=intervention_id(token, kind, on), learner_id=grant.learner_id, kind=kind,
        at=now, transition_id=grant.transition_id, on=on,
    )  # fmt: skip
    label = LABELS.get(kind, kind)
    reply = _reply(f"Recorded by {user}: {label}.", kept)
    return Click(intervention, reply, response_url, grant.recipient, grant, tuple(kept))


def _reply(text: str, kept: list[dict[str, object]]) -> dict[str, object]:
    """The message again without its buttons, and a line saying what happened."""
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
    return {"replace_original": True, "text": text, "blocks": [*kept, note]}
