"""What the Canvas and Moodle normalisers share: one event from a payload's facts, object
ids with a prefix, and problems that name a value's JSON type, never the value."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.roster import Identity
from stream.normalize.base import Facts, Found, Normalized, NormalizeError, content_hash
from stream.normalize.lms_event import expected, join, json_type, lms_event

AT = dt.datetime(2026, 3, 4, 9, 15, tzinfo=dt.UTC)
PAYLOAD = {"eventname": "graded", "relateduserid": 42}


def resolve(identity: Identity) -> str:
    """A transparent resolver: the learner id shows which identity was resolved."""
    return f"{identity.source}/{identity.kind}/{identity.value}"


def make(
    found: Found,
    facts: Facts,
    occurred_at: dt.datetime | None = AT,
) -> Normalized:
    return lms_event(
        found,
        facts,
        source="moodle",
        hashed=PAYLOAD,
        occurred_at=occurred_at,
        meta={"eventname": "graded"},
        time_field="/time",
        resolve=resolve,
    )


def test_lms_event_resolves_the_user_and_keeps_every_fact():
    """The learner is the source's user, resolved; kind, object, score, success and who
    acted come from the facts; source_meta starts with the format; the time field is kept."""
    facts = Facts("assessment", "42", "assignment:7", 0.5, True, acted_by="grader")
    result = make(Found(), facts)
    [event] = result.events
    assert event.learner_id == "moodle/user/42"
    assert (event.id, event.occurred_at, event.source) == (
        f"moodle:{content_hash(PAYLOAD)}",
        AT,
        "moodle",
    )
    assert (event.kind, event.object_id, event.score) == ("assessment", "assignment:7", 0.5)
    assert (event.success, event.acted_by) == (True, "grader")
    assert event.source_meta == {"format": "moodle", "eventname": "graded"}
    assert result.time_fields == ["/time"]


def test_lms_event_raises_every_problem_found():
    """A problem found while reading the payload refuses the event, naming every problem."""
    found = Found()
    found.add(("body", "score"), "must be a number")
    found.add(("metadata", "event_time"), "is required")
    with pytest.raises(NormalizeError) as raised:
        make(found, Facts("view", "42", "course:1"))
    assert [p.pointer for p in raised.value.problems] == ["/body/score", "/metadata/event_time"]


@pytest.mark.parametrize(
    ("facts", "occurred_at"),
    [
        (Facts("view", None, "course:1"), AT),
        (Facts("view", "42", None), AT),
        (Facts("view", "42", "course:1"), None),
    ],
)
def test_lms_event_refuses_a_missing_part(facts, occurred_at):
    """No learner, object or time: no event (the problem was added where it was read)."""
    with pytest.raises(NormalizeError):
        make(Found(), facts, occurred_at)


def test_lms_event_id_is_the_content_hash_so_a_redelivery_is_a_duplicate():
    """The same content gives the same id; any change of content gives another."""
    facts = Facts("view", "42", "course:1")
    again = make(Found(), facts).events[0].id
    assert again == make(Found(), facts).events[0].id
    other = lms_event(
        Found(), facts, source="moodle", hashed={**PAYLOAD, "relateduserid": 43},
        occurred_at=AT, meta={}, time_field="/time", resolve=resolve,
    )  # fmt: skip
    assert other.events[0].id != again


def test_join_needs_both_parts():
    """An object id is "prefix:value"; a missing part (a bad field) gives none."""
    assert join("course", "42") == "course:42"
    assert join("course", None) is None
    assert join(None, "42") is None


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "null"),
        (True, "a boolean"),
        (10**40, "a number out of range"),
        (1.5, "a number"),
        ("secret@example.org", "a string of another form"),
        ([1], "an array"),
        ({"a": 1}, "an object"),
    ],
)
def test_json_type_names_the_type_never_the_value(value, name):
    """A problem says what kind of JSON value was sent, not the value (it may be personal)."""
    assert json_type(value) == name


def test_expected_says_required_or_what_it_must_be():
    """A missing value is required; a present one must be something else than it is."""
    assert expected("a Moodle id", None) == "is required: a Moodle id"
    assert expected("a Moodle id", "x") == "must be a Moodle id, not a string of another form"
