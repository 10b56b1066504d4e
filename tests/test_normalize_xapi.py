"""xAPI statements -> LearningEvent: verbs, identities, ids, times, scores, problems."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.roster import Identity
from stream.normalize.base import UNREPRESENTABLE, NormalizeError, stable_learner_id
from stream.normalize.xapi import (
    assign_ids,
    canonical_uuid,
    normalize_statements,
    parse_duration,
    verb_kind,
    voided_statement_id,
)
from stream.normalize.xapi_compare import statement_fingerprint

FIXTURES = Path(__file__).parent / "fixtures" / "xapi"
RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ADL = "http://adlnet.gov/expapi/verbs/"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def resolve(identity: Identity) -> str:
    return stable_learner_id(identity)


def normalize(payload: Any) -> Any:
    return normalize_statements(payload, RECEIVED, resolve)


def problems_of(payload: Any) -> dict[str, str]:
    with pytest.raises(NormalizeError) as caught:
        normalize(payload)
    return {p.pointer: p.detail for p in caught.value.problems}


def statement(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "6a0f3c1e-2d4b-4e6f-8a1c-3e5f7a9b1c2d",
        "actor": {"mbox": "mailto:ana@example.com"},
        "verb": {"id": ADL + "experienced"},
        "object": {"id": "https://lms.example.com/modules/m1"},
        "timestamp": "2024-05-01T10:00:00Z",
    }
    return {**base, **overrides}


def test_account_actor_with_scaled_score() -> None:
    """An account actor becomes (xapi, account, homePage|name) and scaled is the score."""
    seen: list[Identity] = []

    def remember(identity: Identity) -> str:
        seen.append(identity)
        return "learner-1"

    result = normalize_statements(load("account_scaled.json"), RECEIVED, remember)
    (event,) = result.events
    assert seen == [
        Identity(
            source="xapi", kind="account", value="https://lms.northwind-learning.example|emp-40117"
        )
    ]
    assert event.learner_id == "learner-1"
    assert event.id == "xapi:3d4f7a10-2b6c-4e8f-9a1d-5c7e9b0f2a34"
    assert event.kind == "assessment"
    assert event.score == pytest.approx(0.86)
    assert event.success is True
    assert event.duration_s == pytest.approx(18 * 60 + 42)
    assert event.object_id == "https://lms.northwind-learning.example/assessments/gdpr-final"
    assert event.occurred_at == datetime(2024, 3, 12, 8, 41, 7, 250000, tzinfo=UTC)
    assert event.source == "xapi"
    assert event.source_meta == {"format": "xapi", "time": "timestamp", "version": "1.0.3"}


def test_mbox_actor_raw_score_and_duration() -> None:
    """An mbox is lowercased; raw/min/max scales to 0..1; PT1H2M3.5S is 3723.5 s."""
    (event,) = normalize(load("mbox_raw_duration.json")).events
    assert event.learner_id == stable_learner_id(
        Identity(source="xapi", kind="mbox", value="mailto:tomas.berg@fabrikam.example")
    )
    assert event.score == pytest.approx(36 / 48)
    assert event.duration_s == pytest.approx(3723.5)
    assert event.source_meta is not None
    assert event.source_meta["version"] == "2.0.0"


def test_batch_maps_each_verb_to_its_kind() -> None:
    """launched, viewed, answered, completed, failed, an unknown verb, logged-out, in order."""
    events = normalize(load("batch_verbs.json")).events
    kinds = [e.kind for e in events]
    assert kinds == [
        "session",
        "view",
        "progress",
        "completion",
        "assessment",
        "progress",
        "session",
    ]


def test_answered_is_item_level_progress_without_score() -> None:
    """An answered item counts as activity but never carries its score or success."""
    answered = normalize(load("batch_verbs.json")).events[2]
    assert (answered.kind, answered.score, answered.success) == ("progress", None, None)


def test_negative_scaled_score_is_clamped_to_zero() -> None:
    """A scaled score below 0 (allowed by xAPI) becomes 0 in our 0..1 range."""
    failed = normalize(load("batch_verbs.json")).events[4]
    assert (failed.score, failed.success) == (0.0, False)


@pytest.mark.parametrize(
    ("verb", "kind"),
    [
        (ADL + "initialized", "session"),
        (ADL + "terminated", "session"),
        (ADL + "suspended", "session"),
        ("https://w3id.org/xapi/adl/verbs/logged-in", "session"),
        (ADL + "attended", "session"),
        (ADL + "experienced", "view"),
        ("https://w3id.org/xapi/video/verbs/played", "view"),
        (ADL + "progressed", "progress"),
        (ADL + "interacted", "progress"),
        (ADL + "commented", "progress"),
        (ADL + "attempted", "progress"),
        ("https://example.org/verbs/doodled", "progress"),
        (ADL + "completed", "completion"),
        ("https://w3id.org/xapi/adl/verbs/satisfied", "completion"),
        (ADL + "passed", "assessment"),
        (ADL + "scored", "assessment"),
        (ADL + "voided", None),
        (ADL + "registered", None),
        ("https://w3id.org/xapi/adl/verbs/waived", None),
    ],
)
def test_verb_kind_table(verb: str, kind: str | None) -> None:
    """Each documented verb maps to its kind; ignored verbs map to None."""
    assert verb_kind(verb) == kind


def test_result_completion_on_a_module_is_a_completion() -> None:
    """progressed with result.completion true on a module-typed Activity is a completion."""
    module = {
        "id": "https://lms.example.com/modules/m1",
        "definition": {"type": "http://adlnet.gov/expapi/activities/module"},
    }
    done = statement(verb={"id": ADL + "progressed"}, object=module, result={"completion": True})
    lesson_item = statement(verb={"id": ADL + "progressed"}, result={"completion": True})
    assert normalize(done).events[0].kind == "completion"
    assert normalize(lesson_item).events[0].kind == "progress"


def test_voiding_statement_is_ignored_and_names_its_target() -> None:
    """A voided verb makes no event: it is ignored and says which statement it voids."""
    payload = load("voiding.json")
    result = normalize(payload)
    assert result.events == []
    (ignored,) = result.ignored
    assert ignored.pointer == ""
    assert "0b7e1c52-3f9a-4d2e-8b6c-1a2f3e4d5c64" in ignored.reason
    assert voided_statement_id(payload) == "0b7e1c52-3f9a-4d2e-8b6c-1a2f3e4d5c64"
    assert voided_statement_id(statement()) is None


def test_registered_is_ignored_in_a_batch_with_its_pointer() -> None:
    """An enrolment is not activity: it is ignored, pointing at its array index."""
    batch = [statement(), statement(id=str(uuid.uuid4()), verb={"id": ADL + "registered"})]
    result = normalize(batch)
    assert len(result.events) == 1
    assert [i.pointer for i in result.ignored] == ["/1"]


def test_time_falls_back_to_stored_then_received() -> None:
    """Without timestamp the time is stored, else received_at; a bare time is read as UTC."""
    events = normalize(load("without_timestamp.json")).events
    assert [e.source_meta["time"] for e in events if e.source_meta] == [
        "stored",
        "received",
        "timestamp",
    ]
    assert events[0].occurred_at == datetime(2024, 4, 3, 7, 15, 30, 120000, tzinfo=UTC)
    assert events[1].occurred_at == RECEIVED
    assert events[2].occurred_at == datetime(2024, 4, 3, 9, 30, tzinfo=UTC)
    assert events[2].source_meta is not None
    assert events[2].source_meta["tz"] == "assumed-utc"


def test_offset_timestamp_is_converted_to_utc() -> None:
    """A timestamp with an offset names the same instant, expressed in UTC."""
    (event,) = normalize(statement(timestamp="2024-05-01T12:30:00+02:30")).events
    assert event.occurred_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)


def test_each_event_names_the_field_its_time_came_from() -> None:
    """time_fields points at each statement's timestamp, stored, or "" for receipt."""
    result = normalize(load("without_timestamp.json"))
    assert result.time_fields == ["/0/stored", "", "/2/timestamp"]


