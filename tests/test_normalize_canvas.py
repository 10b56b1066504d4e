"""The Canvas Live Events normaliser: mappings, learners, ids, times, problems, totality."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from schemas.events import LearningEvent
from schemas.roster import Identity
from stream.normalize.base import UNREPRESENTABLE, Normalized, NormalizeError, stable_learner_id
from stream.normalize.canvas import event_name, normalize_live_event

FIXTURES = Path(__file__).parent / "fixtures" / "canvas"
RECEIVED = dt.datetime(2026, 3, 12, 8, 0, tzinfo=dt.UTC)
STUDENT = "21120000000000731"
GRADER = "21120000000000088"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def resolve(identity: Identity) -> str:
    """A transparent resolver: the learner id shows which identity was resolved."""
    return f"{identity.source}/{identity.kind}/{identity.value}"


def normalize(payload: Any, received_at: dt.datetime = RECEIVED) -> Normalized:
    return normalize_live_event(payload, received_at, resolve)


def one(payload: Any, received_at: dt.datetime = RECEIVED) -> LearningEvent:
    result = normalize(payload, received_at)
    assert result.ignored == []
    (event,) = result.events
    return event


def ignored(payload: Any) -> tuple[str, str]:
    result = normalize(payload)
    assert result.events == []
    (why,) = result.ignored
    return why.pointer, why.reason


def problems(payload: Any, received_at: dt.datetime = RECEIVED) -> dict[str, str]:
    with pytest.raises(NormalizeError) as caught:
        normalize(payload, received_at)
    return {p.pointer: p.detail for p in caught.value.problems}


def learner(value: str) -> str:
    return f"canvas/user/{value}"


@pytest.mark.parametrize(
    ("fixture", "kind", "learner_value", "object_id", "score"),
    [
        ("asset_accessed", "view", STUDENT, "wiki_page:21120000000005530", None),
        ("logged_in", "session", STUDENT, "login", None),
        (
            "submission_created_no_metadata_user",
            "progress",
            STUDENT,
            "assignment:21120000000001207",
            None,
        ),
        ("quiz_submitted", "assessment", STUDENT, "quiz:21120000000001931", None),
        ("grade_change_by_grader", "assessment", STUDENT, "assignment:21120000000001207", 0.85),
        ("grade_change_autograded", "assessment", STUDENT, "assignment:21120000000001244", 0.7),
        ("course_progress", "progress", STUDENT, "course:214", None),
        ("course_completed", "completion", STUDENT, "course:214", None),
    ],
)
def test_each_supported_event_maps_to_its_kind(fixture, kind, learner_value, object_id, score):
    """Each supported event name gives one event of its kind, learner, object and score."""
    event = one(load(fixture))
    assert (event.kind, event.learner_id, event.object_id) == (
        kind,
        learner(learner_value),
        object_id,
    )
    assert event.score == (None if score is None else pytest.approx(score))
    assert event.source == "canvas"
    assert event.source_meta == {
        "format": "canvas",
        "event_name": load(fixture)["metadata"]["event_name"],
    }


def test_quiz_submitted_has_no_score_because_canvas_sends_none():
    """quiz_submitted carries only quiz and submission ids: no score, no success."""
    event = one(load("quiz_submitted"))
    assert (event.score, event.success) == (None, None)


def test_grade_change_learner_is_the_student_not_the_grader():
    """grade_change is the student's result: metadata.user_id (the grader) is never resolved."""
    seen: list[Identity] = []

    def spy(identity: Identity) -> str:
        seen.append(identity)
        return stable_learner_id(identity)

    normalize_live_event(load("grade_change_by_grader"), RECEIVED, spy)
    assert [identity.value for identity in seen] == [STUDENT]


def test_grade_change_falls_back_to_body_user_id():
    """Without body.student_id, body.user_id names the student."""
    payload = load("grade_change_by_grader")
    del payload["body"]["student_id"]
    assert one(payload).learner_id == learner(STUDENT)


@pytest.mark.parametrize(
    ("changes", "score", "success"),
    [
        ({"score": None, "grade": "B+"}, None, None),
        ({"points_possible": 0}, None, None),
        ({"points_possible": None}, None, None),
        ({"score": 44}, 1.0, None),
        ({"score": -2}, 0.0, None),
        ({"grading_complete": False}, None, None),
        ({"grade": "complete", "score": 40}, 1.0, True),
        ({"grade": "incomplete", "score": 0}, 0.0, False),
    ],
)
def test_grade_change_score_rules(changes, score, success):
    """score/points_possible clamped to [0, 1]; none without both or before grading ends."""
    payload = load("grade_change_by_grader")
    payload["body"].update(changes)
    event = one(payload)
    assert (event.score, event.success) == (score, success)


