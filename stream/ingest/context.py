"""What every ingest view shares, and the steps every request goes through."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from schemas.events import LearningEvent
from stream import codec
from stream.core.bounds import event_time_problem
from stream.core.policy import Policy
from stream.errors import ConfigError, InvalidRecord, TierwatchError
from stream.http.problems import Refusal
from stream.ingest.identity import IdentityMap
from stream.ingest.jwt_events import JwksVerifier
from stream.ingest.memory import Memory
from stream.ingest.ratelimit import RateLimiter
from stream.ingest.sink import Sink
from stream.ingest.statements import StatementRegistry
from stream.logs import Pseudonymizer
from stream.metrics import Metrics
from stream.normalize.base import Ignored, NormalizeError, Problem
from stream.policyfile import load_policy
from stream.settings import Settings
from stream.topics import Topics


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


MAX_TIME_PROBLEMS = 20  # problems listed in a refusal of event times (the count is in full)


@dataclass
class Ingest:
    """Settings, the sink, what ingest remembers (`memory`: the identity map and the xAPI
    statements stored) and the limits of one ingest service.

    `policy` (the settings' policy file unless given) names the window of event times
    ingest takes; `clock` says when a request was received."""

    settings: Settings
    sink: Sink
    topics: Topics
    limiter: RateLimiter
    memory: Memory = field(default_factory=Memory)
    canvas_jwks: JwksVerifier | None = None
    metrics: Metrics = field(default_factory=lambda: Metrics.create(parts=("ingest",)))
    policy: Policy | None = None
    clock: Callable[[], dt.datetime] = now

    def __post_init__(self) -> None:
        unmapped = self.metrics.ingest.unmapped_identities
        self.identities.on_unmapped = lambda identity: unmapped.labels(identity.source).inc()
        if self.policy is None:
            self.policy = load_policy(self.settings.policy_file)

    @property
    def identities(self) -> IdentityMap:
        return self.memory.identities

    @property
    def statements(self) -> StatementRegistry:
        return self.memory.statements

    async def remember(self) -> None:
        """Write what ingest learned to its registry topic (`stream.ingest.memory`)."""
        await self.memory.write(self.sink, self.topics.registry)

    async def erase(self, learner_id: str) -> None:
        """Forget a learner's identities and statements, on the registry topic too."""
        self.memory.erase(learner_id)
        await self.remember()

    @property
    def loaded_policy(self) -> Policy:
        """The policy whose window of event times ingest applies (`__post_init__` loads
        the settings' policy file when none was given)."""
        if self.policy is None:
            raise ConfigError("ingest has no policy: give one, or a readable policy file")
        return self.policy

    def throttle(self, credential: str) -> None:
        """Refuse with 429 when the credential is over its rate."""
        if self.limiter is None:
            raise ConfigError("ingest has no rate limiter: give Ingest a RateLimiter")
        wait = self.limiter.take(credential)
        if wait > 0:
            retry = str(max(1, round(wait + 0.5)))
            raise Refusal(
                429,
                "rate_limited",
                f"too many requests; retry in {retry}s",
                headers={"Retry-After": retry},
            )

    def time_problems(
        self, events: Sequence[LearningEvent], time_fields: Sequence[str] = ()
    ) -> list[tuple[int, str, Problem]]:
        """Each event whose time is outside the policy's window around now
        (`stream.core.bounds`): its index, the reason and the problem, pointing at
        `time_fields[i]` (the field that gave event i its time)."""
        policy = self.loaded_policy
        received = self.clock()
        found: list[tuple[int, str, Problem]] = []
        for index, event in enumerate(events):
            problem = event_time_problem(event.occurred_at, received, policy)
            if problem is None:
                continue
            where = time_fields[index] if index < len(time_fields) else ""
            detail = problem.detail if where else f"event {event.id}: {problem.detail}"
            found.append((index, problem.reason, Problem(where, detail)))
        return found

    def check_times(self, events: Sequence[LearningEvent], time_fields: Sequence[str] = ()) -> None:
        """Refuse the request (400) when any event's time is outside the policy's window
        around now (`stream.core.bounds`); `time_fields[i]` points at event i's time."""
        policy = self.loaded_policy
        found = self.time_problems(events, time_fields)
        if found:
            reasons = {reason for _, reason, _ in found}
            reason = "event_in_the_future" if "event_in_the_future" in reasons else "event_too_old"
            detail = (
                f"{len(found)} event(s) dated outside the policy's window "
                f"({policy.events.max_skew_minutes:g} minutes ahead of the moment "
                f"received, {policy.events.max_age_days} days before it)"
            )
            problems = [problem for _, _, problem in found]
            raise Refusal(400, reason, detail, problems[:MAX_TIME_PROBLEMS])

    async def dead_letter(
        self, origin: str, payload: bytes, reason: str, detail: str, problems: Sequence[Problem]
    ) -> None:
        """Record refused input on the dead-letter topic, scrubbed of personal data
        (`stream.scrub`; learner ids pseudonymised with TIERWATCH_PSEUDONYM_KEY)."""
        letter = codec.dead_letter(
            origin,
            None,
            None,
            None,
            payload,
            InvalidRecord(reason, detail),
            now(),
            pseudonym=Pseudonymizer(self.settings.pseudonym_key.get_secret_value()),
            problems=[{"pointer": p.pointer, "detail": p.detail} for p in problems],
        )
        await self.sink.dead_letter(self.topics.deadletter, None, letter)

    def count_unused(self, source: str, unused: Iterable[Ignored]) -> None:
        """Count what was taken but not used (in full), by its code."""
        for item in unused:
            self.metrics.ingest.unused.labels(source, item.code).inc()

    async def send_events(
        self,
        events: Sequence[LearningEvent],
        time_fields: Sequence[str] = (),
        remember: bool = True,
    ) -> None:
        """Produce events keyed by learner and wait for the broker's acknowledgement; all
        or none: one event outside the window of event times refuses the request. Then
        (unless `remember` is false: the caller will) write what ingest learned meanwhile
        (identities no profile claims) to its registry topic."""
        self.check_times(events, time_fields)
        if events:
            records = [(e.learner_id, codec.encode_record(e)) for e in events]
            started = time.perf_counter()
            await self.sink.send(self.topics.events, records)
            self.metrics.ingest.ack_seconds.observe(time.perf_counter() - started)
            for event in events:
                self.metrics.ingest.events_in.labels(event.source, event.kind).inc()
        if remember:
            await self.remember()


KEY: web.AppKey[Ingest] = web.AppKey("ingest", Ingest)
RAW: web.RequestKey[bytes] = web.RequestKey("raw", bytes)


def ingest_of(request: web.Request) -> Ingest:
    return request.app[KEY]


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


class _DuplicateKey(TierwatchError):
    """A JSON object names `key` twice (raised while parsing, to stop at the first)."""

    def __init__(self, key: str) -> None:
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> None:
    if len(pairs) > 1 and len({key for key, _ in pairs}) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)


def refuse_duplicate_keys(body: bytes) -> None:
    """Refuse (400) a JSON body in which an object names a key twice: which value was
    meant is unknowable, and JSON parsers disagree (most keep the last). The body must
    already be valid JSON."""
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as exc:
        detail = f"the key {exc.key[:64]!r} appears twice in one object"
        raise Refusal(400, "duplicate_json_key", detail, [Problem("", detail)]) from None
    except (RecursionError, ValueError):
        raise Refusal(400, "not_json", "the body is nested too deeply to be read") from None


async def read_body(request: web.Request) -> bytes:
    """The raw body (kept on the request for the dead-letter record)."""
    body = await request.read()
    request[RAW] = body
    return body


def refuse_invalid(
    exc: NormalizeError, status: int = 400, reason: str = "invalid_payload"
) -> Refusal:
    return Refusal(status, reason, f"{len(exc.problems)} problem(s) in the payload", exc.problems)
