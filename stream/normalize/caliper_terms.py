"""The Caliper 1.1/1.2 vocabulary tierwatch checks, and the checks every event gets.

Every item whose `type` is a Caliper event type is checked the same way, whether
tierwatch reads it or ignores it (`check_event`): what the specification requires of an
Event (id, action, actor, object, eventTime), and the shape of what it may carry
(`edApp`, `group`, `membership`, `session`, `federatedSession`, `referrer`, `target`: an
IRI or an entity object identified by one, of the right entity type; `extensions`: an
object; `profile`: a string). A profile Caliper does not define is taken (tierwatch reads
the type and action, not the profile) and noted as `unknown_profile`.
"""

from __future__ import annotations

import re
from typing import Any

from stream.normalize.base import IRI, Ignored, Path, Problem, parse_time, pointer, time_problem

EVENT_TYPES = frozenset(
    {
        "Event",
        "AnnotationEvent",
        "AssessmentEvent",
        "AssessmentItemEvent",
        "AssignableEvent",
        "FeedbackEvent",
        "ForumEvent",
        "GradeEvent",
        "MediaEvent",
        "MessageEvent",
        "NavigationEvent",
        "QuestionnaireEvent",
        "QuestionnaireItemEvent",
        "ResourceManagementEvent",
        "SearchEvent",
        "SessionEvent",
        "SurveyEvent",
        "SurveyInvitationEvent",
        "ThreadEvent",
        "ToolLaunchEvent",
        "ToolUseEvent",
        "ViewEvent",
    }
)
PROFILES = frozenset(
    {
        "AnnotationProfile",
        "AssessmentProfile",
        "AssignableProfile",
        "FeedbackProfile",
        "ForumProfile",
        "GeneralProfile",
        "GradingProfile",
        "MediaProfile",
        "ReadingProfile",
        "ResourceManagementProfile",
        "SearchProfile",
        "SessionProfile",
        "SurveyProfile",
        "ToolLaunchProfile",
        "ToolUseProfile",
    }
)
ORGANIZATIONS = frozenset({"Organization", "CourseOffering", "CourseSection", "Group"})
AGENTS = frozenset({"Agent", "Person", "SoftwareApplication"} | ORGANIZATIONS)
# The entity types an event's context fields may hold (None: any entity).
CONTEXT: dict[str, frozenset[str] | None] = {
    "edApp": frozenset({"SoftwareApplication"}),
    "group": ORGANIZATIONS,
    "membership": frozenset({"Membership"}),
    "session": frozenset({"Session", "LtiSession"}),
    "federatedSession": frozenset({"LtiSession"}),
    "referrer": None,
    "target": None,
}
_BLANK = re.compile(r"_:\S+")


def entity_type(value: Any) -> str | None:
    """The `type` of an entity object (None for a bare IRI or an untyped object)."""
    kind = value.get("type") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else None


def check_event(
    item: dict[str, Any], at: Path, problems: list[Problem], notes: list[Ignored]
) -> None:
    """Add a problem for each field of a Caliper event that breaks the specification, and
    a note for what is taken but not understood."""
    action = item.get("action")
    if not isinstance(action, str) or not action:
        problems.append(Problem(pointer(*at, "action"), "must be a non-empty string"))
    when = parse_time(item.get("eventTime"))
    if when is None:
        problems.append(Problem(pointer(*at, "eventTime"), "must be an ISO 8601 date-time"))
    elif (problem := time_problem(when[0])) is not None:
        problems.append(Problem(pointer(*at, "eventTime"), problem))
    _entity(item, "actor", at, problems, AGENTS, blank=False)
    _entity(item, "object", at, problems, None, blank=False)
    for name, allowed in CONTEXT.items():
        if item.get(name) is not None:
            _entity(item, name, at, problems, allowed, blank=True)
    extensions = item.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        problems.append(Problem(pointer(*at, "extensions"), "must be an object"))
    profile = item.get("profile")
    if profile is not None and not isinstance(profile, str):
        problems.append(Problem(pointer(*at, "profile"), "must be a string"))
    elif isinstance(profile, str) and profile not in PROFILES:
        reason = f"profile {profile[:64]!r} is not a Caliper profile (type and action are read)"
        notes.append(Ignored(pointer(*at, "profile"), reason, "unknown_profile"))


def _entity(
    item: dict[str, Any],
    name: str,
    at: Path,
    problems: list[Problem],
    allowed: frozenset[str] | None,
    *,
    blank: bool,
) -> None:
    """A field that must be an IRI or an entity object identified by one, of an allowed type."""
    value = item.get(name)
    where = (*at, name)
    if value is None:
        problems.append(Problem(pointer(*where), f"the {name} is missing"))
        return
    ident = value.get("id") if isinstance(value, dict) else value
    if not _identifier(ident, blank):
        inner = (*where, "id") if isinstance(value, dict) else where
        problems.append(Problem(pointer(*inner), f"the {name} must be identified by an IRI"))
        return
    kind = value.get("type") if isinstance(value, dict) else None
    if isinstance(value, dict) and "type" in value and not isinstance(kind, str):
        problems.append(Problem(pointer(*where, "type"), "must be a string"))
    elif allowed is not None and isinstance(kind, str) and kind not in allowed:
        expected = " or ".join(sorted(allowed))
        problems.append(
            Problem(pointer(*where, "type"), f"a {kind[:64]} cannot be the {name} ({expected})")
        )


def _identifier(value: Any, blank: bool) -> bool:
    """An IRI (or, where `blank`, a JSON-LD blank node such as "_:b0")."""
    if not isinstance(value, str) or len(value) > 2048:
        return False
    return bool(IRI.fullmatch(value) or (blank and _BLANK.fullmatch(value)))
