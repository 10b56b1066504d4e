"""The LMS webhooks: IMS Caliper, Canvas Live Events and Moodle."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from stream.http.auth import bearer, matches, not_configured, secrets
from stream.http.problems import Refusal
from stream.ingest.context import Ingest, ingest_of, read_body, read_json, refuse_invalid
from stream.normalize import caliper, canvas, moodle
from stream.normalize.base import Normalized, NormalizeError, Rejected


def _answer(result: Normalized, received: int) -> web.Response:
    return web.json_response(
        {"received": received, "events": len(result.events), "ignored": len(result.ignored)}
    )


async def post_caliper(request: web.Request) -> web.Response:
    """POST /caliper: an envelope {sensor, sendTime, dataVersion, data[]} with a bearer token.

    The envelope's valid items are taken; each invalid event (or one dated outside the
    policy's window) is dead-lettered on its own, with its problems. When no event is
    left to take, the request is refused (400) as a whole."""
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
    rejected = [(r, "invalid_event") for r in result.rejected]
    rejected += _out_of_window(ingest, result)
    received = len(data) if isinstance(data, list) else 0
    if rejected and not result.events:
        raise _all_refused(rejected)
    for item, reason in rejected:
        await _dead_letter_item(request, data, item, reason)
    await ingest.send_events(result.events, result.time_fields)
    ingest.count_unused("caliper", [*result.ignored, *result.notes])
    return web.json_response(
        {
            "received": received,
            "accepted": received - len(rejected),
            "rejected": len(rejected),
            "events": len(result.events),
            "ignored": len(result.ignored),
            "errors": [
                {"pointer": p.pointer, "detail": p.detail} for r, _ in rejected for p in r.problems
            ],
        }
    )


def _out_of_window(ingest: Ingest, result: Normalized) -> list[tuple[Rejected, str]]:
    """The events dated outside the policy's window, taken out of `result` as rejections."""
    found = ingest.time_problems(result.events, result.time_fields)
    late = {index for index, _, _ in found}
    out = [
        (Rejected(problem.pointer.removesuffix("/eventTime"), [problem]), reason)
        for _, reason, problem in found
    ]
    kept = [i for i in range(len(result.events)) if i not in late]
    result.events = [result.events[i] for i in kept]
    result.time_fields = [result.time_fields[i] for i in kept]
    return out


def _all_refused(rejected: list[tuple[Rejected, str]]) -> Refusal:
    reasons = {reason for _, reason in rejected}
    reason = reasons.pop() if len(reasons) == 1 else "invalid_payload"
    if reason == "invalid_event":
        reason = "invalid_payload"
    problems = [p for r, _ in rejected for p in r.problems]
    return Refusal(400, reason, f"{len(problems)} problem(s) in the payload", problems)


async def _dead_letter_item(request: web.Request, data: Any, item: Rejected, reason: str) -> None:
    """One refused item of an envelope on the dead-letter topic, with its own problems."""
    index = int(item.pointer.split("/")[2])
    try:
        body = orjson.dumps(data[index])
    except TypeError:  # nested deeper than orjson writes: the problems still say why
        body = b""
    detail = f"{len(item.problems)} problem(s) in {item.pointer}"
    await ingest_of(request).dead_letter(
        f"http:{request.method} {request.path}{item.pointer}", body, reason, detail, item.problems
    )
    ingest_of(request).metrics.ingest.rejects.labels("caliper", reason).inc()


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
    ingest.count_unused("canvas", result.ignored)
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
    ingest.count_unused("moodle", result.ignored)
    return _answer(result, 1)


def _too_many(count: int, limit: int) -> Refusal:
    return Refusal(413, "batch_too_large", f"{count} items in one request; the limit is {limit}")
