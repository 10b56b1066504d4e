"""The Moodle webhook normaliser: mappings, learners, ids, the token, times, problems, totality."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import LearningEvent
from schemas.roster import Identity
from stream.normalize.base import UNREPRESENTABLE, Normalized, NormalizeError
from stream.normalize.moodle import normalize_event
from tests.totality import JSON, outcome

FIXTURES = Path(__file__).parent / "fixtures" / "moodle"
RECEIVED = dt.datetime(2026, 3, 12, 8, 0, tzinfo=dt.UTC)
MOODLE_ID = "a Moodle id (a positive whole number)"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def resolve(identity: Identity) -> str:
    """A transparent resolver: the learner id shows which identity was resolved."""
    return f"{identity.source}/{identity.kind}/{identity.value}"


def normalize(payload: Any, received_at: dt.datetime = RECEIVED) -> Normalized:
    return normalize_event(payload, received_at, resolve)


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


def learner(value: int) -> str:
    return f"moodle/user/{value}"


@pytest.mark.parametrize(
    ("fixture", "kind", "learner_id", "object_id", "success"),
    [
        ("course_viewed", "view", 57, "course:37", None),
        ("module_viewed", "view", 57, "cm:418", None),
        ("completion_updated_complete", "completion", 57, "cm:418", None),
        ("completion_updated_pass", "completion", 57, "cm:425", True),
        ("completion_updated_fail", "assessment", 61, "cm:425", False),
        ("attempt_submitted", "assessment", 57, "cm:425", None),
        ("user_graded", "assessment", 57, "grade_item:311", None),
        ("course_completed", "completion", 57, "course:37", None),
        ("user_loggedin", "session", 57, "login", None),
        ("other_as_string", "completion", 57, "cm:418", True),
    ],
)
def test_each_supported_event_maps_to_its_kind(fixture, kind, learner_id, object_id, success):
    """Each supported event gives one event of its kind, learner, object and success."""
    payload = load(fixture)
    event = one(payload)
    assert (event.kind, event.learner_id, event.object_id) == (kind, learner(learner_id), object_id)
    assert (event.score, event.success) == (None, success)
    assert event.source == "moodle"
    assert event.source_meta == {"format": "moodle", "eventname": payload["eventname"]}


def test_failed_grade_hidden_is_a_failed_assessment():
    """completionstate 4 (failed, grade hidden) is a failed assessment, like 3."""
    payload = load("completion_updated_fail")
    payload["other"]["completionstate"] = 4
    assert (one(payload).kind, one(payload).success) == ("assessment", False)


@pytest.mark.parametrize(
    ("fixture", "actor", "owner"),
    [
        ("completion_updated_by_teacher", 3, 64),
        ("attempt_submitted_by_cron", 2, 61),
        ("user_graded", 3, 57),
    ],
)
def test_learner_is_relateduserid_not_the_acting_user(fixture, actor, owner):
    """Where someone acts for a learner (override, cron, grader), relateduserid is the learner."""
    payload = load(fixture)
    assert (payload["userid"], payload["relateduserid"]) == (actor, owner)
    assert one(payload).learner_id == learner(owner)


def test_user_graded_has_no_score_because_moodle_sends_no_range():
    """other.finalgrade comes without grademin/grademax: the assessment has no score."""
    assert one(load("user_graded")).score is None


@pytest.mark.parametrize(
    ("fixture", "change", "where"),
    [
        ("completion_updated_incomplete", {}, "/other/completionstate"),
        ("anonymous", {}, "/anonymous"),
        ("unknown_event", {}, "/eventname"),
        ("course_viewed", {"userid": 0}, "/userid"),
        ("user_loggedin", {"objectid": 0}, "/objectid"),
        (
            "user_graded",
            {"other": {"itemid": 311, "overridden": False, "finalgrade": None}},
            "/other/finalgrade",
        ),
    ],
)
def test_events_that_say_nothing_of_engagement_are_ignored(fixture, change, where):
    """Withdrawn completions, anonymous events, unknown events, user 0 and cleared grades."""
    payload = load(fixture)
    payload.update(change)
    assert ignored(payload)[0] == where


def test_eventname_without_leading_backslash_is_accepted():
    """A plugin that strips the leading backslash of the class name is understood."""
    payload = load("module_viewed")
    payload["eventname"] = payload["eventname"].removeprefix("\\")
    assert one(payload).kind == "view"


def test_ids_as_strings_are_the_same_identity():
    """Moodle sends ids as numbers or database strings: 57 and "57" are one user."""
    payload = load("course_completed")
    payload["relateduserid"] = "57"
    assert one(payload).learner_id == learner(57)


def test_token_does_not_change_the_event_id():
    """The shared token is left out of the content hash."""
    payload = load("course_viewed")
    other = copy.deepcopy(payload)
    other["token"] = "0000000000000000000000000000ffff"
    del payload["token"]
    assert one(payload).id == one(other).id


def test_token_never_reaches_an_event_or_a_problem():
    """No part of the event, nor any problem detail, contains the token."""
    payload = load("course_viewed")
    token = payload["token"]
    assert token not in one(payload).model_dump_json()
    payload["timecreated"] = token
    assert token not in json.dumps(problems(payload))


def test_same_content_gives_the_same_event_id():
    """A re-delivered event (keys in another order) has the same id."""
    payload = load("attempt_submitted")
    reordered = dict(reversed(list(payload.items())))
    assert one(payload).id == one(reordered).id
    assert one(payload).id.startswith("moodle:")


def test_different_content_gives_a_different_event_id():
    """Two submissions of different attempts have different ids."""
    payload = load("attempt_submitted")
    other = copy.deepcopy(payload)
    other["objectid"] = 3308
    assert one(payload).id != one(other).id


def test_timecreated_is_a_utc_moment():
    """timecreated (unix seconds) becomes an aware UTC datetime."""
    assert one(load("course_viewed")).occurred_at == dt.datetime(
        2026, 3, 4, 9, 15, 27, tzinfo=dt.UTC
    )


@pytest.mark.parametrize(
    ("timecreated", "detail"),
    [
        (
            "2026-03-04 09:16:42",
            "must be a whole number of unix seconds, not a string of another form",
        ),
        (True, "must be a whole number of unix seconds, not a boolean"),
        (1772615727.5, "must be a whole number of unix seconds, not a number"),
        (0, "must be a whole number of unix seconds, not a number out of range"),
        (10**20, "must be a whole number of unix seconds, not a number out of range"),
        (None, "is required: a whole number of unix seconds"),
    ],
)
def test_bad_timecreated_is_a_problem(timecreated, detail):
    """timecreated must be a positive integer within the datetime range."""
    payload = load("course_viewed")
    payload["timecreated"] = timecreated
    assert problems(payload) == {"/timecreated": detail}


def test_timecreated_as_string_fixture_is_refused():
    """The fixture whose timecreated is a formatted string is refused at /timecreated."""
    assert set(problems(load("error_timecreated_string"))) == {"/timecreated"}


def test_a_time_after_receipt_is_kept_for_the_policys_window():
    """A time after receipt is normalised (ingest judges it against the policy's window),
    and the result names the field it came from."""
    payload = load("course_viewed")
    sent = dt.datetime(2026, 3, 4, 9, 15, 27, tzinfo=dt.UTC)
    result = normalize_event(
        {**payload, "timecreated": int(sent.timestamp())}, sent - dt.timedelta(days=1), resolve
    )
    assert result.events[0].occurred_at == sent
    assert result.time_fields == ["/timecreated"]


def test_a_time_no_record_can_hold_is_refused_at_its_field():
    """timecreated on the calendar's last day (UTC) is refused, naming the field."""
    payload = {**load("course_viewed"), "timecreated": 253402300799}
    assert problems(payload) == {"/timecreated": UNREPRESENTABLE}


def test_received_at_without_offset_is_the_callers_mistake():
    """A naive received_at is a ValueError: a programming error, not a bad payload."""
    with pytest.raises(ValueError, match="offset"):
        normalize_event(load("course_viewed"), dt.datetime(2026, 3, 12), resolve)


def test_bad_ids_are_listed_with_their_pointers():
    """A non-numeric learner and a boolean module id are both refused."""
    assert problems(load("error_bad_ids")) == {
        "/relateduserid": f"must be {MOODLE_ID}, not a string of another form",
        "/contextinstanceid": f"must be {MOODLE_ID}, not a boolean",
    }


def test_every_bad_field_is_listed_with_its_pointer():
    """All problems of a payload come in one NormalizeError, each with its JSON pointer."""
    payload = load("user_graded")
    payload.update(relateduserid=-57, timecreated="now", anonymous="no")
    payload["other"] = {"itemid": 2**80, "finalgrade": "eight"}
    assert set(problems(payload)) == {
        "/relateduserid",
        "/timecreated",
        "/anonymous",
        "/other/itemid",
        "/other/finalgrade",
    }


@pytest.mark.parametrize(
    ("other", "where"),
    [
        ('a:1:{s:15:"completionstate";i:1;}', "/other"),
        (None, "/other"),
        ({"completionstate": 7}, "/other/completionstate"),
        ({"completionstate": True}, "/other/completionstate"),
    ],
)
def test_completion_needs_a_known_state_in_an_object(other, where):
    """`other` must be an object (or its JSON string) with completionstate 0 to 4."""
    payload = load("completion_updated_complete")
    payload["other"] = other
    assert set(problems(payload)) == {where}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("event", {"": "a Moodle event must be an object, not a string of another form"}),
        (
            {"eventname": 12},
            {"/eventname": "must be the name of an event class, not a number out of range"},
        ),
    ],
)
def test_payloads_without_an_event_name_are_problems(payload, expected):
    """A payload that is not an object with an eventname is refused."""
    assert problems(payload) == expected


