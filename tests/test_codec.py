"""The codec: bytes on topics to records and back, CloudEvents out, dead letters for refusals."""

from __future__ import annotations

import datetime as dt
from functools import cache

import orjson
import pytest

from schemas import Tick, TierTransition
from schemas.deadletter import DeadLetter
from schemas.history import Record
from schemas.reminders import FollowUpOverdue
from stream import codec, scrub
from stream.errors import InvalidRecord
from tests.kit import assignment, at, day, event, intervention, profile, run, weeks

SOURCE = "urn:tierwatch:test"
NOW = dt.datetime(2026, 2, 10, 0, 0, tzinfo=dt.UTC)

RECORDS: dict[str, Record] = {
    "event": event("a", at(0), "assessment", score=0.8, success=True),
    "profile": profile("a", "sales_rep", customer_facing=False),
    "assignment": assignment("a", "compliance-1", "compliance", day(2), at(0)),
    "intervention": intervention("a", "conversation_held", at(1)),
}


@cache
def transition() -> TierTransition:
    """A real transition from the core: a learner's activity dips sharply in week 4."""
    (first,) = run(weeks("a", [6, 6, 6, 6, 2]), 4)
    return first


def refusal(kind: str, key: bytes | None, value: bytes | None) -> InvalidRecord:
    with pytest.raises(InvalidRecord) as caught:
        codec.decode_input(kind, key, value)
    return caught.value


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_every_kind_of_input_round_trips(kind):
    """decode_input(kind, learner key, encode_record(r)) gives back r, for every input kind;
    without a key it is refused (the record would sit on an arbitrary partition)."""
    record = RECORDS[kind]
    encoded = codec.encode_record(record)
    assert codec.decode_input(kind, record.learner_id.encode(), encoded) == record
    assert refusal(kind, None, encoded).reason == "missing_key"


def test_an_intervention_note_never_reaches_the_topic():
    """The free-text note of an intervention is dropped when the record is encoded."""
    with_note = RECORDS["intervention"].model_copy(update={"note": "private: divorce"})
    assert b"divorce" not in codec.encode_record(with_note)


def test_encode_record_leaves_out_unset_fields():
    """Fields that are None are not written, so a record stays small on the topic."""
    document = orjson.loads(codec.encode_record(RECORDS["intervention"]))
    assert "note" not in document


def test_invalid_json_is_refused_as_not_json():
    """A value that is not JSON is refused with reason not_json."""
    assert refusal("event", b"a", b"{not json").reason == "not_json"


def test_wrong_fields_are_refused_as_invalid_fields_naming_the_field():
    """A valid JSON record with a bad field is refused with reason invalid_fields and its name."""
    document = orjson.loads(codec.encode_record(RECORDS["event"]))
    error = refusal("event", b"a", orjson.dumps({**document, "kind": "nap"}))
    assert error.reason == "invalid_fields"
    assert "kind" in error.detail


def test_a_naive_timestamp_is_refused_as_invalid_fields():
    """An occurred_at without an offset is refused, naming occurred_at."""
    document = orjson.loads(codec.encode_record(RECORDS["event"]))
    naive = {**document, "occurred_at": "2026-01-05T10:00:00"}
    error = refusal("event", b"a", orjson.dumps(naive))
    assert error.reason == "invalid_fields"
    assert "occurred_at" in error.detail


def test_a_key_other_than_the_learner_id_is_refused_as_key_mismatch():
    """The message key must be the record's learner_id (it decides the partition)."""
    error = refusal("event", b"someone-else", codec.encode_record(RECORDS["event"]))
    assert error.reason == "key_mismatch"


def test_a_message_without_a_value_is_refused_as_empty():
    """A None value (a tombstone) is refused with reason empty."""
    assert refusal("profile", b"a", None).reason == "empty"


def test_a_transition_leaves_as_a_cloudevents_1_0_json_document():
    """encode_transition writes a CloudEvent: spec 1.0, our type, id, subject, time, JSON data."""
    t = transition()
    document = orjson.loads(codec.encode_transition(t, SOURCE))
    assert document["specversion"] == "1.0"
    assert document["type"] == codec.TRANSITION_TYPE
    assert document["source"] == SOURCE
    assert document["id"] == t.id
    assert document["subject"] == t.learner_id
    assert dt.datetime.fromisoformat(document["time"]) == t.at
    assert document["datacontenttype"] == "application/json"
    assert document["data"] == t.model_dump(mode="json")


def test_decode_transition_gives_back_an_equal_transition():
    """decode_transition(encode_transition(t)) == t."""
    t = transition()
    assert codec.decode_transition(codec.encode_transition(t, SOURCE)) == t


def overdue() -> FollowUpOverdue:
    t = transition()
    return FollowUpOverdue(
        id="5c0ffee0-0000-5000-8000-000000000001", learner_id=t.learner_id, step="escalation",
        transition_id=t.id, at=t.at, talk_by=t.at.date(), reminded_on=t.at.date(), tier=3,
    )  # fmt: skip