def test_a_timestamp_no_record_can_hold_is_refused_at_its_field() -> None:
    """A timestamp on the calendar's last day (UTC) is refused, naming the field."""
    assert problems_of(statement(timestamp="9999-12-31T12:00:00Z")) == {
        "/timestamp": UNREPRESENTABLE
    }


def test_statement_without_id_gets_one_before_normalising() -> None:
    """assign_ids fills a missing id (input untouched) and the event id is built from it."""
    payload = load("without_id.json")
    fixed = uuid.UUID("0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a")
    with_ids = assign_ids(payload, new_id=lambda: fixed)
    assert "id" not in payload
    (event,) = normalize(with_ids).events
    assert event.id == f"xapi:{fixed}"
    assert event.learner_id == stable_learner_id(
        Identity(
            source="xapi", kind="mbox_sha1sum", value="2f4c6e8a0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a"
        )
    )
    assert problems_of(payload) == {"/id": "must be a UUID (assign ids before this)"}


def test_assign_ids_keeps_existing_ids_and_non_objects() -> None:
    """Only statement objects without an id get one; everything else passes through."""
    batch = [statement(), {"verb": {}}, 7]
    out = assign_ids(batch)
    assert out[0]["id"] == statement()["id"]
    assert canonical_uuid(out[1]["id"]) is not None
    assert out[2] == 7
    assert assign_ids("nonsense") == "nonsense"


