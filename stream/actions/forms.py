"""The forms of an action page: protected against cross-site posting, recorded once.

Each rendered page carries a form token (`FormToken`, a Fernet token under the action
keys) naming the link it was rendered for (a digest of the link's token), a nonce, and an
expiry. A post must carry a form token for the same link, unexpired: a page of another
site cannot make one (it has neither the keys nor, without the link, its digest). The
intervention's id is made of the link, the action and the day it names
(`intervention_id`): the same form posted twice, or posted again from the page opened
again, records one intervention (the worker de-duplicates interventions by id).
A post whose `Origin` (or `Sec-Fetch-Site`) says it came from another site is refused too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from pydantic import BaseModel, ConfigDict, Field

from stream.actions.tokens import ActionKeys, TokenRefused

FORM_LIFETIME = dt.timedelta(hours=12)  # a page left open longer is opened again


class FormToken(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    link: str = Field(min_length=16, max_length=64)  # digest of the link's token
    nonce: str = Field(min_length=16, max_length=64)
    expires: dt.datetime


def link_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def issue_form(keys: ActionKeys, link_token: str, now: dt.datetime) -> str:
    form = FormToken(
        link=link_digest(link_token), nonce=secrets.token_hex(16), expires=now + FORM_LIFETIME
    )
    return keys.seal(form.model_dump_json().encode())


def read_form(keys: ActionKeys, form: str, link_token: str, now: dt.datetime) -> FormToken:
    """The form token of a post for this link; `TokenRefused("invalid")` otherwise."""
    try:
        token = FormToken.model_validate_json(keys.open(form))
    except (TokenRefused, ValueError):
        raise TokenRefused("invalid") from None
    if token.link != link_digest(link_token) or now >= token.expires:
        raise TokenRefused("invalid")
    return token


def intervention_id(link_token: str, action: str, on: dt.date | None) -> str:
    """The id of what a link records: one intervention per link, action and day given (a
    form posted twice, a page opened again and posted, a Slack button clicked twice are
    one; a second conversation on another day is another)."""
    day = on.isoformat() if on is not None else ""
    return f"act:{link_digest(link_token)}:{action}:{day}"


def same_site(origin: str | None, fetch_site: str | None, public_url: str) -> bool:
    """Whether a post came from tierwatch's own page, by the headers browsers send (a
    client that sends neither, e.g. curl, is let through: the form token still holds). A
    browser that sends `Origin: null` (a page under a no-referrer policy, a privacy
    setting) is believed only with `Sec-Fetch-Site: same-origin`."""
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    if origin == "null":  # a browser hiding the origin: only its own fetch site vouches
        return fetch_site == "same-origin"
    if origin is not None:
        return origin.rstrip("/") == _origin_of(public_url)
    return True


def _origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