def test_an_integer_beyond_64_bits_still_hashes_to_a_stable_id():
    """An integer beyond 64 bits in a field we do not read does not stop the event."""
    payload = load("course_viewed")
    payload["contextid"] = 2**70
    first = normalize_event(payload, RECEIVED, resolve).events
    assert len(first) == 1
    assert first[0].id == normalize_event(payload, RECEIVED, resolve).events[0].id


def test_deeply_nested_other_string_is_a_problem_not_a_crash():
    """An `other` string nested beyond the JSON decoder's depth limit is refused at /other."""
    payload = load("completion_updated_complete")
    payload["other"] = "[" * 5000 + "]" * 5000
    assert problems(payload) == {"/other": "is a string that is not JSON"}


# Arbitrary JSON values, and Moodle-shaped objects whose fields hold arbitrary JSON.
IDS = st.integers(-2, 2**70) | st.from_regex(r"[0-9]{1,22}", fullmatch=True) | JSON
NAMES = st.sampled_from(
    [r"\core\event\course_viewed", r"\mod_page\event\course_module_viewed",
     r"\core\event\course_module_completion_updated", r"\mod_quiz\event\attempt_submitted",
     r"\core\event\user_graded", r"\core\event\course_completed", r"\core\event\user_loggedin",
     r"\mod_forum\event\post_created", r"core\event\course_viewed"]
)  # fmt: skip
OTHER = (
    st.fixed_dictionaries(
        {
            "completionstate": st.integers(-1, 5) | JSON,
            "finalgrade": st.floats() | JSON,
            "itemid": IDS,
        }
    )
    | st.sampled_from(['{"completionstate": 2, "finalgrade": 5, "itemid": 1}', "a:0:{}", "[1]"])
    | JSON
)
SHAPED = st.fixed_dictionaries(
    {
        "eventname": NAMES,
        **dict.fromkeys(
            ["userid", "relateduserid", "objectid", "courseid", "contextinstanceid"], IDS
        ),
        "anonymous": st.sampled_from([0, 1, False]) | JSON,
        "other": OTHER,
        "timecreated": st.integers(-(2**64), 2**64) | st.integers(1772000000, 1773000000) | JSON,
        "token": st.text(max_size=8),
    }
)


@settings(max_examples=100, deadline=None)
@given(JSON)
def test_arbitrary_json_never_raises_anything_but_normalize_error(payload):
    """Whatever JSON arrives, the normaliser returns a result or raises NormalizeError."""
    outcome(normalize, payload)


@settings(max_examples=200, deadline=None)
@given(SHAPED)
def test_event_shaped_json_never_raises_anything_but_normalize_error(payload):
    """Moodle-shaped payloads, arbitrary fields: a result or a NormalizeError, twice alike."""
    assert outcome(normalize, payload) == outcome(normalize, copy.deepcopy(payload))


@pytest.mark.parametrize(
    ("fixture", "acted_by"),
    [
        ("user_graded", "grader"),
        ("completion_updated_fail", "other"),  # the grade that failed it, given by user 57
        ("completion_updated_by_teacher", "other"),  # a teacher's override
        ("attempt_submitted_by_cron", "other"),  # the cron closing an overdue attempt
        ("attempt_submitted", None),
        ("completion_updated_complete", None),
        ("course_viewed", None),
    ],
)
def test_what_someone_else_did_for_the_learner_says_who(fixture, acted_by):
    """Where `userid` (who acted) is not the learner, the event is not their activity."""
    assert one(load(fixture)).acted_by == acted_by