def test_uppercase_uuid_is_lowercased_and_nil_uuid_is_refused() -> None:
    """The event id uses the canonical lowercase UUID; a non-RFC 4122 UUID is a problem."""
    upper = statement(id="6A0F3C1E-2D4B-4E6F-8A1C-3E5F7A9B1C2D")
    assert normalize(upper).events[0].id == "xapi:6a0f3c1e-2d4b-4e6f-8a1c-3e5f7a9b1c2d"
    assert "/id" in problems_of(statement(id="00000000-0000-0000-0000-000000000000"))


def test_anonymous_group_actor_is_taken_and_ignored() -> None:
    """An anonymous Group (members, no identifier) is valid xAPI but names no one learner."""
    result = normalize(load("anonymous_group_actor.json"))
    assert result.events == []
    assert [(i.pointer, i.code) for i in result.ignored] == [("/actor", "anonymous_group")]


def test_missing_actor_is_a_problem() -> None:
    """A statement without an actor names /actor."""
    assert set(problems_of(load("error_missing_actor.json"))) == {"/actor"}


def test_every_problem_of_every_statement_is_listed() -> None:
    """One error lists each bad field of each statement, with its pointer."""
    assert set(problems_of(load("error_many.json"))) == {
        "/0/result/score/raw",
        "/1/id",
        "/1/actor/mbox",
        "/1/result/duration",
        "/1/result/success",
        "/1/timestamp",
        "/2/actor",
        "/2/result/score/scaled",
    }


@pytest.mark.parametrize(
    ("score", "where"),
    [
        ({"raw": 5, "min": 10, "max": 0}, "max"),
        ({"raw": -1, "min": 0}, "raw"),
        ({"scaled": "0.5"}, "scaled"),
        ({"scaled": True}, "scaled"),
        ({"raw": 10**400, "min": 0, "max": 1}, "raw"),
        ({"scaled": float("nan")}, "scaled"),
    ],
)
def test_bad_scores_are_problems(score: dict[str, Any], where: str) -> None:
    """Scores out of range, of the wrong type or not finite are problems at their field."""
    found = problems_of(statement(verb={"id": ADL + "scored"}, result={"score": score}))
    assert set(found) == {f"/result/score/{where}"}