def test_an_overdue_follow_up_leaves_as_a_cloudevent_of_its_own_type():
    """On the alerts topic beside the transitions: `decode_alert` reads both back, equal;
    `decode_transition` refuses the follow-up, and `transitions_of` leaves it out."""
    o, t = overdue(), transition()
    value = codec.encode_follow_up(o, SOURCE)
    document = orjson.loads(value)
    assert document["type"] == codec.FOLLOW_UP_TYPE
    assert (document["id"], document["subject"]) == (o.id, o.learner_id)
    assert document["data"] == o.model_dump(mode="json")
    assert codec.decode_alert(value) == o
    assert codec.decode_alert(codec.encode_transition(t, SOURCE)) == t
    with pytest.raises(InvalidRecord) as caught:
        codec.decode_transition(value)
    assert caught.value.reason == "not_a_transition"
    assert codec.transitions_of([value, codec.encode_transition(t, SOURCE)]) == [t]


def test_decode_transition_refuses_a_cloudevent_of_another_type():
    """A CloudEvent that is not a tier transition is refused with reason not_a_transition."""
    document = orjson.loads(codec.encode_transition(transition(), SOURCE))
    other = orjson.dumps({**document, "type": "org.example.something.else"})
    with pytest.raises(InvalidRecord) as caught:
        codec.decode_transition(other)
    assert caught.value.reason == "not_a_transition"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b'{"type": "org.tierwatch.tier.transition.v1"}', id="no-data"),
        pytest.param(b"[]", id="not-an-object"),
    ],
)
def test_decode_transition_refuses_a_malformed_document_with_invalid_record(value):
    """A transition document with no data, or JSON that is not an object, is InvalidRecord."""
    with pytest.raises(InvalidRecord):
        codec.decode_transition(value)


def test_decode_transition_json_reads_a_replay_output_line():
    """A transition written as plain JSON (one replay line) decodes to an equal transition."""
    t = transition()
    assert codec.decode_transition_json(orjson.dumps(t.model_dump(mode="json"))) == t


def test_a_dead_letter_keeps_where_the_message_came_from_and_why():
    """topic, partition, offset, key, reason, detail, payload and time are all kept (a JSON
    payload with nothing personal in it, re-written compactly)."""
    error = InvalidRecord("invalid_fields", "kind: Input should be 'session', ...")
    letter = DeadLetter.model_validate_json(
        codec.dead_letter("events", 3, 41, b"a", b'{"kind": "nap"}', error, NOW)
    )
    assert letter == DeadLetter(
        topic="events",
        partition=3,
        offset=41,
        key="a",
        reason="invalid_fields",
        detail="kind: Input should be 'session', ...",
        payload='{"kind":"nap"}',
        at=NOW,
    )


def test_a_dead_letter_of_a_message_without_key_or_value():
    """No key stays None and no value becomes an empty payload."""
    letter = DeadLetter.model_validate_json(
        codec.dead_letter("events", 0, 0, None, None, InvalidRecord("empty", "-"), NOW)
    )
    assert letter.key is None
    assert letter.payload == ""
    assert letter.reason == "empty"


def test_a_dead_letter_replaces_undecodable_bytes():
    """Bytes that are not UTF-8, in key or payload, become U+FFFD instead of failing."""
    letter = DeadLetter.model_validate_json(
        codec.dead_letter(
            "events", 0, 7, b"\xffa", b"ok \xfe\xff end", InvalidRecord("not_json", "-"), NOW
        )
    )
    assert letter.key == "\ufffda"
    assert letter.payload == "ok \ufffd\ufffd end"


def test_a_dead_letter_keeps_a_bounded_prefix_of_a_long_payload_that_is_not_json():
    """A payload that is not JSON keeps its first scrub.MAX_TEXT characters and says how
    many bytes there were."""
    value = b"x" * (codec.MAX_DEAD_PAYLOAD + 1000)
    letter = DeadLetter.model_validate_json(
        codec.dead_letter("events", 0, 7, b"a", value, InvalidRecord("not_json", "-"), NOW)
    )
    assert letter.payload == "x" * scrub.MAX_TEXT + f"… ({len(value)} bytes)"


def test_a_tick_round_trips_with_its_barrier():
    """decode_tick(encode_tick(now, partition, barrier)) keeps all three."""
    barrier = {"events": 12, "assignments": 3}
    tick = codec.decode_tick(codec.encode_tick(NOW, 2, barrier))
    assert tick == Tick(now=NOW, partition=2, barrier=barrier)


def test_a_tick_without_barrier_has_an_empty_one():
    """A tick encoded with no barrier decodes with {} (it waits for nothing)."""
    assert codec.decode_tick(codec.encode_tick(NOW, 0)).barrier == {}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"garbage", id="not-json"),
        pytest.param(b'{"now": "2026-02-10T00:00:00", "partition": 0}', id="naive-now"),
        pytest.param(b'{"now": "2026-02-10T00:00:00Z", "partition": -1}', id="bad-partition"),
    ],
)
def test_a_bad_tick_is_refused_as_invalid_tick(value):
    """Anything that is not a valid tick raises InvalidRecord with reason invalid_tick."""
    with pytest.raises(InvalidRecord) as caught:
        codec.decode_tick(value)
    assert caught.value.reason == "invalid_tick"


def test_a_tick_without_value_is_refused_as_empty():
    """A None tick value is refused with reason empty."""
    with pytest.raises(InvalidRecord) as caught:
        codec.decode_tick(None)
    assert caught.value.reason == "empty"