def test_grade_change_without_score_or_grade_is_ignored():
    """A removed or excused grade (score and grade null) is ignored, not an error."""
    payload = load("grade_change_by_grader")
    payload["body"].update(score=None, grade=None)
    assert ignored(payload)[0] == "/body/grade"


def test_submission_created_without_metadata_user_uses_body_user():
    """submission_created from an LTI grade passback has no metadata.user_id: body.user_id."""
    payload = load("submission_created_no_metadata_user")
    assert "user_id" not in payload["metadata"]
    assert one(payload).learner_id == learner(STUDENT)


def test_course_progress_with_every_requirement_met_stays_progress():
    """course_progress is progress even at full counts; course_completed is the completion."""
    payload = load("course_progress")
    payload["body"]["progress"].update(requirement_completed_count=7, requirement_count=7)
    assert one(payload).kind == "progress"


def test_views_by_teaching_roles_are_ignored():
    """asset_accessed by a teacher (and other non-learning roles) is ignored."""
    assert ignored(load("asset_accessed_teacher")) == (
        "/body/role",
        "accessed as TeacherEnrollment: not a learner",
    )


def test_views_without_a_user_are_ignored():
    """asset_accessed with no metadata.user_id (a calendar feed) is ignored."""
    payload = load("asset_accessed")
    del payload["metadata"]["user_id"]
    assert ignored(payload)[0] == "/metadata/user_id"


def test_unknown_event_is_ignored_not_an_error():
    """An event name without a mapping is ignored, with the pointer to the name."""
    pointer, reason = ignored(load("unknown_event"))
    assert pointer == "/metadata/event_name"
    assert "discussion_entry_created" in reason


def test_event_name_helper():
    """event_name gives metadata.event_name, or None when it is not a string."""
    assert event_name(load("logged_in")) == "logged_in"
    assert event_name({"metadata": {"event_name": 5}}) is None
    assert event_name([]) is None


def test_ids_are_kept_as_canvas_wrote_them():
    """A global id string is kept exactly; an integer id is written in decimal."""
    payload = load("quiz_submitted")
    payload["metadata"]["user_id"] = 21120000000000731
    assert one(payload).learner_id == learner(STUDENT)
    payload["metadata"]["user_id"] = "731"
    assert one(payload).learner_id == learner("731")


def test_same_content_gives_the_same_event_id():
    """A re-delivered event (even with keys in another order) has the same id."""
    payload = load("asset_accessed")
    reordered = json.loads(json.dumps(payload, sort_keys=True))
    reordered["metadata"] = dict(reversed(list(reordered["metadata"].items())))
    first = one(payload).id
    assert first == one(reordered).id
    assert first.startswith("canvas:")


def test_different_content_gives_a_different_event_id():
    """Any change of content (here the request id) makes a new event id."""
    payload = load("asset_accessed")
    other = copy.deepcopy(payload)
    other["metadata"]["request_id"] = "0b9e5f77-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
    assert one(payload).id != one(other).id


def test_event_time_is_stored_in_utc():
    """metadata.event_time with an offset becomes the same moment in UTC."""
    event = one(load("logged_in"))
    assert event.occurred_at == dt.datetime(2026, 3, 4, 7, 59, 40, 7000, tzinfo=dt.UTC)
    assert event.occurred_at.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("event_time", "detail"),
    [
        ("2026-03-04T09:15:27", "has no UTC offset: the moment is ambiguous"),
        ("4 March 2026", "must be an ISO 8601 time with an offset, e.g. 2026-03-04T09:15:27Z"),
        (
            "0001-01-01T00:00:00+01:00",
            "must be an ISO 8601 time with an offset, e.g. 2026-03-04T09:15:27Z",
        ),
        (1772615727, "must be an ISO 8601 time with an offset, not a number out of range"),
    ],
)
def test_bad_event_times_are_problems(event_time, detail):
    """An event time without an offset, unparsable, out of range or not a string is refused."""
    payload = load("asset_accessed")
    payload["metadata"]["event_time"] = event_time
    assert problems(payload) == {"/metadata/event_time": detail}


def test_missing_event_time_is_a_problem():
    """A supported event without metadata.event_time is refused, pointing at the field."""
    assert problems(load("error_missing_event_time")) == {
        "/metadata/event_time": "is required: an ISO 8601 time with an offset"
    }


