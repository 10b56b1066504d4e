"""Bytes on topics to records and back: inputs, ticks, CloudEvents and dead letters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import orjson
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from schemas.clock import Tick
from schemas.deadletter import DeadLetter
from schemas.events import LearningEvent
from schemas.history import Record
from schemas.reminders import FollowUpOverdue
from schemas.roster import Assignment, Intervention, LearnerProfile
from schemas.teams import TeamDigest
from schemas.transitions import TierTransition
from stream import scrub
from stream.errors import InvalidRecord
from stream.scrub import Pseudonym

TRANSITION_TYPE = "org.tierwatch.tier.transition.v1"
FOLLOW_UP_TYPE = "org.tierwatch.followup.overdue.v1"  # `schemas.reminders.FollowUpOverdue`
DIGEST_TYPE = "org.tierwatch.team.digest.v1"  # `schemas.teams.TeamDigest`
MAX_DEAD_PAYLOAD = scrub.MAX_PAYLOAD
INPUT_MODELS: dict[
    str, type[LearningEvent] | type[LearnerProfile] | type[Assignment] | type[Intervention]
] = {
    "event": LearningEvent,
    "profile": LearnerProfile,
    "assignment": Assignment,
    "intervention": Intervention,
}
_FORMAT = JSONFormat()


def _summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "(message)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def decode_input(kind: str, key: bytes | None, value: bytes | None) -> Record:
    """A record from a per-learner input topic, or InvalidRecord saying what is wrong."""
    if value is None:
        raise InvalidRecord("empty", "the message has no value")
    model = INPUT_MODELS[kind]
    try:
        record = model.model_validate_json(value)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise InvalidRecord("not_json", _summary(exc)) from None
        raise InvalidRecord("invalid_fields", _summary(exc)) from None
    if key is None:
        raise InvalidRecord("missing_key", "per-learner records are keyed by their learner_id")
    if key.decode("utf-8", "replace") != record.learner_id:
        raise InvalidRecord("key_mismatch", "the message key is not the record's learner_id")
    return record


def encode_record(record: Record) -> bytes:
    """A record as JSON for a topic. An intervention's free-text note is never forwarded:
    it stops at the edge that received it."""
    exclude = {"note"} if isinstance(record, Intervention) else None
    return record.model_dump_json(exclude_none=True, exclude=exclude).encode()


def decode_tick(value: bytes | None) -> Tick:
    if value is None:
        raise InvalidRecord("empty", "the tick has no value")
    try:
        return Tick.model_validate_json(value)
    except ValidationError as exc:
        raise InvalidRecord("invalid_tick", _summary(exc)) from None


def encode_tick(now: dt.datetime, partition: int, barrier: dict[str, int] | None = None) -> bytes:
    return Tick(now=now, partition=partition, barrier=barrier or {}).model_dump_json().encode()


def encode_transition(transition: TierTransition, source: str) -> bytes:
    """A transition as a CloudEvents 1.0 JSON document."""
    return _cloudevent(TRANSITION_TYPE, transition, source, transition.learner_id)


def encode_follow_up(overdue: FollowUpOverdue, source: str) -> bytes:
    """An overdue follow-up (a reminder or its escalation) as a CloudEvents 1.0 JSON
    document of its own type, on the alerts topic beside the transitions."""
    return _cloudevent(FOLLOW_UP_TYPE, overdue, source, overdue.learner_id)


def encode_digest(digest: TeamDigest, source: str) -> bytes:
    """A manager's weekly digest as a CloudEvents 1.0 JSON document of its own type, on the
    alerts topic (its subject: the manager)."""
    return _cloudevent(DIGEST_TYPE, digest, source, subject=digest.manager_id)


def _cloudevent(
    kind: str, data: TierTransition | FollowUpOverdue | TeamDigest, source: str, subject: str
) -> bytes:
    event = CloudEvent(
        {
            "id": data.id,
            "source": source,
            "type": kind,
            "subject": subject,
            "time": data.at,
            "datacontenttype": "application/json",
        },
        data.model_dump(mode="json"),
    )
    return _FORMAT.write(event)


def decode_transition(value: bytes) -> TierTransition:
    """The transition inside a CloudEvents JSON document, or InvalidRecord (an overdue
    follow-up or a digest too: readers of transitions alone use this, `decode_alert` reads
    every kind)."""
    alert = decode_alert(value)
    if not isinstance(alert, TierTransition):
        kind = DIGEST_TYPE if isinstance(alert, TeamDigest) else FOLLOW_UP_TYPE
        raise InvalidRecord("not_a_transition", f"CloudEvent type {kind!r}")
    return alert


def decode_alert(value: bytes) -> TierTransition | FollowUpOverdue | TeamDigest:
    """What the alerts topic holds: a transition, an overdue follow-up or a manager's
    digest, inside a CloudEvents JSON document; InvalidRecord for anything else."""
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecord("not_json", str(exc)) from None
    if not isinstance(document, dict):
        raise InvalidRecord("not_a_transition", "the document is not a JSON object")
    kind = document.get("type")
    model: type[TierTransition] | type[FollowUpOverdue] | type[TeamDigest]
    if kind == TRANSITION_TYPE:
        model = TierTransition
    elif kind == FOLLOW_UP_TYPE:
        model = FollowUpOverdue
    elif kind == DIGEST_TYPE:
        model = TeamDigest
    else:
        raise InvalidRecord("not_a_transition", f"CloudEvent type {kind!r}")
    try:
        return model.model_validate(document.get("data"))
    except ValidationError as exc:
        raise InvalidRecord("invalid_fields", _summary(exc)) from None


def transitions_of(values: Iterable[bytes]) -> list[TierTransition]:
    """The transitions among records of the alerts topic (overdue follow-ups and digests
    left out)."""
    return [a for a in map(decode_alert, values) if isinstance(a, TierTransition)]


def decode_transition_json(value: bytes) -> TierTransition:
    """A transition written as plain JSON (a replay output line)."""
    return TierTransition.model_validate_json(value)


def dead_letter(
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    value: bytes | None,
    error: InvalidRecord,
    now: dt.datetime,
    *,
    pseudonym: Pseudonym | None = None,
    problems: Sequence[Mapping[str, str]] = (),
    redrivable: bool = False,
) -> bytes:
    """A dead-letter record for a refused message: where it came from, why, and only what
    diagnosis needs of the message (`stream.scrub`: personal fields removed, learner ids
    pseudonymised with `pseudonym` when given, addresses masked in the detail too). The key
    is kept as it came: redrive and erasure need it.

    Never raises, whatever the input: a letter that cannot be built whole is built from
    what can be kept (the reason, and a sentence saying why the rest is missing)."""
    at = now if isinstance(now, dt.datetime) else dt.datetime.now(dt.UTC)
    at = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    reason = scrub.text(getattr(error, "reason", "unknown"), 200)
    try:
        text, _ = scrub.payload(value, pseudonym)
        letter = DeadLetter(
            topic=scrub.text(topic, 300),
            partition=partition if isinstance(partition, int) else None,
            offset=offset if isinstance(offset, int) else None,
            key=key.decode("utf-8", "replace") if isinstance(key, bytes) else None,
            reason=reason,
            detail=scrub.text(getattr(error, "detail", "")),
            payload=text,
            at=at,
            problems=[
                {str(k): scrub.text(v, 500) for k, v in problem.items()} for problem in problems
            ],
            redrivable=bool(redrivable),
        )
        return letter.model_dump_json().encode()
    except Exception as exc:  # a refusal must never fail for the shape of what it refuses
        fallback = {
            "topic": str(topic)[:300] if isinstance(topic, str) else "?",
            "key": key.decode("utf-8", "replace") if isinstance(key, bytes) else None,
            "reason": reason,
            "detail": f"the dead letter could not be built whole: {type(exc).__name__}",
            "payload": "",
            "at": at.isoformat(),
        }
        return orjson.dumps(fallback)
