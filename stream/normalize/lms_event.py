"""What the LMS normalisers (Canvas Live Events, Moodle webhooks) share.

Both turn one payload into at most one event, from the `Facts` its handler found: the
learner is an LMS user (`Identity(source, "user", id)`), the object an id with a prefix
("course:42"), the event id "{source}:" + the content hash of the payload (neither LMS
sends an event id), and a problem names the JSON type of a bad value, never the value (it
may be personal). How each reads its ids, times and names stays in its own module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.events import LearningEvent
from schemas.roster import Identity
from stream.normalize.base import (
    Facts,
    Found,
    Normalized,
    NormalizeError,
    Resolve,
    content_hash,
    source_meta,
)


def lms_event(
    found: Found,
    facts: Facts,
    *,
    source: str,
    hashed: Any,
    occurred_at: datetime | None,
    meta: dict[str, str],
    time_field: str,
    resolve: Resolve,
) -> Normalized:
    """The one event of an LMS payload: its facts and time, the learner resolved from the
    source's user id, the id from the content hash of `hashed` (what of the payload says
    which event it is); a `NormalizeError` with every problem found when anything is
    missing or wrong. `meta` is copied into `source_meta` after `format` (the source)."""
    learner, object_id = facts.learner, facts.object_id
    event_id = None if found.problems else f"{source}:{content_hash(hashed)}"  # no noise
    if found.problems or not (occurred_at and event_id and learner and object_id):
        raise NormalizeError(found.problems)
    event = LearningEvent(
        id=event_id,
        learner_id=resolve(Identity(source=source, kind="user", value=learner)),
        occurred_at=occurred_at,
        kind=facts.kind,
        object_id=object_id,
        score=facts.score,
        success=facts.success,
        acted_by=facts.acted_by,
        source=source,
        source_meta=source_meta({"format": source, **meta}),
    )
    return Normalized(events=[event], time_fields=[time_field])


def join(prefix: str | None, value: str | None) -> str | None:
    """An object id "prefix:value", or None when either part is missing (a bad field)."""
    return None if prefix is None or value is None else f"{prefix}:{value}"


def expected(what: str, value: Any) -> str:
    """The detail of a problem: "is required: ..." for a missing value, else what it must
    be and what JSON type it was."""
    if value is None:
        return f"is required: {what}"
    return f"must be {what}, not {json_type(value)}"


def json_type(value: Any) -> str:
    """The JSON type of a value, for a problem (never the value: it may be personal)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number out of range" if isinstance(value, int) else "a number"
    if isinstance(value, str):
        return "a string of another form"
    return "an array" if isinstance(value, list) else "an object"
