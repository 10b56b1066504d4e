"""Caliper envelopes item by item: a grade without a score, a bad event refused alone, and
what each of the official Caliper 1.2 error cases that are not envelope errors gives."""

from __future__ import annotations

from typing import Any

import pytest

from stream.normalize.caliper import KINDS
from tests.test_normalize_caliper import (
    CAMPUS,
    INES,
    envelope,
    event,
    learner,
    load,
    normalize,
    problems_of,
)

SESSION = {"id": f"{CAMPUS}/sessions/1f64", "type": "Session"}
PERSON = {"id": INES, "type": "Person"}


def test_a_graded_attempt_with_max_score_zero_and_no_score_is_a_grade_without_score() -> None:
    """GradeEvent Graded with `maxScore: 0.0` and no scoreGiven (the shape of the official
    Caliper 1.2 GradeGraded and GradeGradedItem fixtures): an assessment of the assignee,
    with no score, noted as such; nothing refused."""
    result = normalize(load("v1p2_grade_graded_no_score.json"))
    assert result.rejected == []
    assert [(e.kind, e.score, e.learner_id) for e in result.events] == [
        ("assessment", None, learner(INES)),
        ("assessment", None, learner(INES)),
    ]
    assert result.events[0].object_id == f"{CAMPUS}/courses/fire-safety/assess/1"
    assert [(n.pointer, n.code) for n in result.notes] == [
        ("/data/0/generated", "no_score"),
        ("/data/1/generated", "no_score"),
    ]


@pytest.mark.parametrize(
    "generated",
    [None, f"{CAMPUS}/scores/1", {"type": "Score", "scoreGiven": 4}],
    ids=["no-score-entity", "score-as-iri", "score-without-max"],
)
def test_a_grade_whose_score_cannot_be_scaled_has_no_score(generated: Any) -> None:
    """No Score, a Score named only by its IRI, or a scoreGiven with no maxScore anywhere:
    the grade is taken without a score."""
    grade = event(
        type="GradeEvent",
        action="Graded",
        object={"id": f"{CAMPUS}/a/1", "type": "Attempt", "assignee": INES},
        generated=generated,
    )
    result = normalize(envelope(grade))
    assert [(e.kind, e.score) for e in result.events] == [("assessment", None)]
    assert [n.code for n in result.notes] == ["no_score"]


def test_an_invalid_event_is_refused_alone_and_the_others_are_taken() -> None:
    """Eight items, one with a bad eventTime: seven events, and the bad one refused with a
    problem naming its field."""
    good = [event(id=f"urn:uuid:4d5e6f70-8192-4a3b-9c4d-5e6f7a8b9c0{i}") for i in range(8)]
    good[5]["eventTime"] = "last Tuesday"
    result = normalize(envelope(*good))
    assert len(result.events) == 7
    assert [(r.pointer, [p.pointer for p in r.problems]) for r in result.rejected] == [
        ("/data/5", ["/data/5/eventTime"])
    ]
    assert "/data/5/eventTime" not in result.time_fields


def test_a_repeated_id_refuses_the_repeat_only() -> None:
    """Two events with one id: the first is taken, the second refused."""
    result = normalize(envelope(event(), event()))
    assert len(result.events) == 1
    assert [r.pointer for r in result.rejected] == ["/data/1"]


def test_a_malformed_envelope_still_refuses_everything_and_lists_the_items_problems() -> None:
    """A bad sendTime refuses the envelope; the items' problems are listed with it."""
    assert set(problems_of(envelope(event(eventTime="soon")) | {"sendTime": "x"})) == {
        "/sendTime",
        "/data/0/eventTime",
    }


