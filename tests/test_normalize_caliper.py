"""Caliper envelopes -> LearningEvent: event types, grader vs learner, versions, problems."""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.roster import Identity
from stream.normalize.base import UNREPRESENTABLE, NormalizeError, stable_learner_id
from stream.normalize.caliper import (
    KINDS,
    SUPPORTED_DATA_VERSIONS,
    UnsupportedDataVersion,
    normalize_envelope,
)

FIXTURES = Path(__file__).parent / "fixtures" / "caliper"
RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
CAMPUS = "https://campus.contoso-learning.example"
INES = f"{CAMPUS}/people/ines-duarte"
V12 = "http://purl.imsglobal.org/ctx/caliper/v1p2"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def learner(iri: str) -> str:
    return stable_learner_id(Identity(source="caliper", kind="actor", value=iri))


def normalize(payload: Any) -> Any:
    return normalize_envelope(payload, RECEIVED, stable_learner_id)


def problems_of(payload: Any) -> dict[str, str]:
    """The problems of an envelope: its own (raised), else its refused items'."""
    try:
        result = normalize(payload)
    except NormalizeError as exc:
        return {p.pointer: p.detail for p in exc.problems}
    problems = {p.pointer: p.detail for r in result.rejected for p in r.problems}
    assert problems, "no problem found"
    return problems


def envelope(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "sensor": f"{CAMPUS}/sensors/lms",
        "sendTime": "2024-05-06T08:10:00.000Z",
        "dataVersion": V12,
        "data": list(events),
    }


def event(**overrides: Any) -> dict[str, Any]:
    base = {
        "@context": V12,
        "id": "urn:uuid:4d5e6f70-8192-4a3b-9c4d-5e6f7a8b9c0d",
        "type": "ViewEvent",
        "actor": {"id": INES, "type": "Person"},
        "action": "Viewed",
        "object": {"id": f"{CAMPUS}/pages/1", "type": "WebPage"},
        "eventTime": "2024-05-06T08:02:11.000Z",
    }
    return {**base, **overrides}


def test_v1p1_session_navigation_and_view() -> None:
    """LoggedIn is a session, NavigatedTo and Viewed are views; an entity in data is ignored."""
    result = normalize(load("v1p1_session_navigation_view.json"))
    assert [e.kind for e in result.events] == ["session", "view", "view"]
    assert {e.learner_id for e in result.events} == {learner(INES)}
    login, nav, _ = result.events
    assert login.id == "caliper:9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c01"
    assert login.object_id == CAMPUS
    assert login.occurred_at == datetime(2024, 5, 6, 7, 58, tzinfo=UTC)
    assert login.source == "caliper"
    assert login.source_meta == {
        "format": "caliper",
        "version": "1.1",
        "type": "SessionEvent",
        "action": "LoggedIn",
    }
    assert nav.object_id == f"{CAMPUS}/courses/anti-bribery/units/2"
    assert [i.pointer for i in result.ignored] == ["/data/3"]


def test_v1p2_assessment_item_and_tool_use() -> None:
    """Started is progress, an item Completed is progress, Submitted is a scoreless
    assessment, Used is a session; ForumEvent and a system TimedOut are ignored."""
    result = normalize(load("v1p2_assessment_item_tooluse.json"))
    kinds = [(e.source_meta["type"], e.kind, e.score) for e in result.events if e.source_meta]
    assert kinds == [
        ("AssessmentEvent", "progress", None),
        ("AssessmentItemEvent", "progress", None),
        ("AssessmentEvent", "assessment", None),
        ("ToolUseEvent", "session", None),
    ]
    assert all(e.source_meta and e.source_meta["version"] == "1.2" for e in result.events)
    assert [i.pointer for i in result.ignored] == ["/data/4", "/data/5"]


def test_item_answers_are_never_forwarded() -> None:
    """An AssessmentItemEvent's response text appears nowhere in the event."""
    item = normalize(load("v1p2_assessment_item_tooluse.json")).events[1]
    assert "Decline" not in item.model_dump_json()


