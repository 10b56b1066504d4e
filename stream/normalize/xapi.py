"""xAPI statements (1.0.3 and 2.0) -> `LearningEvent`.

`normalize_statements` takes the body of a statements POST: one statement or an array.

Verb (`verb.id`; the ADL namespaces http://adlnet.gov/expapi/verbs/ and
https://w3id.org/xapi/adl/verbs/ are one vocabulary) -> kind:

    session      launched initialized resumed suspended terminated exited abandoned
                 logged-in logged-out attended
    view         experienced; tincan viewed; video played paused seeked
    progress     progressed interacted commented asked shared responded attempted, and
                 every verb not listed here; answered (item level: score and success
                 are dropped, an item answer is not an assessment result)
    completion   completed, satisfied (cmi5); also any progress/view/session verb whose
                 result.completion is true on a module, course, lesson or cmi5 block
    assessment   passed failed scored (a result.completion does not change these);
                 passed and failed imply success true and false unless result.success
                 says otherwise
    voided       a `voided` event for the learner of the statement it voids, which
                 takes that statement's event back (`stream.normalize.xapi_voiding`);
                 ignored when that statement is unknown (`void_unknown`)
    ignored      registered (an enrolment), waived (cmi5: the LMS waived the requirement)

Learner: `actor`, an Agent with exactly one of mbox (lowercased), mbox_sha1sum
(lowercased), openid, account ("homePage|name"), or an identified Group (one of these
too; the identity registry maps it like an Agent). An anonymous Group (members only)
names no one learner: its statement is valid and ignored (`anonymous_group`).
(`stream.normalize.xapi_agents`.)
Event id: "xapi:" + the statement id (a variant-1 UUID, lowercased).
Object id: an Activity's IRI; "xapi:<uuid>" for a StatementRef; the inner object's id
for a SubStatement; "xapi-agent:<hash>" for an Agent or Group, never their address.
Score: result.score.scaled (negatives clamped to 0), else (raw - min) / (max - min).
Time: `timestamp`, else `stored`, else received_at; a time without an offset is UTC
(xAPI says a timestamp SHOULD carry one and an LRS SHOULD answer in UTC); the offset
-00:00 (RFC 3339's unknown local offset) is a problem, as xAPI requires.
An Agent or Group as object must be one as the actor must (an Agent has an identifier).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.events import MAX_ID, LearningEvent
from stream.normalize.base import (
    IRI,
    Ignored,
    Normalized,
    NormalizeError,
    Path,
    Problem,
    Resolve,
    content_hash,
    number,
    parse_time,
    pointer,
    source_meta,
    time_problem,
    validated_event,
)
from stream.normalize.xapi_agents import ANONYMOUS, agent_or_group
from stream.normalize.xapi_verbs import (
    IGNORED_VERBS,
    ITEM_LEVEL,
    MODULE_TYPES,
    VOIDED,
    implied_success,
    verb_kind,
)
from stream.normalize.xapi_voiding import Lookup, unknown, voidable

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_VERSION = re.compile(r"(1\.0|2\.0)(\.\d+)?")
_UNKNOWN_OFFSET = re.compile(r"-00(:?00)?$")
_NUM = r"(\d+(?:[.,]\d+)?)"
_DURATION = re.compile(
    rf"P(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"
)
# Y, M, W, D, H, M, S in seconds; a year is 365 days and a month 30 (xAPI gives no rule).
_UNIT_SECONDS = (365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1)


def canonical_uuid(value: Any) -> str | None:
    """A statement id as xAPI requires it (RFC 4122 variant, hyphenated), lowercased."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        return None
    parsed = uuid.UUID(value)
    return str(parsed) if parsed.variant == uuid.RFC_4122 else None


