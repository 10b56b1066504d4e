"""IMS Caliper 1.1 and 1.2 envelopes -> `LearningEvent`.

`normalize_envelope` takes `{sensor, sendTime, dataVersion, data[]}`. An unknown
`dataVersion` raises `UnsupportedDataVersion` (HTTP 422); any other problem raises
`NormalizeError` (HTTP 400) listing every bad field.

Event type and action -> kind (any other action of these types, any other event type,
and data items that are entities rather than events are `ignored`):

    SessionEvent         LoggedIn LoggedOut                  session
    ToolUseEvent         Used                                session
    ToolLaunchEvent      Launched                            session  (1.2)
    NavigationEvent      NavigatedTo                         view
    ViewEvent            Viewed                              view
    MediaEvent           Started Resumed Ended               view
    AssessmentEvent      Started Paused Resumed Restarted    progress
    AssessmentEvent      Submitted                           assessment, no score: the
                                                             grade arrives in a GradeEvent
    AssessmentItemEvent  Started Skipped Completed           progress  (item level: the
                                                             response is never read)
    AssignableEvent      Started                             progress
    AssignableEvent      Submitted Completed                 completion
    GradeEvent           Graded                              assessment, with score

Learner: `actor.id` (the actor may be an object or a bare IRI), except in a GradeEvent,
where the actor is the grader and the learner is `object.assignee` of the Attempt.
Both are Identity(source="caliper", kind="actor", value=<IRI>), so a person resolves to
the same learner whether acting or graded.
Score (GradeEvent): generated.scoreGiven / maxScore, maxScore from the Score or else from
object.assignable. Object id: `object.id`; for a GradeEvent the assignable's id (so a
grade names the module), else the Attempt's.
Event id: "caliper:" + the UUID of `id` ("urn:uuid:<uuid>"; a bare UUID, as some LMSs
send, is accepted). Time: `eventTime` (Caliper times are UTC; one without an offset is
read as UTC).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from schemas.events import EventKind, LearningEvent
from schemas.roster import Identity
from stream.normalize.base import (
    Ignored,
    Normalized,
    NormalizeError,
    Problem,
    Resolve,
    number,
    parse_time,
    pointer,
    source_meta,
    time_problem,
)

Path = tuple[str | int, ...]

SUPPORTED_DATA_VERSIONS: dict[str, str] = {
    "http://purl.imsglobal.org/ctx/caliper/v1p1": "1.1",
    "http://purl.imsglobal.org/ctx/caliper/v1p2": "1.2",
}
KINDS: dict[str, dict[str, EventKind]] = {
    "SessionEvent": {"LoggedIn": "session", "LoggedOut": "session"},
    "ToolUseEvent": {"Used": "session"},
    "ToolLaunchEvent": {"Launched": "session"},
    "NavigationEvent": {"NavigatedTo": "view"},
    "ViewEvent": {"Viewed": "view"},
    "MediaEvent": {"Started": "view", "Resumed": "view", "Ended": "view"},
    "AssessmentEvent": {
        **dict.fromkeys(["Started", "Paused", "Resumed", "Restarted"], "progress"),
        "Submitted": "assessment",
    },
    "AssessmentItemEvent": dict.fromkeys(["Started", "Skipped", "Completed"], "progress"),
    "AssignableEvent": {
        "Started": "progress",
        "Submitted": "completion",
        "Completed": "completion",
    },
    "GradeEvent": {"Graded": "assessment"},
}
_UUID = re.compile(
    r"(?:urn:uuid:)?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
)
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
MAX_ID = 512


class UnsupportedDataVersion(NormalizeError):
    """An envelope whose `dataVersion` this endpoint does not speak (HTTP 422)."""


def _iri(value: Any) -> str | None:
    """The id of an entity given as an object or as a bare IRI."""
    ident = value.get("id") if isinstance(value, dict) else value
    ok = isinstance(ident, str) and _IRI.fullmatch(ident) and not ident.startswith("_:")
    return ident if ok and isinstance(ident, str) else None


def normalize_envelope(payload: Any, received_at: datetime, resolve: Resolve) -> Normalized:
    """The learning events of a Caliper envelope; raises `UnsupportedDataVersion` for a
    version it does not know, else `NormalizeError` listing every problem."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must carry an offset")
    if not isinstance(payload, dict):
        raise NormalizeError([Problem("", "expected a Caliper envelope object")])
    version = _version(payload.get("dataVersion"))
    problems: list[Problem] = []
    if not isinstance(payload.get("sensor"), str) or not payload["sensor"]:
        problems.append(Problem("/sensor", "must be a non-empty string"))
    if parse_time(payload.get("sendTime")) is None:
        problems.append(Problem("/sendTime", "must be an ISO 8601 date-time"))
    data = payload.get("data")
    if not isinstance(data, list):
        problems.append(Problem("/data", "must be a list of events and entities"))
        raise NormalizeError(problems)
    out = Normalized()
    seen: dict[str, int] = {}
    for i, item in enumerate(data):
        result = _item(item, ("data", i), version, resolve, problems)
        if isinstance(result, LearningEvent) and result.id in seen:
            where = pointer("data", i, "id")
            problems.append(Problem(where, f"repeats the id of /data/{seen[result.id]}"))
        elif isinstance(result, LearningEvent):
            seen[result.id] = i
            out.add(result, pointer("data", i, "eventTime"))
        elif isinstance(result, Ignored):
            out.ignored.append(result)
    if problems:
        raise NormalizeError(problems)
    return out


