"""The xAPI verbs and activity types tierwatch knows, and the event kind each verb maps to
(the table is in `stream.normalize.xapi`'s docstring)."""

from __future__ import annotations

from schemas.events import EventKind

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
ADL_NAMESPACES = ("http://adlnet.gov/expapi/verbs/", "https://w3id.org/xapi/adl/verbs/")
_SESSION_VERBS = (
    "launched initialized resumed suspended terminated exited abandoned logged-in logged-out"
    " attended"
)
_PROGRESS_VERBS = "progressed interacted commented asked shared responded attempted answered"
_ADL: dict[str, EventKind] = {
    **dict.fromkeys(_SESSION_VERBS.split(), "session"),
    "experienced": "view",
    **dict.fromkeys(_PROGRESS_VERBS.split(), "progress"),
    **dict.fromkeys(["completed", "satisfied"], "completion"),
    **dict.fromkeys(["passed", "failed", "scored"], "assessment"),
}
_OTHER: dict[str, EventKind] = {
    "http://id.tincanapi.com/verb/viewed": "view",
    "https://w3id.org/xapi/video/verbs/played": "view",
    "https://w3id.org/xapi/video/verbs/paused": "view",
    "https://w3id.org/xapi/video/verbs/seeked": "view",
}
IGNORED_VERBS = {
    "registered": "an enrolment is administration, not learning activity",
    "waived": "a waived requirement is an LMS decision, not learning activity",
}
ITEM_LEVEL = frozenset({"answered"})
# What a verb says of success when the statement's result does not (xAPI's ADL verbs:
# "passed" is a success, "failed" is not; cmi5 uses the same two).
IMPLIED_SUCCESS = {"passed": True, "failed": False}
MODULE_TYPES = frozenset(
    {
        "http://adlnet.gov/expapi/activities/module",
        "http://adlnet.gov/expapi/activities/course",
        "http://adlnet.gov/expapi/activities/lesson",
        "https://w3id.org/xapi/cmi5/activitytype/block",
        "https://w3id.org/xapi/cmi5/activitytype/course",
    }
)


def implied_success(verb_iri: str) -> bool | None:
    """Success as the verb implies it (passed, failed), None for any other verb."""
    for namespace in ADL_NAMESPACES:
        if verb_iri.startswith(namespace):
            return IMPLIED_SUCCESS.get(verb_iri[len(namespace) :])
    return None


def verb_kind(verb_iri: str) -> EventKind | None:
    """The kind a verb maps to; None for a verb whose statements are ignored."""
    for namespace in ADL_NAMESPACES:
        if verb_iri.startswith(namespace):
            name = verb_iri[len(namespace) :]
            if name in IGNORED_VERBS or verb_iri == VOIDED:
                return None
            return _ADL.get(name, "progress")
    return _OTHER.get(verb_iri, "progress")
