"""IMS Caliper 1.1 and 1.2 envelopes -> `LearningEvent`.

`normalize_envelope` takes `{sensor, sendTime, dataVersion, data[]}`. An unknown
`dataVersion` raises `UnsupportedDataVersion` (HTTP 422); a malformed envelope (sensor,
sendTime, data) raises `NormalizeError` (HTTP 400) listing every bad field, the items'
too. An item with a problem is refused on its own (`Normalized.rejected`): the other
events of the envelope are taken.

Event type and action -> kind (any other action of these types, and any other Caliper
event type, are `ignored`; so are entities, and event types Caliper does not define):

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

Every Caliper event is checked as `caliper_terms.check_event` says, read or not.
Learner: `actor.id` (the actor may be an object or a bare IRI), except in a GradeEvent,
where the actor is the grader and the learner is `object.assignee` of the Attempt: the
grade is `acted_by: grader`, the learner's result and not their activity. An
event acted by an agent that is not a Person (software, an organisation) is ignored.
Both are Identity(source="caliper", kind="actor", value=<IRI>), so a person resolves to
the same learner whether acting or graded.
Score (GradeEvent): generated.scoreGiven / maxScore, maxScore from the Score or else from
object.assignable. A grade without a scoreGiven, or whose maxScore is 0 or missing (the
official Caliper 1.2 fixtures send `maxScore: 0.0` and no score), is a grade without a
score: an assessment event with no score, noted as `no_score`.
Object id: `object.id`; for a GradeEvent the assignable's id (so a grade names the
module), else the Attempt's.
Event id: "caliper:" + the UUID of `id` ("urn:uuid:<uuid>"; a bare UUID, as some LMSs
send, is accepted). Time: `eventTime` (Caliper times are UTC; one without an offset is
read as UTC).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from schemas.events import MAX_ID, EventKind, LearningEvent
from schemas.roster import Identity
from stream.normalize.base import (
    IRI,
    Ignored,
    Normalized,
    NormalizeError,
    Path,
    Problem,
    Rejected,
    Resolve,
    number,
    parse_time,
    pointer,
    source_meta,
    validated_event,
)
from stream.normalize.caliper_terms import EVENT_TYPES, check_event, entity_type

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


class UnsupportedDataVersion(NormalizeError):
    """An envelope whose `dataVersion` this endpoint does not speak (HTTP 422)."""


def _iri(value: Any) -> str | None:
    """The id of an entity given as an object or as a bare IRI."""
    ident = value.get("id") if isinstance(value, dict) else value
    ok = isinstance(ident, str) and IRI.fullmatch(ident) and not ident.startswith("_:")
    return ident if ok and isinstance(ident, str) else None


def normalize_envelope(payload: Any, received_at: datetime, resolve: Resolve) -> Normalized:
    """The learning events of a Caliper envelope, and its items refused one by one; raises
    `UnsupportedDataVersion` for a version it does not know, `NormalizeError` for a
    malformed envelope (listing the items' problems too)."""
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
        found: list[Problem] = []
        notes: list[Ignored] = []
        result = _item(item, ("data", i), version, resolve, found, notes)
        if isinstance(result, LearningEvent) and result.id in seen:
            found.append(
                Problem(pointer("data", i, "id"), f"repeats the id of /data/{seen[result.id]}")
            )
        if found:
            out.rejected.append(Rejected(pointer("data", i), found))
            continue
        out.notes.extend(notes)
        if isinstance(result, LearningEvent):
            seen[result.id] = i
            out.add(result, pointer("data", i, "eventTime"))
        elif isinstance(result, Ignored):
            out.ignored.append(result)
    if problems:
        raise NormalizeError(problems + [p for r in out.rejected for p in r.problems])
    return out


def _version(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise NormalizeError([Problem("/dataVersion", "must be a Caliper context IRI")])
    if value not in SUPPORTED_DATA_VERSIONS:
        known = ", ".join(SUPPORTED_DATA_VERSIONS)
        raise UnsupportedDataVersion([Problem("/dataVersion", f"{value!r} is not one of {known}")])
    return SUPPORTED_DATA_VERSIONS[value]


def _item(
    item: Any,
    at: Path,
    version: str,
    resolve: Resolve,
    problems: list[Problem],
    notes: list[Ignored],
) -> LearningEvent | Ignored | None:
    if not isinstance(item, dict):
        problems.append(Problem(pointer(*at), "must be an event or entity object"))
        return None
    kind_name = item.get("type")
    if not isinstance(kind_name, str) or not kind_name:
        problems.append(Problem(pointer(*at, "type"), "must be a non-empty string"))
        return None
    if kind_name not in EVENT_TYPES:
        if kind_name.endswith("Event") or "action" in item or "eventTime" in item:
            reason = f"{kind_name[:64]} is not a Caliper event type"
            return Ignored(pointer(*at), reason, "unknown_event_type")
        return Ignored(pointer(*at), f"a {kind_name[:64]} entity, not an event", "entity")
    before = len(problems)
    event_id = _event_id(item.get("id"), (*at, "id"), problems)
    check_event(item, at, problems, notes)
    if len(problems) > before or event_id is None:
        return None
    action = item["action"]
    kind = KINDS.get(kind_name, {}).get(action)
    if kind is None:
        return Ignored(pointer(*at), f"{kind_name} {action[:64]} is not learning activity")
    actor_type = entity_type(item["actor"]) or "Person"
    if kind_name != "GradeEvent" and actor_type != "Person":
        reason = f"acted by a {actor_type}, not a person"
        return Ignored(pointer(*at, "actor"), reason, "not_a_person")
    return _event(item, at, event_id, kind, version, resolve, problems, notes)


def _event(
    item: dict[str, Any],
    at: Path,
    event_id: str,
    kind: EventKind,
    version: str,
    resolve: Resolve,
    problems: list[Problem],
    notes: list[Ignored],
) -> LearningEvent | None:
    before = len(problems)
    when = parse_time(item["eventTime"])
    graded = item["type"] == "GradeEvent"
    learner, object_id, score = (
        _graded(item, at, problems, notes) if graded else _acted(item, at, problems)
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
        "acted_by": "grader" if graded else None,  # the grader acts; the learner is graded
        "source": "caliper",
        "source_meta": source_meta({**meta, "action": item["action"]}),
    }
    return validated_event(fields, at, problems)


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
    learner = _entity_id(item.get("actor"), (*at, "actor"), problems, "actor")
    object_id = _entity_id(item.get("object"), (*at, "object"), problems, "object")
    if object_id is not None and len(object_id) > MAX_ID:
        problems.append(Problem(pointer(*at, "object"), f"an id longer than {MAX_ID} chars"))
    return learner, object_id, None


def _graded(
    item: dict[str, Any], at: Path, problems: list[Problem], notes: list[Ignored]
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
    score, why = _grade(item.get("generated"), assignable, at, problems)
    if why is not None:
        notes.append(Ignored(pointer(*at, "generated"), why, "no_score"))
    return learner, object_id, score


def _grade(
    generated: Any, assignable: Any, at: Path, problems: list[Problem]
) -> tuple[float | None, str | None]:
    """The scaled score of a grade, or None and why there is none."""
    gen_at = (*at, "generated")
    if generated is None or (isinstance(generated, str) and IRI.fullmatch(generated)):
        return None, "a grade without its Score: no score"
    if not isinstance(generated, dict):
        problems.append(Problem(pointer(*gen_at), "must be the Score the grade generated"))
        return None, None
    given = generated.get("scoreGiven")
    if given is not None and number(given) is None:
        problems.append(Problem(pointer(*gen_at, "scoreGiven"), "must be a finite number"))
    if "maxScore" in generated:
        top, top_at = generated["maxScore"], (*gen_at, "maxScore")
    elif isinstance(assignable, dict) and "maxScore" in assignable:
        top, top_at = assignable["maxScore"], (*at, "object", "assignable", "maxScore")
    else:
        top, top_at = None, (*gen_at, "maxScore")
    maximum = number(top)
    if top is not None and (maximum is None or maximum < 0):
        problems.append(Problem(pointer(*top_at), "must be a number of at least 0"))
        return None, None
    if given is None:
        return None, "a grade without a scoreGiven: no score"
    if not maximum:
        return None, "a scoreGiven without a maxScore above 0 cannot be scaled: no score"
    scaled = number(given)
    if scaled is None:
        return None, None
    if not 0 <= scaled <= maximum:
        problems.append(Problem(pointer(*gen_at, "scoreGiven"), "must lie between 0 and maxScore"))
        return None, None
    return scaled / maximum, None
