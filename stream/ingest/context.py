"""What every ingest view shares, and the steps every request goes through."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from schemas.events import LearningEvent
from stream import codec
from stream.ingest.identity import IdentityMap
from stream.ingest.jwt_events import JwksVerifier
from stream.ingest.problems import Refusal
from stream.ingest.ratelimit import RateLimiter
from stream.ingest.sink import Sink
from stream.metrics import Metrics
from stream.normalize.base import NormalizeError, Problem
from stream.settings import Settings
from stream.topics import Topics


@dataclass
class Ingest:
    """Settings, the sink, the identity map and the limits of one ingest service."""

    settings: Settings
    sink: Sink
    topics: Topics
    limiter: RateLimiter
    identities: IdentityMap = field(default_factory=IdentityMap)
    canvas_jwks: JwksVerifier | None = None
    metrics: Metrics = field(default_factory=lambda: Metrics.create(parts=("ingest",)))

    def __post_init__(self) -> None:
        unmapped = self.metrics.ingest.unmapped_identities
        self.identities.on_unmapped = lambda identity: unmapped.labels(identity.source).inc()

    def throttle(self, credential: str) -> None:
        """Refuse with 429 when the credential is over its rate."""
        assert self.limiter is not None
        wait = self.limiter.take(credential)
        if wait > 0:
            retry = str(max(1, round(wait + 0.5)))
            raise Refusal(
                429,
                "rate_limited",
                f"too many requests; retry in {retry}s",
                headers={"Retry-After": retry},
            )

    async def send_events(self, events: Sequence[LearningEvent]) -> None:
        """Produce events keyed by learner and wait for the broker's acknowledgement."""
        limit = now() + MAX_AHEAD
        ahead = [
            Problem("", f"event {e.id} is dated {e.occurred_at.isoformat()}")
            for e in events
            if e.occurred_at > limit
        ]
        if ahead:
            detail = (
                f"{len(ahead)} event(s) dated more than {MAX_AHEAD} ahead: check the sender's clock"
            )
            raise Refusal(400, "event_in_the_future", detail, ahead[:20])
        if events:
            records = [(e.learner_id, codec.encode_record(e)) for e in events]
            started = time.perf_counter()
            await self.sink.send(self.topics.events, records)
            self.metrics.ingest.ack_seconds.observe(time.perf_counter() - started)
            for event in events:
                self.metrics.ingest.events_in.labels(event.source, event.kind).inc()


MAX_AHEAD = dt.timedelta(minutes=5)  # the furthest ahead an event's time may be (clock skew)
KEY: web.AppKey[Ingest] = web.AppKey("ingest", Ingest)
RAW: web.RequestKey[bytes] = web.RequestKey("raw", bytes)


def ingest_of(request: web.Request) -> Ingest:
    return request.app[KEY]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def read_json(request: web.Request, *, media: tuple[str, ...] = ("application/json",)) -> Any:
    """The request body as JSON: 415 for another media type, 400 for bad JSON."""
    kind = request.content_type
    if kind not in media and not (kind.startswith("application/") and kind.endswith("+json")):
        raise Refusal(415, "unsupported_media_type", f"expected {' or '.join(media)}, got {kind!r}")
    body = await read_body(request)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refusal(400, "not_json", f"the body is not JSON: {exc}") from None


async def read_body(request: web.Request) -> bytes:
    """The raw body (kept on the request for the dead-letter record)."""
    body = await request.read()
    request[RAW] = body
    return body


def refuse_invalid(
    exc: NormalizeError, status: int = 400, reason: str = "invalid_payload"
) -> Refusal:
    return Refusal(status, reason, f"{len(exc.problems)} problem(s) in the payload", exc.problems)


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


def bearer(request: web.Request, allowed: list[str], setting: str) -> str:
    """The bearer token of a request if it is one of `allowed`; 401 otherwise."""
    if not allowed:
        raise not_configured(setting)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not matches(token.strip(), allowed):
        challenge = {"WWW-Authenticate": 'Bearer realm="tierwatch"'}
        raise Refusal(401, "unauthorized", "a valid bearer token is required", headers=challenge)
    return "bearer:" + token.strip()[:8]


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
