"""The bounds of records that cross a boundary: instants a record can hold, and the sizes
of free-form fields, enforced by the schemas (so the stream's decoding enforces them too)."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from pydantic import ValidationError

from schemas import Intervention, LearningEvent, Tick, TierTransition
from schemas.dispatch import PendingDelivery, RedriveRequest
from schemas.limits import EARLIEST, LATEST, MAX_META_KEYS, representable
from stream import codec
from stream.errors import InvalidRecord

EVENT = {
    "id": "e1",
    "learner_id": "ana",
    "occurred_at": "2026-03-02T09:00:00Z",
    "kind": "session",
    "object_id": "course-1",
    "source": "test",
}


def errors(model: type, data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


def test_representable_instants_convert_to_every_offset():
    """The first and last instants a record holds convert to +-23:59 without overflow."""
    for offset in (dt.timedelta(hours=23, minutes=59), -dt.timedelta(hours=23, minutes=59)):
        zone = dt.timezone(offset)
        assert representable(EARLIEST.astimezone(zone))
        assert representable(LATEST.astimezone(zone))
    assert not representable(EARLIEST - dt.timedelta(microseconds=1))


def test_every_instant_of_a_record_is_bounded():
    """Events, interventions and ticks refuse an instant that leaves the calendar in UTC."""
    far = "9999-12-31T12:00:00Z"
    assert errors(LearningEvent, {**EVENT, "occurred_at": far})[0][0] == "occurred_at"
    intervention = {"learner_id": "ana", "kind": "resolved", "at": far}
    assert errors(Intervention, intervention)[0][0] == "at"
    assert errors(Tick, {"now": "0001-01-01T01:00:00+02:00", "partition": 0})[0][0] == "now"


def test_source_meta_is_a_few_short_labels():
    """source_meta: at most 16 keys of 64 characters, values of 256, named in the error."""
    too_many = {f"k{i}": "v" for i in range(MAX_META_KEYS + 1)}
    long_key = {"k" * 65: "v"}
    long_value = {"format": "v" * 257}
    for meta, words in (
        (too_many, "at most 16 keys"),
        (long_key, "a key of 65"),
        (long_value, "'format'"),
    ):
        (where, message), *_ = errors(LearningEvent, {**EVENT, "source_meta": meta})
        assert where == "source_meta"
        assert words in message
    ok = LearningEvent.model_validate({**EVENT, "source_meta": {"format": "xapi"}})
    assert ok.source_meta == {"format": "xapi"}


def test_an_error_never_repeats_an_oversized_key():
    """A 100 kB key is refused with a message of a few words, not the key itself."""
    (where, message), *_ = errors(LearningEvent, {**EVENT, "source_meta": {"x" * 100_000: "v"}})
    assert len(where) + len(message) < 100


def test_a_5_mb_event_on_a_topic_is_an_invalid_record():
    """The stream's decoding refuses a 5 MB source_meta as invalid_fields, with a short detail."""
    value = orjson.dumps({**EVENT, "source_meta": {"blob": "x" * (5 << 20)}})
    with pytest.raises(InvalidRecord) as caught:
        codec.decode_input("event", b"ana", value)
    assert caught.value.reason == "invalid_fields"
    assert "source_meta" in caught.value.detail
    assert len(caught.value.detail) < 200


def test_non_finite_numbers_are_refused():
    """A score or duration that is not a finite number is refused."""
    assert errors(LearningEvent, {**EVENT, "duration_s": float("inf")})[0][0] == "duration_s"
    assert errors(LearningEvent, {**EVENT, "score": float("nan")})[0][0] == "score"


def test_tick_barrier_and_transition_sizes_are_bounded():
    """A tick's barrier, a transition's reasons and a reason's numbers have size limits."""
    barrier = {f"topic-{i}": 0 for i in range(65)}
    assert errors(Tick, {"now": "2026-03-02T00:00:00Z", "partition": 0, "barrier": barrier})
    transition = {
        "id": "t1",
        "learner_id": "ana",
        "from_tier": 0,
        "to_tier": 1,
        "at": "2026-03-02T00:00:00Z",
        "factors": {"severity": "minor", "persistence_weeks": 1},
        "reasons": [{"code": "dip", "text": "x", "numbers": {"n": "v" * 513}}],
        "route": "learner_nudge",
    }
    assert errors(TierTransition, transition)[0][0] == "reasons.0.numbers"
    many = {**transition, "reasons": [{"code": "dip", "text": "x"}] * 33}
    assert errors(TierTransition, many)[0][0] == "reasons"


def test_retry_topic_records_are_bounded():
    """A delivery waiting on the retry topic and a redrive request have size limits."""
    pending = {
        "learner_id": "ana",
        "role": "learner",
        "id": "t1",
        "route": "learner_nudge",
        "channel": "c" * 257,
        "recipient": "ana@example.com",
        "subject": "s",
        "text": "t",
        "round": 0,
        "due_at": "2026-03-02T00:00:00Z",
    }
    assert errors(PendingDelivery, pending)[0][0] == "channel"
    assert PendingDelivery.model_validate({**pending, "channel": "email"}).channel == "email"
    redrive = {"learner_id": "a" * 513, "id": "t1", "channel": "email", "role": "hr"}
    assert errors(RedriveRequest, redrive)[0][0] == "learner_id"
