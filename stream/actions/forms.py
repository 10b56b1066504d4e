"""The forms of an action page: protected against cross-site posting, recorded once.

Each rendered page carries a form token (`FormToken`, a Fernet token under the action
keys) naming the link it was rendered for (a digest of the link's token), a nonce, and an
expiry. A post must carry a form token for the same link, unexpired: a page of another
site cannot make one (it has neither the keys nor, without the link, its digest). The
nonce makes the intervention's id: the same form posted twice records one intervention
(the worker de-duplicates interventions by id), a page opened again records a new one.
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


def same_site(origin: str | None, fetch_site: str | None, public_url: str) -> bool:
    """Whether a post came from tierwatch's own page, by the headers browsers send (a
    client that sends neither, e.g. curl, is let through: the form token still holds)."""
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    if origin is not None and origin != "null":
        return origin.rstrip("/") == _origin_of(public_url)
    return origin is None


def _origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
