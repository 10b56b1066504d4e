"""Canvas Live Events (Canvas format, not Caliper) to `LearningEvent`s.

A Live Event is `{"metadata": {...}, "body": {...}}`; `metadata.event_name` says what
happened and `metadata.event_time` when (ISO 8601 with an offset, e.g.
"2026-03-04T09:15:27.123Z"). Canvas ids are kept as the exact decimal string Canvas sent
(an integer is written in decimal). A learner is always named by the global user id, the
one in `metadata.user_id`: where Canvas sends a local id (`body.user.id` of
course_progress and course_completed, "42"), it is made global with the shard of
`metadata.root_account_id` (Canvas's global id is shard * 10^13 + local id, so a root
account "21070000000000001" makes "42" into "21070000000000042"). One Canvas user is one
learner whatever the event; an unsharded Canvas (a root account id below 10^13) has no
local ids to convert.

| event_name         | kind       | learner (first present)        | object_id                 |
|--------------------|------------|--------------------------------|---------------------------|
| asset_accessed     | view       | metadata.user_id               | "{asset_type}:{asset_id}" |
| logged_in          | session    | metadata.user_id               | "login"                   |
| submission_created | progress   | body.user_id, metadata.user_id | "assignment:{id}"         |
| quiz_submitted     | assessment | metadata.user_id               | "quiz:{quiz_id}"          |
| grade_change       | assessment | body.student_id, body.user_id  | "assignment:{id}"         |
| course_progress    | progress   | body.user.id (made global)     | "course:{body.course.id}" |
| course_completed   | completion | body.user.id (made global)     | "course:{body.course.id}" |
| anything else      | ignored    |                                |                           |

Decisions, from what Canvas documents for each event:
- asset_accessed by a non-learning role (teacher, TA, designer, observer, the teacher's
  test student, account admin: `body.role`) or with no `metadata.user_id` (calendar feeds,
  public pages) is ignored.
- quiz_submitted carries only `quiz_id` and `submission_id`: no score. The score arrives
  later in a grade_change for the quiz's assignment (automatic grading).
- grade_change: `metadata.user_id` is the grader (or the student when a quiz is scored
  automatically), never the learner, and the grade is `acted_by: grader`: the learner's
  result, not their activity. score = body.score / body.points_possible, clamped
  to [0, 1] (extra credit, deductions); none when either is null, points_possible is 0
  or `grading_complete` is false (a partly graded quiz). A grade of "complete" or
  "incomplete" (pass/fail assignments) gives success true or false. Both `score` and
  `grade` null (a grade removed, an excusal) is ignored.
- course_progress is always `progress`: Canvas sends course_completed, not
  course_progress, when the last requirement is met, so deriving a completion from the
  counts would count one completion twice. Neither event's metadata names the learner
  (course_progress comes from a background job; course_completed's `metadata.user_id` is
  whoever made the request, a teacher setting a completion time too): `body.user.id` is
  the student, a local id, made global as said above.
- Canvas sends no event id: the id is "canvas:" + `content_hash(payload)`, so a
  re-delivered event is a duplicate and any change of content is a new event.
- The time is `metadata.event_time`, stored in UTC; whether it is plausible for when it
  was received is the policy's window, judged by ingest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from schemas.events import EventKind
from stream.normalize.base import (
    Facts,
    Found,
    Ignored,
    Normalized,
    NormalizeError,
    Problem,
    Resolve,
    Where,
    number,
    time_problem,
)
from stream.normalize.lms_event import expected, join, json_type, lms_event

SOURCE = "canvas"
NOT_LEARNING_ROLES = frozenset(
    {
        "TeacherEnrollment",
        "TaEnrollment",
        "DesignerEnrollment",
        "ObserverEnrollment",
        "StudentViewEnrollment",
        "AccountUser",
    }
)
_DIGITS = re.compile(r"[0-9]{1,30}")
SHARD = 10**13  # a Canvas global id is shard id * SHARD + local id
_ASSET_TYPE = re.compile(r"[A-Za-z0-9_:.\-]{1,64}")


def event_name(payload: Any) -> str | None:
    """`metadata.event_name` of a Live Event, or None when there is no such string."""
    metadata = payload.get("metadata") if isinstance(payload, dict) else None
    name = metadata.get("event_name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def normalize_live_event(payload: Any, received_at: datetime, resolve: Resolve) -> Normalized:
    """The learning event of one Canvas Live Event, or why it was ignored.

    Raises `NormalizeError` naming every bad field, and nothing else, whatever the payload;
    `received_at` must carry an offset (a `ValueError` otherwise: the caller's mistake).
    """
    if received_at.utcoffset() is None:
        raise ValueError("received_at must carry an offset")
    metadata, name = _envelope(payload)
    handler = _HANDLERS.get(name)
    if handler is None:
        reason = f"event {name[:64]!r} says nothing of learning engagement"
        return Normalized(ignored=[Ignored("/metadata/event_name", reason)])
    found = Found()
    body = payload.get("body")
    if not isinstance(body, dict):
        found.add(("body",), f"must be an object, not {json_type(body)}")
        _event_time(found, metadata.get("event_time"))
        raise NormalizeError(found.problems)
    facts = handler(found, metadata, body)
    if isinstance(facts, Ignored):
        return Normalized(ignored=[facts])
    occurred_at = _event_time(found, metadata.get("event_time"))
    return lms_event(
        found,
        facts,
        source=SOURCE,
        hashed=payload,
        occurred_at=occurred_at,
        meta={"event_name": name},
        time_field="/metadata/event_time",
        resolve=resolve,
    )


def _envelope(payload: Any) -> tuple[dict[str, Any], str]:
    """The metadata and event name, or a `NormalizeError` when the envelope is broken."""
    if not isinstance(payload, dict):
        detail = f"a Live Event must be an object with metadata and body, not {json_type(payload)}"
        raise NormalizeError([Problem("", detail)])
    metadata = payload.get("metadata")
    if not isinstance(metadata, dict):
        raise NormalizeError(
            [Problem("/metadata", f"must be an object, not {json_type(metadata)}")]
        )
    name = metadata.get("event_name")
    if not isinstance(name, str) or not name:
        detail = f"must be a non-empty string, not {json_type(name)}"
        raise NormalizeError([Problem("/metadata/event_name", detail)])
    return metadata, name


def _asset_accessed(
    found: Found, metadata: dict[str, Any], body: dict[str, Any]
) -> Facts | Ignored:
    role = body.get("role")
    if isinstance(role, str) and role in NOT_LEARNING_ROLES:
        return Ignored("/body/role", f"accessed as {role}: not a learner")
    if metadata.get("user_id") is None:
        return Ignored("/metadata/user_id", "an access with no user (a feed or a public page)")
    learner = _canvas_id(found, metadata.get("user_id"), ("metadata", "user_id"))
    asset_type = body.get("asset_type")
    if not isinstance(asset_type, str) or not _ASSET_TYPE.fullmatch(asset_type):
        found.add(("body", "asset_type"), expected("an asset type such as wiki_page", asset_type))
        asset_type = None
    asset_id = _canvas_id(found, body.get("asset_id"), ("body", "asset_id"))
    return Facts("view", learner, join(asset_type, asset_id))


def _logged_in(found: Found, metadata: dict[str, Any], body: dict[str, Any]) -> Facts:
    learner = _canvas_id(found, metadata.get("user_id"), ("metadata", "user_id"))
    return Facts("session", learner, "login")


def _submission_created(found: Found, metadata: dict[str, Any], body: dict[str, Any]) -> Facts:
    where, value = _first((("body", "user_id"), body), (("metadata", "user_id"), metadata))
    learner = _canvas_id(found, value, where)
    assignment = _canvas_id(found, body.get("assignment_id"), ("body", "assignment_id"))
    return Facts("progress", learner, join("assignment", assignment))


def _quiz_submitted(found: Found, metadata: dict[str, Any], body: dict[str, Any]) -> Facts:
    learner = _canvas_id(found, metadata.get("user_id"), ("metadata", "user_id"))
    quiz = _canvas_id(found, body.get("quiz_id"), ("body", "quiz_id"))
    return Facts("assessment", learner, join("quiz", quiz))


def _grade_change(found: Found, metadata: dict[str, Any], body: dict[str, Any]) -> Facts | Ignored:
    grade = body.get("grade")
    if body.get("score") is None and grade is None:
        return Ignored("/body/grade", "a grade removed or excused: no result")
    where, value = _first((("body", "student_id"), body), (("body", "user_id"), body))
    learner = _canvas_id(found, value, where)
    assignment = _canvas_id(found, body.get("assignment_id"), ("body", "assignment_id"))
    score = _score(found, body)
    success = {"complete": True, "incomplete": False}.get(grade) if isinstance(grade, str) else None
    object_id = join("assignment", assignment)
    return Facts("assessment", learner, object_id, score, success, acted_by="grader")


def _score(found: Found, body: dict[str, Any]) -> float | None:
    """body.score / body.points_possible in [0, 1], when both are there and it is final."""
    score = _number(found, body.get("score"), ("body", "score"))
    possible = _number(found, body.get("points_possible"), ("body", "points_possible"))
    if possible is not None and possible < 0:
        found.add(("body", "points_possible"), "must not be negative")
        return None
    if score is None or not possible or body.get("grading_complete") is False:
        return None
    return min(1.0, max(0.0, score / possible))


def _course_progress(found: Found, metadata: dict[str, Any], body: dict[str, Any]) -> Facts:
    return _course_facts("progress", found, metadata, body)


def _course_completed(found: Found, metadata: dict[str, Any], body: dict[str, Any]) -> Facts:
    return _course_facts("completion", found, metadata, body)


def _course_facts(
    kind: EventKind, found: Found, metadata: dict[str, Any], body: dict[str, Any]
) -> Facts:
    learner = course = None
    user, course_object = body.get("user"), body.get("course")
    if isinstance(user, dict):
        local = _canvas_id(found, user.get("id"), ("body", "user", "id"))
        learner = None if local is None else global_id(local, metadata.get("root_account_id"))
    else:
        found.add(("body", "user"), f"must be an object, not {json_type(user)}")
    if isinstance(course_object, dict):
        course = _canvas_id(found, course_object.get("id"), ("body", "course", "id"))
    else:
        found.add(("body", "course"), f"must be an object, not {json_type(course_object)}")
    return Facts(kind, learner, join("course", course))


Handler = Callable[[Found, dict[str, Any], dict[str, Any]], Facts | Ignored]

_HANDLERS: dict[str, Handler] = {
    "asset_accessed": _asset_accessed,
    "logged_in": _logged_in,
    "submission_created": _submission_created,
    "quiz_submitted": _quiz_submitted,
    "grade_change": _grade_change,
    "course_progress": _course_progress,
    "course_completed": _course_completed,
}


def _first(*candidates: tuple[Where, dict[str, Any]]) -> tuple[Where, Any]:
    """The first candidate field that is present and not null (else the first, missing)."""
    for where, parent in candidates:
        if parent.get(where[-1]) is not None:
            return where, parent[where[-1]]
    return candidates[0][0], None


def global_id(local: str, root_account_id: Any) -> str:
    """A Canvas id as the global id of the root account's shard: shard * 10^13 + local id.
    An id that is global already (from 10^13 on: a user of another shard), or a root
    account that names no shard (an unsharded Canvas, or none sent), leaves it as it is."""
    root = root_account_id if isinstance(root_account_id, str | int) else None
    digits = str(root) if root is not None and not isinstance(root, bool) else ""
    shard = int(digits) // SHARD if _DIGITS.fullmatch(digits) else 0
    if int(local) >= SHARD or shard == 0:
        return local
    return str(shard * SHARD + int(local))


def _canvas_id(found: Found, value: Any, where: Where) -> str | None:
    """A Canvas id as Canvas wrote it (digits), or None with a problem."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**30:
        return str(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value) and value.strip("0"):
        return value
    found.add(where, expected("a Canvas id (a positive whole number, as digits)", value))
    return None


def _number(found: Found, value: Any, where: Where) -> float | None:
    """A finite number, None when null, or None with a problem."""
    if value is None:
        return None
    result = number(value)
    if result is None:
        found.add(where, expected("a finite number or null", value))
    return result


def _event_time(found: Found, value: Any) -> datetime | None:
    """metadata.event_time in UTC, or None with a problem."""
    where = ("metadata", "event_time")
    if not isinstance(value, str) or len(value) > 64:
        found.add(where, expected("an ISO 8601 time with an offset", value))
        return None
    try:
        parsed = datetime.fromisoformat(value)
        occurred_at = parsed.astimezone(UTC) if parsed.utcoffset() is not None else None
    except (ValueError, OverflowError):
        found.add(where, "must be an ISO 8601 time with an offset, e.g. 2026-03-04T09:15:27Z")
        return None
    if occurred_at is None:
        found.add(where, "has no UTC offset: the moment is ambiguous")
    elif (problem := time_problem(occurred_at)) is not None:
        found.add(where, problem)
        return None
    return occurred_at