def parse_duration(value: Any) -> float | None:
    """Seconds in an ISO 8601 duration such as PT1H2M3.5S; None if it is not one."""
    if not isinstance(value, str) or value.endswith("T") or value == "P":
        return None
    match = _DURATION.fullmatch(value)
    if match is None:
        return None
    total = sum(
        float(part.replace(",", ".")) * unit
        for part, unit in zip(match.groups(), _UNIT_SECONDS, strict=True)
        if part is not None
    )
    return total if math.isfinite(total) else None


def _statements(payload: Any) -> list[tuple[Path, Any]]:
    if isinstance(payload, list):
        return [((i,), item) for i, item in enumerate(payload)]
    return [((), payload)]


def normalize_statements(
    payload: Any, received_at: datetime, resolve: Resolve, voided: Lookup = unknown
) -> Normalized:
    """The learning events of an xAPI statements body; raises `NormalizeError` listing
    every problem of every statement. `voided` says what a statement stored earlier was
    (for a voiding of it); statements earlier in the body are known without it."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must carry an offset")
    if not isinstance(payload, dict | list):
        raise NormalizeError([Problem("", "expected a statement object or an array of them")])
    problems: list[Problem] = []
    out = Normalized()
    seen: dict[str, Path] = {}
    made: dict[str, LearningEvent] = {}

    def lookup(sid: str) -> Any:
        return voidable(made[sid]) if sid in made else voided(sid)

    for at, item in _statements(payload):
        result = _statement(item, at, received_at, resolve, problems, lookup)
        sid = canonical_uuid(item.get("id")) if isinstance(item, dict) else None
        if sid is not None and sid in seen:
            problems.append(Problem(pointer(*at, "id"), f"repeats the id of {pointer(*seen[sid])}"))
        elif sid is not None:
            seen[sid] = at
        if isinstance(result, LearningEvent):
            made[result.id.removeprefix("xapi:")] = result
            out.add(result, _time_field(item, at))
        elif isinstance(result, Ignored):
            out.ignored.append(result)
    if problems:
        raise NormalizeError(problems)
    return out


def _statement(
    item: Any,
    at: Path,
    received_at: datetime,
    resolve: Resolve,
    problems: list[Problem],
    lookup: Lookup = unknown,
) -> LearningEvent | Ignored | None:
    if not isinstance(item, dict):
        problems.append(Problem(pointer(*at), "a statement must be an object"))
        return None
    before = len(problems)
    sid = canonical_uuid(item.get("id"))
    if sid is None:
        problems.append(Problem(pointer(*at, "id"), "must be a UUID (assign ids before this)"))
    verb = item.get("verb")
    verb_iri = verb.get("id") if isinstance(verb, dict) else None
    if not isinstance(verb_iri, str) or not IRI.fullmatch(verb_iri):
        problems.append(Problem(pointer(*at, "verb", "id"), "must be an IRI"))
        return None
    if verb_iri == VOIDED:
        return _voiding(item, at, received_at, problems, lookup)
    identity = agent_or_group(item.get("actor"), (*at, "actor"), problems)
    object_id, is_module = _object(item.get("object"), (*at, "object"), problems)
    outcome = _result(item.get("result"), (*at, "result"), problems)
    when, meta = _time(item, at, received_at, problems)
    version = item.get("version")
    if version is not None and not (isinstance(version, str) and _VERSION.fullmatch(version)):
        problems.append(Problem(pointer(*at, "version"), "must be 1.0.x or 2.0.x"))
    if len(problems) > before or identity is None or object_id is None or sid is None:
        return None
    if identity == ANONYMOUS:
        reason = "an anonymous Group: no one learner to count"
        return Ignored(pointer(*at, "actor"), reason, "anonymous_group")
    verb_name = verb_iri.rsplit("/", 1)[-1]
    kind = verb_kind(verb_iri)
    if kind is None:
        return Ignored(pointer(*at), IGNORED_VERBS.get(verb_name, "not learning activity"))
    if kind in ("session", "view", "progress") and outcome.completion and is_module:
        kind = "completion"
    scored = kind in ("assessment", "completion") and verb_name not in ITEM_LEVEL
    fields = {
        "id": f"xapi:{sid}",
        "learner_id": resolve(identity),
        "occurred_at": when,
        "kind": kind,
        "object_id": object_id,
        "score": outcome.score if scored else None,
        "success": _success(outcome.success, verb_iri) if scored else None,
        "duration_s": outcome.duration_s,
        "source": "xapi",
        "source_meta": source_meta(
            {"format": "xapi", **meta, **({"version": version} if version else {})}
        ),
    }
    return validated_event(fields, at, problems)


def _success(stated: bool | None, verb_iri: str) -> bool | None:
    """result.success when the statement gives it, else what the verb implies."""
    return stated if stated is not None else implied_success(verb_iri)


def voided_statement_id(statement: Any) -> str | None:
    """The id of the statement a voiding statement voids; None for any other statement."""
    if not isinstance(statement, dict) or not isinstance(statement.get("verb"), dict):
        return None
    target = statement.get("object")
    if statement["verb"].get("id") != VOIDED or not isinstance(target, dict):
        return None
    return canonical_uuid(target.get("id")) if target.get("objectType") == "StatementRef" else None


def _voiding(
    item: dict[str, Any],
    at: Path,
    received_at: datetime,
    problems: list[Problem],
    lookup: Lookup,
) -> LearningEvent | Ignored | None:
    before = len(problems)
    if not isinstance(item.get("actor"), dict):
        problems.append(Problem(pointer(*at, "actor"), "must be an Agent or Group object"))
    target = voided_statement_id(item)
    if target is None:
        problems.append(Problem(pointer(*at, "object"), "must be a StatementRef with a UUID id"))
    when, meta = _time(item, at, received_at, problems)
    sid = canonical_uuid(item.get("id"))
    if len(problems) > before or sid is None or target is None:
        return None
    found = lookup(target)
    if found is None:
        reason = f"voids statement {target}, which counted for no one here"
        return Ignored(pointer(*at), reason, "void_unknown")
    fields = {
        "id": f"xapi:{sid}",
        "learner_id": found.learner_id,
        "occurred_at": when,
        "kind": "voided",
        "object_id": found.retracts.id,
        "source": "xapi",
        "source_meta": source_meta({"format": "xapi", **meta}),
        "retracts": found.retracts,
    }
    return validated_event(fields, at, problems)


def _object(
    obj: Any, at: Path, problems: list[Problem], nested: bool = False
) -> tuple[str | None, bool]:
    """The object id and whether the object is a module-like Activity."""
    if not isinstance(obj, dict):
        problems.append(Problem(pointer(*at), "must be an object"))
        return None, False
    kind = obj.get("objectType", "Activity")
    if kind in ("Agent", "Group"):
        if agent_or_group(obj, at, problems) is None:
            return None, False
        return f"xapi-agent:{content_hash(obj)[:20]}", False
    if kind == "StatementRef":
        ref = canonical_uuid(obj.get("id"))
        if ref is None:
            problems.append(Problem(pointer(*at, "id"), "must be a UUID"))
        return (f"xapi:{ref}" if ref else None), False
    if kind == "SubStatement" and not nested:
        return _object(obj.get("object"), (*at, "object"), problems, nested=True)
    if kind != "Activity":
        problems.append(Problem(pointer(*at, "objectType"), f"unsupported object {kind!r}"))
        return None, False
    iri = obj.get("id")
    if not isinstance(iri, str) or not IRI.fullmatch(iri) or len(iri) > MAX_ID:
        problems.append(Problem(pointer(*at, "id"), f"must be an IRI of at most {MAX_ID} chars"))
        return None, False
    definition = obj.get("definition")
    is_module = isinstance(definition, dict) and definition.get("type") in MODULE_TYPES
    return iri, is_module


@dataclass(frozen=True, slots=True)
class _Outcome:
    score: float | None = None
    success: bool | None = None
    completion: bool | None = None
    duration_s: float | None = None


def _result(result: Any, at: Path, problems: list[Problem]) -> _Outcome:
    if result is None:
        return _Outcome()
    if not isinstance(result, dict):
        problems.append(Problem(pointer(*at), "must be an object"))
        return _Outcome()
    flags: dict[str, bool | None] = {}
    for key in ("success", "completion"):
        flags[key] = result.get(key)
        if key in result and not isinstance(result[key], bool):
            problems.append(Problem(pointer(*at, key), "must be true or false"))
            flags[key] = None
    duration = None
    if "duration" in result:
        duration = parse_duration(result["duration"])
        if duration is None:
            problems.append(Problem(pointer(*at, "duration"), "must be an ISO 8601 duration"))
    score = _score(result["score"], (*at, "score"), problems) if "score" in result else None
    return _Outcome(score, flags["success"], flags["completion"], duration)


def _score(score: Any, at: Path, problems: list[Problem]) -> float | None:
    if not isinstance(score, dict):
        problems.append(Problem(pointer(*at), "must be an object"))
        return None
    before = len(problems)
    n: dict[str, float] = {}
    for key in ("scaled", "raw", "min", "max"):
        if key in score:
            value = number(score[key])
            if value is None:
                problems.append(Problem(pointer(*at, key), "must be a finite number"))
            else:
                n[key] = value
    if "scaled" in n and not -1.0 <= n["scaled"] <= 1.0:
        problems.append(Problem(pointer(*at, "scaled"), "must be between -1 and 1"))
    if "min" in n and "max" in n and n["min"] >= n["max"]:
        problems.append(Problem(pointer(*at, "max"), "must be greater than min"))
    elif "raw" in n and not n.get("min", -math.inf) <= n["raw"] <= n.get("max", math.inf):
        problems.append(Problem(pointer(*at, "raw"), "must lie between min and max"))
    if len(problems) > before:
        return None
    if "scaled" in n:
        return max(0.0, n["scaled"])
    if {"raw", "min", "max"} <= n.keys():
        scaled = (n["raw"] - n["min"]) / (n["max"] - n["min"])
        return min(1.0, max(0.0, scaled)) if math.isfinite(scaled) else None
    return None  # a raw score without a range says nothing comparable


def _time(
    item: dict[str, Any], at: Path, received_at: datetime, problems: list[Problem]
) -> tuple[datetime, dict[str, str]]:
    for key in ("timestamp", "stored"):
        if key in item:
            parsed = parse_time(item[key])
            if parsed is None:
                problems.append(Problem(pointer(*at, key), "must be an ISO 8601 date-time"))
                return received_at, {}
            if _UNKNOWN_OFFSET.search(item[key]):
                detail = "the offset -00:00 (an unknown local offset, RFC 3339) is not allowed"
                problems.append(Problem(pointer(*at, key), detail))
                return received_at, {}
            when, assumed = parsed
            if (problem := time_problem(when)) is not None:
                problems.append(Problem(pointer(*at, key), problem))
                return received_at, {}
            return when, {"time": key, **({"tz": "assumed-utc"} if assumed else {})}
    return received_at, {"time": "received"}


def _time_field(item: dict[str, Any], at: Path) -> str:
    """The pointer of the field a statement's time came from ("" for the time of receipt)."""
    for key in ("timestamp", "stored"):
        if key in item:
            return pointer(*at, key)
    return ""


def assign_ids(payload: Any, new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> Any:
    """The payload with a fresh UUID on every statement object that has no `id` (copies;
    the input is untouched). Anything else passes through for the normaliser to judge."""

    def with_id(item: Any) -> Any:
        return (
            {**item, "id": str(new_id())} if isinstance(item, dict) and "id" not in item else item
        )

    return [with_id(s) for s in payload] if isinstance(payload, list) else with_id(payload)
