"""Who may call tierwatch's HTTP endpoints: bearer tokens and Basic credentials, compared
in constant time. Ingest (`stream.ingest`) and the worker's ops API (`stream.worker.ops`)
both take their credentials from here; a refusal is a 401 problem (`stream.http.problems`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from aiohttp import web

from stream.http.problems import Refusal

TOKEN_SETTING = "TIERWATCH_API_TOKEN"  # the worker's ops API token
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tierwatch"'}


def secrets(value: Any) -> list[str]:
    """The comma-separated secrets of a SecretStr setting (none when unset)."""
    if value is None:
        return []
    return [s.strip() for s in value.get_secret_value().split(",") if s.strip()]


def matches(given: str, allowed: list[str]) -> bool:
    """Constant-time membership of a secret."""
    found = False
    for secret in allowed:
        found |= hmac.compare_digest(given.encode(), secret.encode())
    return found


def not_configured(setting: str) -> Refusal:
    return Refusal(
        401, "unauthorized", f"no credentials are configured for this endpoint ({setting})"
    )


def bearer_token(authorization: str | None, allowed: list[str]) -> str | None:
    """The bearer token of an `Authorization` header if it is one of `allowed` (else None)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not matches(token.strip(), allowed):
        return None
    return token.strip()


def no_bearer() -> Refusal:
    return Refusal(
        401, "unauthorized", "a valid bearer token is required", headers=BEARER_CHALLENGE
    )


def bearer(request: web.Request, allowed: list[str], setting: str) -> str:
    """The bearer token of a request if it is one of `allowed`; 401 otherwise."""
    if not allowed:
        raise not_configured(setting)
    token = bearer_token(request.headers.get("Authorization", ""), allowed)
    if token is None:
        raise no_bearer()
    return "bearer:" + token[:8]


def basic(request: web.Request, allowed: list[str], setting: str) -> str:
    """The key of a request's Basic credentials if `key:secret` is allowed; 401 otherwise."""
    if not allowed:
        raise not_configured(setting)
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Basic realm="tierwatch xAPI"'}
    try:
        pair = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        pair = ""
    if scheme.lower() != "basic" or not matches(pair, allowed):
        raise Refusal(
            401, "unauthorized", "valid Basic credentials are required", headers=challenge
        )
    return "basic:" + pair.partition(":")[0]


def token_refusal(configured: Any, authorization: str | None) -> Refusal | None:
    """Why a request's `Authorization` header does not carry the API token (None if it does).

    With no token configured every request is refused, saying which setting is missing."""
    if configured is None or not configured.get_secret_value():
        return Refusal(
            401, "unauthorized", f"no API token is configured for this endpoint ({TOKEN_SETTING})"
        )
    if bearer_token(authorization, [configured.get_secret_value()]) is None:
        return no_bearer()
    return None