# The official Caliper 1.2 event error cases (commonErrorFixtures/caliperEvent-*) that were
# answered 200, rebuilt on our own event: what each gives now. "refused" items are
# dead-lettered at ingest with their pointer; "ignored" and "noted" ones are counted in
# tierwatch_ingest_unused_total by their code.
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("EdAppNotAString", {"edApp": "This is not an IRI"}, "refused", "/data/0/edApp"),
    ("EdAppWrongEntityType", {"edApp": PERSON}, "refused", "/data/0/edApp/type"),
    ("ExtensionsNotAString", {"extensions": "not an object"}, "refused", "/data/0/extensions"),
    ("ExtensionsNotAnIRI", {"extensions": f"{CAMPUS}/ext"}, "refused", "/data/0/extensions"),
    (
        "FederatedSessionNotAString",
        {"federatedSession": "x y"},
        "refused",
        "/data/0/federatedSession",
    ),
    (
        "FederatedSessionWrongEntityType",
        {"federatedSession": SESSION},
        "refused",
        "/data/0/federatedSession/type",
    ),
    ("GroupNotAString", {"group": "not an IRI"}, "refused", "/data/0/group"),
    ("GroupWrongEntityType", {"group": PERSON}, "refused", "/data/0/group/type"),
    ("MembershipNotAString", {"membership": "not an IRI"}, "refused", "/data/0/membership"),
    (
        "MembershipWrongEntityType",
        {"membership": {"id": f"{CAMPUS}/sections/1", "type": "CourseSection"}},
        "refused",
        "/data/0/membership/type",
    ),
    ("ReferrerNotAString", {"referrer": "not an IRI"}, "refused", "/data/0/referrer"),
    ("SessionNotAString", {"session": "not an IRI"}, "refused", "/data/0/session"),
    ("SessionWrongEntityType", {"session": PERSON}, "refused", "/data/0/session/type"),
    (
        "TargetNotAString",
        {"type": "MediaEvent", "action": "Paused", "target": "not an IRI"},
        "refused",
        "/data/0/target",
    ),
    (
        "GeneralActorWrongEntityType",
        {
            "type": "Event",
            "action": "Created",
            "actor": {"id": f"{CAMPUS}/d/1", "type": "Document"},
        },
        "refused",
        "/data/0/actor/type",
    ),
    ("UnknownAction", {"action": "NotAnAction"}, "ignored", "not_activity"),
    ("UnknownEventType", {"type": "NotACaliperEventType"}, "ignored", "unknown_event_type"),
    ("UnknownProfile", {"profile": "NotACaliperProfile"}, "noted", "unknown_profile"),
]


@pytest.mark.parametrize(
    ("change", "outcome", "where"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_official_error_cases(change: dict[str, Any], outcome: str, where: str) -> None:
    """Malformed context (edApp, group, membership, session, federatedSession, referrer,
    target, extensions) or a non-agent actor: the event is refused at that field. An
    action or event type Caliper does not define: taken and ignored. A profile Caliper
    does not define: the event is used (type and action say what it is), and noted."""
    result = normalize(envelope(event(**change)))
    if outcome == "refused":
        assert where in problems_of(envelope(event(**change)))
        assert result.events == []
        assert result.ignored == []
    elif outcome == "ignored":
        assert result.events == []
        assert [i.code for i in result.ignored] == [where]
    else:
        assert len(result.events) == 1
        assert [n.code for n in result.notes] == [where]


@pytest.mark.parametrize("field", ["edApp", "group", "membership", "session", "referrer"])
def test_context_given_as_an_iri_or_a_blank_node_is_taken(field: str) -> None:
    """A context entity named by its IRI alone (or by a JSON-LD blank node) is valid."""
    for value in (f"{CAMPUS}/{field}/1", "_:b1"):
        assert len(normalize(envelope(event(**{field: value}))).events) == 1


def test_an_ignored_event_type_is_still_checked() -> None:
    """A Caliper event tierwatch does not read (MediaEvent Paused) is refused when it is
    malformed, and ignored when it is not."""
    assert "MediaEvent" in KINDS
    assert "Paused" not in KINDS["MediaEvent"]
    paused = event(type="MediaEvent", action="Paused")
    assert [i.code for i in normalize(envelope(paused)).ignored] == ["not_activity"]
    assert set(problems_of(envelope({**paused, "eventTime": None}))) == {"/data/0/eventTime"}