def test_grade_event_learner_is_the_assignee_not_the_grader() -> None:
    """In a GradeEvent the grader acts; the learner is the Attempt's assignee."""
    (graded,) = normalize(load("v1p1_grade_event.json")).events
    assert graded.learner_id == learner(INES)
    assert graded.learner_id != learner(f"{CAMPUS}/people/marcus-oyelaran")
    assert graded.kind == "assessment"
    assert graded.acted_by == "grader"  # a result for the learner, not their activity
    assert graded.object_id == f"{CAMPUS}/courses/anti-bribery/assignments/essay"


def test_grade_score_uses_max_score_of_the_assignable_when_score_has_none() -> None:
    """scoreGiven 30 of the assignable's maxScore 40 is 0.75."""
    (graded,) = normalize(load("v1p1_grade_event.json")).events
    assert graded.score == pytest.approx(0.75)


def test_grade_with_iri_assignee_and_max_score_on_the_score() -> None:
    """A bare IRI assignee works and maxScore on the Score wins."""
    grade = event(
        type="GradeEvent",
        action="Graded",
        actor={"id": f"{CAMPUS}/autograder", "type": "SoftwareApplication"},
        object={"id": f"{CAMPUS}/attempts/1", "type": "Attempt", "assignee": INES},
        generated={"type": "Score", "scoreGiven": 9, "maxScore": 12},
    )
    (graded,) = normalize(envelope(grade)).events
    assert (graded.learner_id, graded.object_id) == (learner(INES), f"{CAMPUS}/attempts/1")
    assert graded.score == pytest.approx(0.75)


def test_assignable_started_submitted_and_instructor_activation() -> None:
    """Started is progress, Submitted a completion; an instructor's Activated is ignored."""
    result = normalize(load("v1p2_assignable.json"))
    assert [e.kind for e in result.events] == ["progress", "completion"]
    assert result.events[1].object_id == f"{CAMPUS}/modules/fire-safety"
    assert [i.pointer for i in result.ignored] == ["/data/2"]


@pytest.mark.parametrize(
    ("kind_name", "action", "kind"),
    [
        (t, a, k)
        for t, actions in sorted(KINDS.items())
        if t != "GradeEvent"
        for a, k in actions.items()
    ],
)
def test_kind_table(kind_name: str, action: str, kind: str) -> None:
    """Every mapped (type, action) of a learner-acted event makes an event of its kind."""
    (made,) = normalize(envelope(event(type=kind_name, action=action))).events
    assert made.kind == kind


def test_bare_actor_iri_and_bare_uuid_id_are_accepted() -> None:
    """An actor given as an IRI and an id without urn:uuid: (as some LMSs send) normalise."""
    bare = event(actor=INES, id="4D5E6F70-8192-4A3B-9C4D-5E6F7A8B9C0D")
    (made,) = normalize(envelope(bare)).events
    assert made.id == "caliper:4d5e6f70-8192-4a3b-9c4d-5e6f7a8b9c0d"
    assert made.learner_id == learner(INES)


def test_unknown_data_version_is_its_own_error() -> None:
    """An unknown dataVersion raises UnsupportedDataVersion, a NormalizeError (HTTP 422)."""
    with pytest.raises(UnsupportedDataVersion) as caught:
        normalize(load("error_unknown_version.json"))
    assert caught.value.problems[0].pointer == "/dataVersion"
    assert set(SUPPORTED_DATA_VERSIONS.values()) == {"1.1", "1.2"}


def test_missing_data_version_is_malformed_not_unsupported() -> None:
    """No dataVersion at all is a malformed envelope (400), not an unsupported one."""
    payload = envelope()
    del payload["dataVersion"]
    with pytest.raises(NormalizeError) as caught:
        normalize(payload)
    assert not isinstance(caught.value, UnsupportedDataVersion)


@pytest.mark.parametrize("name", ["error_no_data.json", "error_data_not_list.json"])
def test_envelope_without_a_data_list_is_malformed(name: str) -> None:
    """data missing or not a list is a problem at /data."""
    assert set(problems_of(load(name))) == {"/data"}