def test_raw_score_without_range_has_no_score() -> None:
    """A raw score with no min and max cannot be put on 0..1, so the event has none."""
    event = normalize(statement(verb={"id": ADL + "scored"}, result={"score": {"raw": 7}}))
    assert event.events[0].score is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT1H2M3.5S", 3723.5), ("PT0,5S", 0.5), ("P1DT2H", 93600.0), ("P2W", 1209600.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    """ISO 8601 durations parse to seconds, comma decimals and weeks included."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["P", "PT", "1H", "PT-1S", "PTS", "P1H", "PT1H2", 60])
def test_parse_duration_refuses_non_durations(text: Any) -> None:
    """Anything that is not an ISO 8601 duration is refused."""
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:00+05:00", "2024-13-01T00:00:00Z", "2024-05-01", "yesterday"]
)
def test_bad_timestamps_are_problems(stamp: str) -> None:
    """A timestamp that is not a representable ISO 8601 date-time is a problem."""
    assert set(problems_of(statement(timestamp=stamp))) == {"/timestamp"}


def test_duplicate_ids_in_a_batch_are_a_problem() -> None:
    """Two statements with one id in a batch would make one event twice."""
    assert problems_of([statement(), statement()]) == {"/1/id": "repeats the id of /0"}


def test_non_object_payload_is_a_problem_at_the_root() -> None:
    """A payload that is neither a statement nor an array is a problem at ''."""
    assert set(problems_of("statements")) == {""}


def test_object_forms() -> None:
    """A StatementRef names its event, a SubStatement its inner Activity, an Agent a hash."""
    ref = {"objectType": "StatementRef", "id": "0B7E1C52-3F9A-4D2E-8B6C-1A2F3E4D5C60"}
    sub = {
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:ana@example.com"},
        "verb": {"id": ADL + "attended"},
        "object": {"id": "https://lms.example.com/events/e1"},
    }
    agent = {"objectType": "Agent", "mbox": "mailto:bob@example.com"}
    ids = [normalize(statement(object=o)).events[0].object_id for o in (ref, sub, agent)]
    assert ids[0] == "xapi:0b7e1c52-3f9a-4d2e-8b6c-1a2f3e4d5c60"
    assert ids[1] == "https://lms.example.com/events/e1"
    assert ids[2].startswith("xapi-agent:")
    assert "bob" not in ids[2]


def test_resolver_returning_an_invalid_id_is_a_problem() -> None:
    """A learner id the event schema refuses is reported, not raised as a ValidationError."""
    with pytest.raises(NormalizeError) as caught:
        normalize_statements(statement(), RECEIVED, lambda _: "")
    assert caught.value.problems[0].pointer == ""


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = ["id", "actor", "verb", "object", "result", "timestamp", "stored", "version", "context"]


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_arbitrary_json_raises_only_normalize_error(payload: Any) -> None:
    """Whatever JSON arrives, the only exception is NormalizeError."""
    try:
        normalize(payload)
        normalize([payload])
    except NormalizeError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(FIELDS), JSON, st.sampled_from([None, "score", "actor"]))
def test_a_statement_with_any_field_replaced_raises_only_normalize_error(
    field: str, value: Any, nested: str | None
) -> None:
    """A valid statement with one field (or a result score / actor part) replaced by arbitrary
    JSON either normalises or raises NormalizeError, and its fingerprint never raises."""
    bad = statement(result={"score": {"raw": 1, "min": 0, "max": 2}})
    if nested == "score":
        bad["result"]["score"][field] = value
    elif nested == "actor":
        bad["actor"] = {"objectType": "Agent", field if field != "id" else "account": value}
    else:
        bad[field] = value
    with contextlib.suppress(NormalizeError):
        normalize(bad)
    assert len(statement_fingerprint(bad)) == 64
