"""What may leave tierwatch about a learner, and a scan that proves nothing else did.

`outbound` builds every payload from an explicit allow-list: the learner's id and name,
the manager, the tiers, the route, reasons as aggregated sentences with their numbers,
the ISO week and the day (never a time of day), the follow-up date and links. `scan`
checks any payload or text for what must never leave: times of day, IP addresses, UUIDs
(statement and event ids) other than the transition's own id, e-mail addresses other than
the recipient's, and keys outside the allow-list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from schemas.roster import LearnerProfile
from schemas.transitions import TierTransition

ALLOWED_KEYS = frozenset(
    {
        "id", "type", "learner", "manager", "name", "learner_id", "manager_id", "from_tier",
        "to_tier", "route", "role", "reasons", "code", "text", "numbers", "week", "date",
        "follow_up_due", "links", "script", "subject", "team", "factors", "severity",
        "persistence_weeks", "role_exposure",
        "step", "tier", "reminded_on",  # an overdue follow-up's (`stream.dispatch.overdue`)
        "people", "tiers", "overdue", "due_this_week",  # a digest's (`stream.dispatch.digest`)
    }
)  # fmt: skip
# What a message carries (the keys of `outbound`), said for the people who read the playbook;
# tests check that every key `outbound` writes is described here.
SHARED: dict[str, str] = {
    "id": "the id of the tier change (not of any learning activity)",
    "type": "the kind of message (a tier change)",
    "learner": "the learner's id, name and team",
    "manager": "the manager's id and name",
    "from_tier": "the tier before",
    "to_tier": "the tier after",
    "route": "the kind of follow-up: nudge, outreach, escalation, wellbeing or resolved",
    "week": "the ISO week the change is about",
    "date": "the day of the change (never a time of day)",
    "follow_up_due": "the follow-up date, if any",
    "factors": "the three factors: severity, persistence in weeks, role exposure",
    "reasons": "the reasons as sentences with their numbers: weekly activity against the "
    "baseline, counts of missed assignments, days overdue, an assessment score against the "
    "average of the previous ones",
    "links": "links: the learning portal, the page to record what was done",
}
# What `scan_text` refuses (by the name of the problem it reports), said for people.
NEVER_SENT: dict[str, str] = {
    "a time of day": "the time of day of any activity: messages name the day and the week only",
    "an IP address": "IP addresses (network or device data)",
    "an id other than the transition's": "the ids of statements or events (single activities)",
    "an e-mail address": "e-mail addresses other than the recipient's own",
}
OFF_THE_LIST = (
    "anything else about the learner (no field outside the list above: no statement "
    "contents, no item-level answers, no raw events)"
)
_TIME_OF_DAY = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\b\d\d:\d\d:\d\d\b")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_IPV6 = re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}\b")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_NUMBER_KEYS = re.compile(r"^[a-z_]+$")  # reason numbers are named by snake_case words


def outbound(
    transition: TierTransition, profile: LearnerProfile | None, links: dict[str, str]
) -> dict[str, Any]:
    """The only data about a transition that a message may carry."""
    learner: dict[str, Any] = {
        "id": transition.learner_id,
        "name": profile.name if profile else None,
        "team": profile.team if profile else None,
    }
    manager: dict[str, Any] = {
        "id": profile.manager_id if profile else None,
        "name": profile.manager_name if profile else None,
    }
    return {
        "id": transition.id,
        "type": "tier_transition",
        "learner": learner,
        "manager": manager,
        "from_tier": transition.from_tier,
        "to_tier": transition.to_tier,
        "route": transition.route,
        "week": transition.week,
        "date": transition.at.date().isoformat(),
        "follow_up_due": transition.follow_up_due.isoformat() if transition.follow_up_due else None,
        "factors": {
            "severity": transition.factors.severity,
            "persistence_weeks": transition.factors.persistence_weeks,
            "role_exposure": list(transition.factors.role_exposure),
        },
        "reasons": [
            {"code": r.code, "text": r.text, "numbers": dict(r.numbers)} for r in transition.reasons
        ],
        "links": dict(links),
    }


def _walk(value: Any, path: str) -> Iterable[tuple[str, str | None, Any]]:
    """Every (path, key, leaf) of a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from ((p, k, v) for p, k, v in _walk(item, f"{path}/{key}"))
            yield f"{path}/{key}", str(key), None
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}/{index}")
    else:
        yield path, None, value


def scan(payload: Any, own_id: str, allowed_emails: Iterable[str] = ()) -> list[str]:
    """Every place where a payload (or a text) carries something it must not."""
    allowed = {e.lower() for e in allowed_emails}
    problems: list[str] = []
    for path, key, leaf in _walk(payload, ""):
        if key is not None:
            named = "/numbers/" in path and _NUMBER_KEYS.match(key)
            if key not in ALLOWED_KEYS and not named and not path.startswith("/links/"):
                problems.append(f"{path}: key {key!r} is not on the allow-list")
            continue
        if isinstance(leaf, str):
            problems.extend(f"{path}: {p}" for p in scan_text(leaf, own_id, allowed))
    return problems


def scan_text(text: str, own_id: str, allowed_emails: set[str] | None = None) -> list[str]:
    """What a rendered text carries that it must not."""
    problems = []
    if _TIME_OF_DAY.search(text):
        problems.append("a time of day")
    if _IPV4.search(text) or _IPV6.search(text):
        problems.append("an IP address")
    if any(m.lower() != own_id.lower() for m in _UUID.findall(text)):
        problems.append("an id other than the transition's")
    if any(m.lower() not in (allowed_emails or set()) for m in _EMAIL.findall(text)):
        problems.append("an e-mail address")
    return problems