def test_every_problem_is_listed_with_its_pointer() -> None:
    """A bad sendTime, a missing actor, a bad id and time and an impossible grade all show."""
    assert set(problems_of(load("error_many.json"))) == {
        "/sendTime",
        "/data/0/actor",
        "/data/1/id",
        "/data/1/eventTime",
        "/data/2/generated/scoreGiven",
    }


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"object": {"id": f"{CAMPUS}/a/1", "type": "Attempt"}}, "/data/0/object/assignee"),
        (
            {"generated": {"type": "Score", "scoreGiven": 3, "maxScore": -1}},
            "/data/0/generated/maxScore",
        ),
        (
            {"generated": {"type": "Score", "scoreGiven": "3", "maxScore": 5}},
            "/data/0/generated/scoreGiven",
        ),
        ({"generated": 7}, "/data/0/generated"),
    ],
)
def test_bad_grades_are_problems(change: dict[str, Any], where: str) -> None:
    """A grade without assignee, with a negative maxScore or with a bad score is a problem."""
    grade = event(
        type="GradeEvent",
        action="Graded",
        object={"id": f"{CAMPUS}/a/1", "type": "Attempt", "assignee": INES},
        generated={"type": "Score", "scoreGiven": 3, "maxScore": 5},
    )
    assert set(problems_of(envelope({**grade, **change}))) == {where}


def test_non_person_actor_is_ignored_and_blank_node_is_a_problem() -> None:
    """A learner event acted by software is nobody's activity (ignored); a blank node
    names no learner (a problem)."""
    software = event(actor={"id": f"{CAMPUS}/bot", "type": "SoftwareApplication"})
    blank = event(id="urn:uuid:4d5e6f70-8192-4a3b-9c4d-5e6f7a8b9c0e", actor="_:b0")
    result = normalize(envelope(software, blank))
    assert [(i.pointer, i.code) for i in result.ignored] == [("/data/0/actor", "not_a_person")]
    assert set(problems_of(envelope(software, blank))) == {"/data/1/actor"}


def test_duplicate_event_ids_are_a_problem() -> None:
    """Two events with one id in an envelope would make one event twice."""
    assert problems_of(envelope(event(), event())) == {"/data/1/id": "repeats the id of /data/0"}


def test_unknown_event_type_and_action_are_ignored() -> None:
    """An event type or action we do not track is ignored, not an error."""
    result = normalize(envelope(event(type="FooEvent"), event(action="Bookmarked")))
    assert result.events == []
    assert [i.code for i in result.ignored] == ["unknown_event_type", "not_activity"]


def test_non_object_payload_and_data_items() -> None:
    """A payload that is not an object, or a data item that is not one, is a problem."""
    assert set(problems_of([1, 2])) == {""}
    assert set(problems_of(envelope("urn:uuid:x"))) == {"/data/0"}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = ["id", "type", "actor", "action", "object", "eventTime", "generated"]


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_arbitrary_json_raises_only_normalize_error(payload: Any) -> None:
    """Whatever JSON arrives, the only exception is NormalizeError."""
    for candidate in (payload, envelope(payload)):
        with contextlib.suppress(NormalizeError):
            normalize(candidate)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(FIELDS), JSON, st.booleans())
def test_a_grade_event_with_any_field_replaced_raises_only_normalize_error(
    field: str, value: Any, in_object: bool
) -> None:
    """A valid GradeEvent with one field (or one Attempt field) replaced by arbitrary JSON
    either normalises or raises NormalizeError."""
    grade = event(
        type="GradeEvent",
        action="Graded",
        object={
            "id": f"{CAMPUS}/a/1",
            "type": "Attempt",
            "assignee": INES,
            "assignable": f"{CAMPUS}/q/1",
        },
        generated={"type": "Score", "scoreGiven": 3, "maxScore": 5},
    )
    bad = copy.deepcopy(grade)
    (bad["object"] if in_object else bad)[field] = value
    with contextlib.suppress(NormalizeError):
        normalize(envelope(bad))


def test_each_event_names_its_event_time_and_impossible_times_are_refused() -> None:
    """time_fields points at each event's eventTime; one on 9999-12-31 (UTC) is refused."""
    second = event(id="urn:uuid:5d5e6f70-8192-4a3b-9c4d-5e6f7a8b9c0d")
    assert normalize(envelope(event(), second)).time_fields == [
        "/data/0/eventTime",
        "/data/1/eventTime",
    ]
    late = envelope(event(eventTime="9999-12-31T12:00:00.000Z"))
    assert problems_of(late) == {"/data/0/eventTime": UNREPRESENTABLE}