def test_a_time_after_receipt_is_kept_for_the_policys_window():
    """A time after receipt is normalised (ingest judges it against the policy's window),
    and the result names the field it came from."""
    payload = load("asset_accessed")
    sent = dt.datetime(2026, 3, 4, 9, 15, 27, 123000, tzinfo=dt.UTC)
    result = normalize_live_event(payload, sent - dt.timedelta(days=1), resolve)
    assert result.events[0].occurred_at == sent
    assert result.time_fields == ["/metadata/event_time"]


def test_a_time_no_record_can_hold_is_refused_at_its_field():
    """An event_time on the calendar's last day (UTC) is refused, naming the field."""
    payload = load("asset_accessed")
    payload["metadata"]["event_time"] = "9999-12-31T12:00:00Z"
    assert problems(payload) == {"/metadata/event_time": UNREPRESENTABLE}


def test_received_at_without_offset_is_the_callers_mistake():
    """A naive received_at is a ValueError: a programming error, not a bad payload."""
    with pytest.raises(ValueError, match="offset"):
        normalize_live_event(load("asset_accessed"), dt.datetime(2026, 3, 12), resolve)


def test_non_numeric_user_id_is_a_problem():
    """A user id that is not digits is refused with its pointer."""
    assert problems(load("error_non_numeric_user_id")) == {
        "/metadata/user_id": "must be a Canvas id (a positive whole number, as digits), "
        "not a string of another form"
    }


def test_every_bad_field_is_listed_with_its_pointer():
    """All problems of a payload come in one NormalizeError, each with its JSON pointer."""
    payload = load("grade_change_by_grader")
    payload["metadata"]["event_time"] = "yesterday"
    payload["body"].update(
        student_id=True, assignment_id=-4, score="34", points_possible=float("nan")
    )
    assert set(problems(payload)) == {
        "/metadata/event_time",
        "/body/student_id",
        "/body/assignment_id",
        "/body/score",
        "/body/points_possible",
    }


def test_course_events_need_user_and_course_objects():
    """course_progress without body.user and with a bad body.course.id lists both."""
    payload = load("course_progress")
    payload["body"]["user"] = "731"
    payload["body"]["course"]["id"] = "two-fourteen"
    assert set(problems(payload)) == {"/body/user", "/body/course/id"}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ([1, 2], {"": "a Live Event must be an object with metadata and body, not an array"}),
        ({"body": {}}, {"/metadata": "must be an object, not null"}),
        (
            {"metadata": {"event_name": ""}},
            {"/metadata/event_name": "must be a non-empty string, not a string of another form"},
        ),
    ],
)
def test_broken_envelopes_are_problems(payload, expected):
    """A payload that is not {metadata: {event_name}} is refused at the envelope."""
    assert problems(payload) == expected


def test_supported_event_without_body_object_lists_body_and_time():
    """A supported event whose body is not an object is refused with every envelope problem."""
    payload = {"metadata": {"event_name": "logged_in"}, "body": None}
    assert set(problems(payload)) == {"/body", "/metadata/event_time"}


def test_an_integer_beyond_64_bits_still_hashes_to_a_stable_id():
    """An integer beyond 64 bits in a field we do not read does not stop the event; the
    content hash still gives the same id for the same payload."""
    payload = load("quiz_submitted")
    payload["body"]["attempt"] = 2**70
    first = normalize_live_event(payload, RECEIVED, resolve).events
    second = normalize_live_event(payload, RECEIVED, resolve).events
    assert len(first) == 1
    assert first[0].id == second[0].id


def test_nesting_too_deep_to_read_is_a_problem_not_a_crash():
    """A body nested deeper than Python can walk is refused with a NormalizeError at /."""
    payload = load("quiz_submitted")
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    payload["body"]["extra"] = deep
    assert set(problems(payload)) == {""}


@pytest.mark.parametrize(
    ("fixture", "acted_by"),
    [
        ("grade_change_by_grader", "grader"),
        ("grade_change_autograded", "grader"),
        ("quiz_submitted", None),
        ("asset_accessed", None),
        ("submission_created_no_metadata_user", None),
    ],
)
def test_a_grade_is_the_graders_act_not_the_learners(fixture: str, acted_by: str | None) -> None:
    """A grade_change carries the learner's result; the grader (or Canvas) acted."""
    assert one(load(fixture)).acted_by == acted_by