def _version(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise NormalizeError([Problem("/dataVersion", "must be a Caliper context IRI")])
    if value not in SUPPORTED_DATA_VERSIONS:
        known = ", ".join(SUPPORTED_DATA_VERSIONS)
        raise UnsupportedDataVersion([Problem("/dataVersion", f"{value!r} is not one of {known}")])
    return SUPPORTED_DATA_VERSIONS[value]


def _item(
    item: Any, at: Path, version: str, resolve: Resolve, problems: list[Problem]
) -> LearningEvent | Ignored | None:
    if not isinstance(item, dict):
        problems.append(Problem(pointer(*at), "must be an event or entity object"))
        return None
    kind_name = item.get("type")
    if not isinstance(kind_name, str) or not kind_name:
        problems.append(Problem(pointer(*at, "type"), "must be a non-empty string"))
        return None
    if not kind_name.endswith("Event"):
        return Ignored(pointer(*at), f"a {kind_name} entity, not an event")
    if kind_name not in KINDS:
        return Ignored(pointer(*at), f"{kind_name} says nothing of learning engagement")
    action = item.get("action")
    if not isinstance(action, str) or not action:
        problems.append(Problem(pointer(*at, "action"), "must be a non-empty string"))
        return None
    kind = KINDS[kind_name].get(action)
    if kind is None:
        return Ignored(pointer(*at), f"{kind_name} {action} is not learning activity")
    return _event(item, at, kind, version, resolve, problems)


def _event(
    item: dict[str, Any],
    at: Path,
    kind: EventKind,
    version: str,
    resolve: Resolve,
    problems: list[Problem],
) -> LearningEvent | None:
    before = len(problems)
    event_id = _event_id(item.get("id"), (*at, "id"), problems)
    when = parse_time(item.get("eventTime"))
    if when is None:
        problems.append(Problem(pointer(*at, "eventTime"), "must be an ISO 8601 date-time"))
    elif (problem := time_problem(when[0])) is not None:
        problems.append(Problem(pointer(*at, "eventTime"), problem))
    graded = item["type"] == "GradeEvent"
    learner, object_id, score = (
        _graded(item, at, problems) if graded else _acted(item, at, problems)
    )
    if len(problems) > before or learner is None or object_id is None or when is None:
        return None
    meta = {"format": "caliper", "version": version, "type": item["type"]}
    fields = {
        "id": event_id,
        "learner_id": resolve(Identity(source="caliper", kind="actor", value=learner)),
        "occurred_at": when[0],
        "kind": kind,
        "object_id": object_id,
        "score": score,
        "source": "caliper",
        "source_meta": source_meta({**meta, "action": item["action"]}),
    }
    try:
        return LearningEvent.model_validate(fields)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        problems.append(Problem(pointer(*at), f"not a valid event: {where}: {first['msg']}"))
        return None


def _event_id(value: Any, at: Path, problems: list[Problem]) -> str | None:
    match = _UUID.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        problems.append(Problem(pointer(*at), "must be a urn:uuid: UUID"))
        return None
    return f"caliper:{uuid.UUID(match.group(1))}"


def _entity_id(value: Any, at: Path, problems: list[Problem], what: str) -> str | None:
    if value is None:
        problems.append(Problem(pointer(*at), f"the {what} is missing"))
        return None
    ident = _iri(value)
    if ident is None or len(ident) > 2048:
        where = (*at, "id") if isinstance(value, dict) else at
        problems.append(Problem(pointer(*where), f"the {what} must be identified by an IRI"))
        return None
    return ident


def _acted(
    item: dict[str, Any], at: Path, problems: list[Problem]
) -> tuple[str | None, str | None, None]:
    actor = item.get("actor")
    learner = _entity_id(actor, (*at, "actor"), problems, "actor")
    if isinstance(actor, dict) and actor.get("type", "Person") != "Person":
        problems.append(Problem(pointer(*at, "actor", "type"), "the learner must be a Person"))
    object_id = _entity_id(item.get("object"), (*at, "object"), problems, "object")
    if object_id is not None and len(object_id) > MAX_ID:
        problems.append(Problem(pointer(*at, "object"), f"an id longer than {MAX_ID} chars"))
    return learner, object_id, None


def _graded(
    item: dict[str, Any], at: Path, problems: list[Problem]
) -> tuple[str | None, str | None, float | None]:
    attempt = item.get("object")
    if not isinstance(attempt, dict):
        problems.append(Problem(pointer(*at, "object"), "must be the graded Attempt object"))
        return None, None, None
    obj_at = (*at, "object")
    learner = _entity_id(attempt.get("assignee"), (*obj_at, "assignee"), problems, "assignee")
    assignable = attempt.get("assignable")
    target = assignable if assignable is not None else attempt
    where = (*obj_at, "assignable") if assignable is not None else obj_at
    object_id = _entity_id(target, where, problems, "graded resource")
    if object_id is not None and len(object_id) > MAX_ID:
        problems.append(Problem(pointer(*where), f"an id longer than {MAX_ID} chars"))
    return learner, object_id, _grade(item.get("generated"), assignable, at, problems)


def _grade(generated: Any, assignable: Any, at: Path, problems: list[Problem]) -> float | None:
    gen_at = (*at, "generated")
    if not isinstance(generated, dict):
        problems.append(Problem(pointer(*gen_at), "must be the Score the grade generated"))
        return None
    given = number(generated.get("scoreGiven"))
    if given is None:
        problems.append(Problem(pointer(*gen_at, "scoreGiven"), "must be a finite number"))
    if "maxScore" in generated:
        top, top_at = generated["maxScore"], (*gen_at, "maxScore")
    elif isinstance(assignable, dict) and "maxScore" in assignable:
        top, top_at = assignable["maxScore"], (*at, "object", "assignable", "maxScore")
    else:
        problems.append(Problem(pointer(*gen_at, "maxScore"), "needed to scale the score"))
        return None
    maximum = number(top)
    if maximum is None or maximum <= 0:
        problems.append(Problem(pointer(*top_at), "must be a number above 0"))
        return None
    if given is not None and not 0 <= given <= maximum:
        problems.append(Problem(pointer(*gen_at, "scoreGiven"), "must lie between 0 and maxScore"))
        return None
    return None if given is None else given / maximum
