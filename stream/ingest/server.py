"""The ingest HTTP service: routes, the refusal middleware, start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

import orjson
import structlog
from aiohttp import web
from aiokafka import AIOKafkaConsumer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from schemas.roster import LearnerProfile
from stream.http.problems import Refusal, problem_response
from stream.ingest import canonical, lms, xapi
from stream.ingest.context import KEY, RAW, Ingest
from stream.ingest.jwt_events import JwksVerifier
from stream.ingest.memory import Memory
from stream.ingest.ratelimit import RateLimiter
from stream.ingest.sink import BrokerUnavailable, KafkaSink, Sink
from stream.ingest.statements import StatementRegistry
from stream.settings import Settings
from stream.topics import Topics

log = structlog.get_logger("tierwatch.ingest")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REASON: web.RequestKey[str] = web.RequestKey("refusal_reason", str)


async def _dead_letter(request: web.Request, refusal: Refusal) -> None:
    """Record a refused request on the dead-letter topic, its body scrubbed (of a CSV
    roster, only the header row: its rows are people, their contacts and leaving records)."""
    body = request.get(RAW, b"")
    if request.content_type == "text/csv":
        body = body.split(b"\n", 1)[0]
    await request.app[KEY].dead_letter(
        f"http:{request.method} {request.path}",
        body,
        refusal.reason,
        refusal.detail,
        refusal.problems,
    )


SOURCES = {
    "/xapi/statements": "xapi",
    "/caliper": "caliper",
    "/webhooks/canvas": "canvas",
    "/webhooks/moodle": "moodle",
}


def _count(request: web.Request, response: web.StreamResponse, reason: str | None) -> None:
    metrics = request.app[KEY].metrics
    route = request.match_info.route.resource
    endpoint = route.canonical if route is not None else "unmatched"
    metrics.ingest.requests.labels(endpoint, str(response.status)).inc()
    if reason is not None:
        metrics.ingest.rejects.labels(SOURCES.get(request.path, "canonical"), reason).inc()


@web.middleware
async def counted(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every request by endpoint and status, and every refusal by source and reason."""
    response = await handler(request)
    _count(request, response, request.get(REASON))
    return response


