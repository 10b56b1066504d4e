"""The LMS webhooks: IMS Caliper, Canvas Live Events and Moodle."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from stream.ingest.context import (
    bearer,
    ingest_of,
    matches,
    not_configured,
    read_body,
    read_json,
    refuse_invalid,
    secrets,
)
from stream.ingest.problems import Refusal
from stream.normalize import caliper, canvas, moodle
from stream.normalize.base import Normalized, NormalizeError


def _answer(result: Normalized, received: int) -> web.Response:
    return web.json_response(
        {"received": received, "events": len(result.events), "ignored": len(result.ignored)}
    )


async def post_caliper(request: web.Request) -> web.Response:
    """POST /caliper: an envelope {sensor, sendTime, dataVersion, data[]} with a bearer token."""
    ingest = ingest_of(request)
    credential = bearer(
        request, secrets(ingest.settings.caliper_tokens), "TIERWATCH_CALIPER_TOKENS"
    )
    ingest.throttle(credential)
    payload = await read_json(request, media=("application/json", "application/ld+json"))
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, list) and len(data) > ingest.settings.max_batch:
        raise _too_many(len(data), ingest.settings.max_batch)
    try:
        result = caliper.normalize_envelope(payload, ingest.clock(), ingest.identities.resolve)
    except caliper.UnsupportedDataVersion as exc:
        raise refuse_invalid(exc, 422, "unsupported_data_version") from None
    except NormalizeError as exc:
        raise refuse_invalid(exc) from None
    await ingest.send_events(result.events, result.time_fields)
    return _answer(result, len(data) if isinstance(data, list) else 0)


async def post_canvas(request: web.Request) -> web.Response:
    """POST /webhooks/canvas: one Live Event {metadata, body}, with the shared secret header,
    or (with a JWKS configured) the event as a signed JWT."""
    ingest = ingest_of(request)
    if request.content_type == "application/jwt" and ingest.canvas_jwks is not None:
        payload = ingest.canvas_jwks.claims((await read_body(request)).strip())
    else:
        _canvas_secret(request)
        payload = await read_json(request)
    ingest.throttle("canvas")
    try:
        result = canvas.normalize_live_event(payload, ingest.clock(), ingest.identities.resolve)
    except NormalizeError as exc:
        raise refuse_invalid(exc) from None
    await ingest.send_events(result.events, result.time_fields)
    return _answer(result, 1)


def _canvas_secret(request: web.Request) -> None:
    settings = ingest_of(request).settings
    allowed = secrets(settings.canvas_secret)
    if not allowed:
        raise not_configured("TIERWATCH_CANVAS_SECRET")
    given = request.headers.get(settings.canvas_secret_header, "")
    if not matches(given, allowed):
        header = settings.canvas_secret_header
        raise Refusal(401, "unauthorized", f"the {header} header is missing or wrong")


async def post_moodle(request: web.Request) -> web.Response:
    """POST /webhooks/moodle: one core event, with the shared `token` in the body."""
    ingest = ingest_of(request)
    allowed = secrets(ingest.settings.moodle_token)
    if not allowed:
        raise not_configured("TIERWATCH_MOODLE_TOKEN")
    payload: Any = await read_json(request)
    token = payload.get("token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not matches(token, allowed):
        raise Refusal(401, "unauthorized", "the body's `token` is missing or wrong")
    ingest.throttle("moodle")
    try:
        result = moodle.normalize_event(payload, ingest.clock(), ingest.identities.resolve)
    except NormalizeError as exc:
        raise refuse_invalid(exc) from None
    await ingest.send_events(result.events, result.time_fields)
    return _answer(result, 1)


def _too_many(count: int, limit: int) -> Refusal:
    return Refusal(413, "batch_too_large", f"{count} items in one request; the limit is {limit}")
