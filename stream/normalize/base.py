"""What every normaliser shares: identities and their resolution, problems, the result.

A normaliser is a pure function of a decoded JSON payload, the time it was received and a
`Resolve` callback that turns a source identity into a learner id:

    normalize_x(payload: Any, received_at: datetime, resolve: Resolve) -> Normalized

It raises `NormalizeError` listing every problem (a JSON pointer into the payload and a
sentence), and never anything else, whatever the payload.

A normaliser refuses only times no record can hold (`schemas.limits`); whether a time is
plausible for when it was received is the policy's window, judged by ingest
(`stream.core.bounds`), which names the field through `Normalized.time_fields`. What a
normaliser copies from the payload into `source_meta` goes through `source_meta`: a
verbose payload loses labels, never the event.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.events import ActedBy, EventKind, LearningEvent
from schemas.limits import MAX_META_KEY, MAX_META_KEYS, MAX_META_VALUE, representable
from schemas.roster import Identity
from stream.core.errors import TierwatchError

Resolve = Callable[[Identity], str]


def stable_learner_id(identity: Identity) -> str:
    """The learner id of an identity no profile claims: stable, derived from source and
    identity, revealing neither (a hash)."""
    digest = hashlib.sha256(f"{identity.source}|{identity.kind}|{identity.value}".encode())
    return f"{identity.source}-{digest.hexdigest()[:20]}"


def content_hash(payload: Any) -> str:
    """A stable hash of a JSON value (keys sorted): an id for sources that send none.

    Values orjson cannot write (integers beyond 64 bits, very deep nesting, lone
    surrogates) are hashed through the standard library's JSON instead; a value too deep
    even for that is a NormalizeError."""
    try:
        return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        pass
    try:
        text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=True)
    except (RecursionError, ValueError):
        raise NormalizeError([Problem("", "nested too deeply to be read")]) from None
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a payload: where (a JSON pointer, RFC 6901) and what."""

    pointer: str
    detail: str


class NormalizeError(TierwatchError):
    """A payload that cannot be normalised; `problems` names every offending field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.pointer or '/'}: {p.detail}" for p in problems))


@dataclass(frozen=True, slots=True)
class Ignored:
    """Valid input that is not learning activity (a voiding statement, an event type that
    says nothing of engagement), or a part of an event that could not be used (a grade
    without a score): where, why, and a short code for the metric that counts it."""

    pointer: str
    reason: str
    code: str = "not_activity"


@dataclass(frozen=True, slots=True)
class Rejected:
    """One item of a batch refused on its own while the rest is taken (a Caliper
    envelope's event): where it is, and every problem it has."""

    pointer: str
    problems: list[Problem]


@dataclass(slots=True)
class Normalized:
    """The events of a payload, what was deliberately not turned into an event
    (`ignored`), what was taken but used only in part (`notes`), and the items refused
    on their own (`rejected`, only where a format takes part of a batch).

    `time_fields[i]` is the JSON pointer of the field that gave `events[i]` its time
    ("" when the time is the moment of receipt): where a refusal of that time points."""

    events: list[LearningEvent] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    time_fields: list[str] = field(default_factory=list)
    notes: list[Ignored] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def add(self, event: LearningEvent, time_field: str) -> None:
        self.events.append(event)
        self.time_fields.append(time_field)


def source_meta(pairs: dict[str, str]) -> dict[str, str]:
    """Labels a source gave, as an event's `source_meta` holds them: at most the first
    `MAX_META_KEYS` keys (longer keys dropped), values cut to `MAX_META_VALUE` characters."""
    kept: dict[str, str] = {}
    for key, value in pairs.items():
        if len(kept) == MAX_META_KEYS:
            break
        if 0 < len(key) <= MAX_META_KEY:
            kept[key] = value[:MAX_META_VALUE]
    return kept


UNREPRESENTABLE = "is outside the times tierwatch can hold (0001-01-02 to 9999-12-30 UTC)"


def time_problem(at: datetime) -> str | None:
    """Why an aware time cannot be an event's (None when it can)."""
    return None if representable(at) else UNREPRESENTABLE


Where = tuple[str, ...]
Path = tuple[str | int, ...]  # where an item of a batch is: ("data", 3, "actor")
IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")  # a scheme, a colon, no white space


@dataclass(frozen=True, slots=True)
class Facts:
    """What one supported event says, before the fields every event has are added."""

    kind: EventKind
    learner: str | None
    object_id: str | None
    score: float | None = None
    success: bool | None = None
    acted_by: ActedBy | None = None  # someone else acted for the learner: no activity


class Found:
    """The problems found so far in one payload."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: Where, detail: str) -> None:
        self.problems.append(Problem(pointer(*where), detail))


def pointer(*parts: str | int) -> str:
    """A JSON pointer from path parts, escaped as RFC 6901 says."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d([.,]\d+)?)?([Zz]|[+-]\d\d(:?\d\d)?)?")


def parse_time(value: Any) -> tuple[datetime, bool] | None:
    """An ISO 8601 date-time in UTC, and whether UTC was assumed for want of an offset."""
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        return None
    try:
        parsed = datetime.fromisoformat(value.upper().replace(",", "."))
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC), True
        return parsed.astimezone(UTC), False
    except (ValueError, OverflowError):
        return None


def number(value: Any) -> float | None:
    """A finite JSON number as a float (booleans, huge integers and NaN are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def validated_event(
    fields: dict[str, Any], at: Path, problems: list[Problem]
) -> LearningEvent | None:
    """The event `fields` make, or None with a problem at `at` naming the first field the
    event refuses (for what the checks before it let through)."""
    try:
        return LearningEvent.model_validate(fields)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        problems.append(Problem(pointer(*at), f"not a valid event: {where}: {first['msg']}"))
        return None
