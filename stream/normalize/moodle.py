r"""Moodle events, as a webhook plugin posts them, to `LearningEvent`s.

A webhook plugin (local_webhooks style) posts the event's `get_data()` as a JSON object:
`eventname` (e.g. "\core\event\course_viewed"), `component`, `action`, `target`,
`objecttable`, `objectid`, `crud`, `edulevel`, `contextid`, `contextlevel`,
`contextinstanceid`, `userid`, `courseid`, `relateduserid`, `anonymous`, `other` (an
object, null, or that object serialised as a JSON string), `timecreated` (unix seconds),
plus a shared `token`. The HTTP layer checks the token; here it is left out of the id and
never copied into an event. Moodle ids are written in decimal: 57 and "57" are one user.

| eventname                                    | kind       | learner       | object_id           |
|----------------------------------------------|------------|---------------|---------------------|
| \core\event\course_viewed                    | view       | userid        | "course:{courseid}" |
| \mod_*\event\course_module_viewed            | view       | userid        | "cm:{cmid}"         |
| \core\event\course_module_completion_updated | see below  | relateduserid | "cm:{cmid}"         |
| \mod_quiz\event\attempt_submitted            | assessment | relateduserid | "cm:{cmid}"         |
| \core\event\user_graded                      | assessment | relateduserid | "grade_item:{id}"   |
| \core\event\course_completed                 | completion | relateduserid | "course:{courseid}" |
| \core\event\user_loggedin                    | session    | objectid      | "login"             |
| any other, or anonymous = 1                  | ignored    |               |                     |

cmid is `contextinstanceid` (these events are in a module context), so a module's view,
completion and quiz attempts share one object id.

Decisions, from what Moodle's event classes carry:
- course_module_completion_updated, by `other.completionstate`: 0 (incomplete: a
  completion withdrawn) is ignored; 1 (complete) is a completion; 2 (complete, passed) a
  completion with success true; 3 (complete, failed) and 4 (failed, grade hidden) an
  assessment with success false, so a failed module never counts as done. `userid` is
  whoever caused the change: the learner, or a teacher's override, the cron.
- attempt_submitted: `relateduserid` owns the attempt; `userid` is whoever submitted it
  (the learner, a teacher, or the cron closing an overdue attempt). Moodle sends no grade
  here (`other` has `submitterid` and `quizid`): no score.
- Only the learner's own actions are activity: where `userid` is someone else (in these
  three and course_completed), the event says `acted_by: other`; it still completes, or
  fails, but is no activity of the learner's.
- user_graded: `userid` is the grader (`acted_by: grader`: the grade is the learner's
  result, not their activity). Moodle sends `other.finalgrade` on the grade
  item's own range, and not the range itself (grademin and grademax stay in the
  gradebook), so no score can be derived: an assessment without a score, whose object is
  the grade item (`other.itemid`). A null finalgrade (a grade cleared) is ignored.
- A view or login by user 0 (not logged in) is ignored; other learners must be positive.
- The id is "moodle:" + `content_hash(payload without token)`: Moodle sends no event id.
- The time is `timecreated` (an integer of unix seconds, in UTC); whether it is plausible
  for when it was received is the policy's window, judged by ingest.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.events import ActedBy
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
    pointer,
    time_problem,
)
from stream.normalize.lms_event import expected, join, json_type, lms_event

SOURCE = "moodle"
LATEST = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds
_MODULE_VIEWED = re.compile(r"mod_[a-z0-9_]{1,64}\\event\\course_module_viewed")


def normalize_event(payload: Any, received_at: datetime, resolve: Resolve) -> Normalized:
    """The learning event of one Moodle webhook payload, or why it was ignored.

    Raises `NormalizeError` naming every bad field, and nothing else, whatever the payload;
    `received_at` must carry an offset (a `ValueError` otherwise: the caller's mistake).
    """
    if received_at.utcoffset() is None:
        raise ValueError("received_at must carry an offset")
    name = _eventname(payload)
    handler = _handler(name)
    if handler is None:
        reason = f"event {name[:128]!r} says nothing of learning engagement"
        return Normalized(ignored=[Ignored("/eventname", reason)])
    found = Found()
    if _anonymous(found, payload.get("anonymous")):
        return Normalized(ignored=[Ignored("/anonymous", "an anonymous event: no learner")])
    facts = handler(found, payload)
    if isinstance(facts, Ignored):
        return Normalized(ignored=[facts])
    occurred_at = _time(found, payload.get("timecreated"))
    return lms_event(
        found,
        facts,
        source=SOURCE,
        hashed=_without_token(payload),
        occurred_at=occurred_at,
        meta={"eventname": name},
        time_field="/timecreated",
        resolve=resolve,
    )


def _eventname(payload: Any) -> str:
    """The event's name, or a `NormalizeError` when the payload has none."""
    if not isinstance(payload, dict):
        detail = f"a Moodle event must be an object, not {json_type(payload)}"
        raise NormalizeError([Problem("", detail)])
    name = payload.get("eventname")
    if not isinstance(name, str) or not name:
        detail = f"must be the name of an event class, not {json_type(name)}"
        raise NormalizeError([Problem("/eventname", detail)])
    return name


def _anonymous(found: Found, value: Any) -> bool:
    """Whether the event is anonymous (1 or true); absent or null means not."""
    if value is None or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    found.add(("anonymous",), expected("0 or 1", value))
    return False


def _course_viewed(found: Found, payload: dict[str, Any]) -> Facts | Ignored:
    if nobody := _nobody(payload, "userid"):
        return nobody
    learner = _id(found, payload, ("userid",))
    return Facts("view", learner, join("course", _id(found, payload, ("courseid",))))


def _module_viewed(found: Found, payload: dict[str, Any]) -> Facts | Ignored:
    if nobody := _nobody(payload, "userid"):
        return nobody
    return Facts("view", _id(found, payload, ("userid",)), _cm(found, payload))


def _completion_updated(found: Found, payload: dict[str, Any]) -> Facts | Ignored:
    other = _other(found, payload)
    state = other.get("completionstate") if other is not None else None
    if state == 0 and not isinstance(state, bool | float):
        return Ignored("/other/completionstate", "completion withdrawn: not progress")
    learner = _id(found, payload, ("relateduserid",))
    object_id = _cm(found, payload)
    if other is not None and (isinstance(state, bool) or state not in (1, 2, 3, 4)):
        found.add(("other", "completionstate"), expected("one of 0, 1, 2, 3 and 4", state))
    by = _someone_else(payload, learner)
    if state in (3, 4):
        return Facts("assessment", learner, object_id, success=False, acted_by=by)
    success = True if state == 2 else None
    return Facts("completion", learner, object_id, success=success, acted_by=by)


def _attempt_submitted(found: Found, payload: dict[str, Any]) -> Facts:
    learner = _id(found, payload, ("relateduserid",))
    return Facts(
        "assessment", learner, _cm(found, payload), acted_by=_someone_else(payload, learner)
    )


def _user_graded(found: Found, payload: dict[str, Any]) -> Facts | Ignored:
    other = _other(found, payload)
    if other is not None and other.get("finalgrade") is None:
        return Ignored("/other/finalgrade", "a grade cleared: no result")
    learner = _id(found, payload, ("relateduserid",))
    item = None
    if other is not None:
        _finalgrade(found, other.get("finalgrade"))
        item = _id(found, other, ("other", "itemid"))
    return Facts("assessment", learner, join("grade_item", item), acted_by="grader")


def _course_completed(found: Found, payload: dict[str, Any]) -> Facts:
    learner = _id(found, payload, ("relateduserid",))
    course = join("course", _id(found, payload, ("courseid",)))
    return Facts("completion", learner, course, acted_by=_someone_else(payload, learner))


def _someone_else(payload: dict[str, Any], learner: str | None) -> ActedBy | None:
    """`other` when `userid` (who acted) is not the learner: a teacher's override, the
    cron (user 0, or the admin it runs as); None when it is the learner, or when the
    payload does not say."""
    value = payload.get("userid")
    if value is None or learner is None:
        return None
    if (value == 0 and not isinstance(value, bool | float)) or value == "0":
        return "other"  # no user: the system
    actor = _id(Found(), payload, ("userid",))  # a bad userid says nothing of who acted
    return "other" if actor is not None and actor != learner else None


def _user_loggedin(found: Found, payload: dict[str, Any]) -> Facts | Ignored:
    if nobody := _nobody(payload, "objectid"):
        return nobody
    return Facts("session", _id(found, payload, ("objectid",)), "login")


Handler = Callable[[Found, dict[str, Any]], Facts | Ignored]

_HANDLERS: dict[str, Handler] = {
    r"core\event\course_viewed": _course_viewed,
    r"core\event\course_module_completion_updated": _completion_updated,
    r"mod_quiz\event\attempt_submitted": _attempt_submitted,
    r"core\event\user_graded": _user_graded,
    r"core\event\course_completed": _course_completed,
    r"core\event\user_loggedin": _user_loggedin,
}


def _handler(name: str) -> Handler | None:
    """The handler of an event name, with or without its leading backslash."""
    bare = name.removeprefix("\\")
    if _MODULE_VIEWED.fullmatch(bare):
        return _module_viewed
    return _HANDLERS.get(bare)


def _nobody(payload: dict[str, Any], field: str) -> Ignored | None:
    """Ignored when the user is 0: nobody was logged in."""
    value = payload.get(field)
    if (value == 0 and not isinstance(value, bool | float)) or value == "0":
        return Ignored(pointer(field), "no user logged in (user 0)")
    return None


def _cm(found: Found, payload: dict[str, Any]) -> str | None:
    return join("cm", _id(found, payload, ("contextinstanceid",)))


def _other(found: Found, payload: dict[str, Any]) -> dict[str, Any] | None:
    """`other` as an object, decoding it when a plugin sent it as a JSON string."""
    other = payload.get("other")
    if isinstance(other, str):
        try:
            other = orjson.loads(other)
        except orjson.JSONDecodeError:
            found.add(("other",), "is a string that is not JSON")
            return None
    if isinstance(other, dict):
        return other
    found.add(("other",), expected("an object", other))
    return None


def _finalgrade(found: Found, value: Any) -> None:
    """Moodle sends a float, or the database's decimal string ("75.00000")."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if number(value) is None:
        found.add(("other", "finalgrade"), expected("a number or null", value))


def _id(found: Found, parent: dict[str, Any], where: Where) -> str | None:
    """A positive Moodle id in decimal, or None with a problem."""
    value = parent.get(where[-1])
    if isinstance(value, str) and value.isascii() and value.isdecimal() and len(value) <= 20:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return str(value)
    found.add(where, expected("a Moodle id (a positive whole number)", value))
    return None


def _time(found: Found, value: Any) -> datetime | None:
    """timecreated as a UTC datetime, or None with a problem."""
    where = ("timecreated",)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= LATEST:
        found.add(where, expected("a whole number of unix seconds", value))
        return None
    occurred_at = datetime.fromtimestamp(value, UTC)
    if (problem := time_problem(occurred_at)) is not None:
        found.add(where, problem)
        return None
    return occurred_at


def _without_token(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload but the shared token: what the event id hashes."""
    return {key: value for key, value in payload.items() if key != "token"}