@web.middleware
async def refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refusals become problem details (and dead letters); an unreachable broker a 503."""
    try:
        response = await handler(request)
    except Refusal as refusal:
        request[REASON] = refusal.reason
        if refusal.status != 429:  # a throttled client retries; its request is not lost
            await _dead_letter(request, refusal)
        response = problem_response(refusal, request.path)
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        detail = f"{request.method} is not allowed on {request.path}; it takes {allowed}"
        not_allowed = Refusal(405, "method_not_allowed", detail, headers={"Allow": allowed})
        request[REASON] = not_allowed.reason  # nothing was sent, so nothing to dead-letter
        response = problem_response(not_allowed, request.path)
    except web.HTTPRequestEntityTooLarge as exc:
        too_large = Refusal(413, "body_too_large", exc.text or "the request body is too large")
        request[REASON] = too_large.reason
        await _dead_letter(request, too_large)
        response = problem_response(too_large, request.path)
    except BrokerUnavailable as exc:
        retry = {"Retry-After": "5"}
        route = request.match_info.route.resource
        endpoint = route.canonical if route is not None else "unmatched"
        log.warning("broker_unavailable", endpoint=endpoint, error=str(exc))
        response = problem_response(
            Refusal(503, "broker_unavailable", str(exc), headers=retry), request.path
        )
    if request.path.startswith("/xapi/") and xapi.VERSION_HEADER not in response.headers:
        response.headers[xapi.VERSION_HEADER] = xapi.answer_version(request)
    return response


async def healthz(request: web.Request) -> web.Response:
    """Alive."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the broker connection is up and the registry topic was read back by a
    reader still following it (a 503 until then, and while a failed reader restarts)."""
    ingest = request.app[KEY]
    connected = getattr(ingest.sink, "ready", True)
    loaded = ingest.memory.loaded.is_set()
    failure = ingest.memory.failure
    ready = connected and loaded
    detail = (
        "ready"
        if ready
        else "not connected to the broker yet"
        if not connected
        else f"the registry reader failed ({failure}); restarting"
        if failure is not None
        else "reading back the registry of stored statements"
    )
    return web.json_response({"ready": ready, "detail": detail}, status=200 if ready else 503)


async def metrics_view(request: web.Request) -> web.Response:
    """Prometheus text exposition of ingest's metrics."""
    body = generate_latest(request.app[KEY].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def make_app(settings: Settings, sink: Sink, topics: Topics) -> web.Application:
    """The aiohttp application, with the sink it writes to (started by the caller)."""
    app = web.Application(middlewares=[counted, refusals], client_max_size=settings.max_body_bytes)
    jwks = None
    if settings.canvas_jwks is not None:
        jwks = JwksVerifier(settings.canvas_jwks, settings.canvas_jwt_audience)
    limiter = RateLimiter(settings.rate_per_s, settings.rate_burst)
    remembered = StatementRegistry(settings.xapi_statements_remembered)
    memory = Memory(statements=remembered)
    app[KEY] = Ingest(settings, sink, topics, limiter, memory=memory, canvas_jwks=jwks)
    app.router.add_post("/xapi/statements", xapi.post_statements)
    app.router.add_put("/xapi/statements", xapi.put_statement)
    app.router.add_get("/xapi/about", xapi.get_about)
    app.router.add_post("/caliper", lms.post_caliper)
    app.router.add_post("/webhooks/canvas", lms.post_canvas)
    app.router.add_post("/webhooks/moodle", lms.post_moodle)
    app.router.add_post("/events", canonical.post_events)
    app.router.add_post("/roster", canonical.post_roster)
    app.router.add_post("/assignments", canonical.post_assignments)
    app.router.add_post("/interventions", canonical.post_interventions)
    app.router.add_get("/identities/unmapped", canonical.get_unmapped)
    app.router.add_delete("/learners/{learner_id}", canonical.delete_learner)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    return app


async def follow_profiles(app: web.Application, bootstrap: str) -> None:
    """Keep the identity map up to date from the (compacted) profiles topic, once the
    registry topic was read back: an erasure (a tombstone) forgets what it remembers of
    the learner, there too."""
    ingest = app[KEY]
    await ingest.memory.loaded.wait()
    consumer = AIOKafkaConsumer(
        ingest.topics.profiles, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    while True:
        try:
            await consumer.start()
            break
        except Exception as exc:
            log.warning("profiles_unreachable", error=str(exc))
            await asyncio.sleep(2)
    try:
        async for message in consumer:
            if message.value is None:
                if message.key:
                    await _erase(ingest, message.key.decode("utf-8", "replace"))
                continue
            with contextlib.suppress(ValidationError, orjson.JSONDecodeError):
                ingest.identities.learn(LearnerProfile.model_validate_json(message.value))
    finally:
        await consumer.stop()


async def _erase(ingest: Ingest, learner_id: str) -> None:
    try:
        await ingest.erase(learner_id)
    except BrokerUnavailable as exc:  # forgotten here; written with the next write
        log.warning("registry_erasure_pending", error=str(exc))


async def serve(settings: Settings, bootstrap: str, ready: asyncio.Event | None = None) -> None:
    """Run ingest until SIGTERM or SIGINT: connect the sink, follow profiles, listen."""
    topics = Topics.named(settings.topic_prefix)
    sink = KafkaSink(bootstrap, settings.ack_timeout_s)
    await sink.start()
    app = make_app(settings, sink, topics)
    registry = asyncio.create_task(app[KEY].memory.follow(topics.registry, bootstrap))
    follower = asyncio.create_task(follow_profiles(app, bootstrap))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.ingest_host, settings.ingest_port)
    await site.start()
    log.info("ingest_listening", host=settings.ingest_host, port=settings.ingest_port)
    if ready is not None:
        ready.set()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("ingest_stopping")
    finally:
        follower.cancel()
        registry.cancel()
        await runner.cleanup()
        await sink.stop()
