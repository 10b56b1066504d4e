"""What ingest remembers, as records for its registry topic: bounded, erased with the
learner, and read back as it was written (no broker: the records themselves)."""

from __future__ import annotations

import asyncio
import datetime as dt
import tracemalloc
import uuid

import pytest
from pydantic import ValidationError

from schemas.events import Retracted
from schemas.roster import Identity, LearnerProfile
from stream.ingest.context import KEY
from stream.ingest.memory import Memory
from stream.ingest.server import make_app
from stream.ingest.sink import BrokerUnavailable
from stream.ingest.statements import StatementRegistry
from stream.normalize.base import stable_learner_id
from stream.normalize.xapi_voiding import Voidable
from stream.settings import Settings
from tests.ingest_kit import TOPICS, FakeSink, settings

ANA = Identity(source="xapi", kind="mbox", value="mailto:ana@example.com")
AT = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def statement(sid: str, verb: str = "experienced") -> dict[str, object]:
    return {
        "id": sid,
        "actor": {"mbox": ANA.value},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
        "object": {"id": "https://lms.example.com/course/aml"},
    }


def read_back(records: list[tuple[str | None, bytes | None]]) -> Memory:
    """A new ingest's memory, after reading the registry topic (compaction aside)."""
    memory = Memory()
    for key, value in records:
        memory.apply(key.encode() if key else None, value)
    return memory


def test_what_ingest_remembers_is_read_back_by_the_next_one():
    """A stored statement and an unmapped identity, written and read back: the same id with
    other content still conflicts, and the identity is listed with its count."""
    memory, sink, sid = Memory(), FakeSink(), str(uuid.uuid4())
    learner = memory.identities.resolve(ANA)
    memory.identities.resolve(ANA)
    memory.statements.remember([statement(sid)], {sid: learner})
    asyncio.run(memory.write(sink, TOPICS.registry))
    assert memory.pending() == []
    later = read_back(sink.sent[TOPICS.registry])
    problems, same = later.statements.conflicts([statement(sid, "completed")])
    assert len(problems) == 1
    assert same == set()
    assert later.statements.get(sid) == memory.statements.get(sid)
    assert later.identities.unmapped == {ANA: 2}


def test_a_learner_erased_leaves_tombstones_for_all_they_were():
    """Erasure writes a tombstone for each of the learner's statements and their unmapped
    identity; read back, nothing of them is left."""
    memory, sink = Memory(), FakeSink()
    learner = memory.identities.resolve(ANA)
    sids = [str(uuid.uuid4()) for _ in range(3)]
    memory.statements.remember([statement(s) for s in sids], dict.fromkeys(sids, learner))
    asyncio.run(memory.write(sink, TOPICS.registry))
    memory.erase(learner)
    asyncio.run(memory.write(sink, TOPICS.registry))
    tombstones = {key for key, value in sink.sent[TOPICS.registry] if value is None}
    assert tombstones == {f"s:{s}" for s in sids} | {f"u:{stable_learner_id(ANA)}"}
    later = read_back(sink.sent[TOPICS.registry])
    assert len(later.statements) == 0
    assert not later.identities.unmapped


def test_statements_beyond_the_bound_are_forgotten_on_the_topic_too():
    """The registry keeps the most recently stored; the oldest get a tombstone."""
    registry = StatementRegistry(size=2)
    sids = [str(uuid.uuid4()) for _ in range(3)]
    registry.remember([statement(s) for s in sids], {})
    assert len(registry) == 2
    assert registry.get(sids[0]) is None
    assert registry.changes[f"s:{sids[0]}"] is None


def test_an_identity_a_profile_claims_is_no_longer_remembered_as_unmapped():
    """Claimed by a profile, the identity's record becomes a tombstone."""
    memory = Memory()
    memory.identities.resolve(ANA)
    memory.identities.learn(LearnerProfile(learner_id="ana", role="default", identities=[ANA]))
    assert memory.identities.changes == {f"u:{stable_learner_id(ANA)}": None}


def test_a_failed_write_keeps_the_records_for_the_next():
    """The broker down: nothing is lost, the records wait for the next write."""
    memory, sink = Memory(), FakeSink(down=True)
    memory.identities.resolve(ANA)
    with pytest.raises(BrokerUnavailable):
        asyncio.run(memory.write(sink, TOPICS.registry))
    assert len(memory.pending()) == 1
    sink.down = False
    asyncio.run(memory.write(sink, TOPICS.registry))
    assert memory.pending() == []
    assert len(sink.sent[TOPICS.registry]) == 1


def test_an_address_claimed_through_its_email_is_erased_with_its_learner():
    """An xAPI mbox seen before any profile claimed it (listed unmapped, a statement stored
    under its derived id), then claimed by a profile's email identity: the claim drops it
    from the unmapped list, and erasing the learner tombstones that statement too."""
    memory, sink, sid = Memory(), FakeSink(), str(uuid.uuid4())
    derived = memory.identities.resolve(ANA)
    memory.statements.remember([statement(sid)], {sid: derived})
    asyncio.run(memory.write(sink, TOPICS.registry))
    email = Identity(source="email", kind="email", value="ana@example.com")
    memory.identities.learn(LearnerProfile(learner_id="ana", identities=[email]))
    assert memory.identities.resolve(ANA) == "ana"
    assert ANA not in memory.identities.unmapped
    memory.erase("ana")
    asyncio.run(memory.write(sink, TOPICS.registry))
    later = read_back(sink.sent[TOPICS.registry])
    assert len(later.statements) == 0
    assert not later.identities.unmapped


def test_an_identity_claimed_after_its_statements_were_stored_is_erased_with_them():
    """The same with the mbox itself claimed: its statements stored under the derived id
    are the learner's, and are erased with them."""
    memory, sid = Memory(), str(uuid.uuid4())
    memory.statements.remember([statement(sid)], {sid: memory.identities.resolve(ANA)})
    memory.identities.learn(LearnerProfile(learner_id="ana", identities=[ANA]))
    memory.erase("ana")
    assert len(memory.statements) == 0
    assert memory.statements.changes[f"s:{sid}"] is None


def test_the_statements_remembered_are_a_setting():
    """`TIERWATCH_XAPI_STATEMENTS_REMEMBERED` bounds the registry of an ingest."""
    app = make_app(settings(xapi_statements_remembered=3), FakeSink(), TOPICS)
    assert app[KEY].statements.size == 3
    with pytest.raises(ValidationError):
        Settings(xapi_statements_remembered=0)


def test_the_default_bound_keeps_the_registry_within_100_mib():
    """Measured with each statement a voidable event (its time and score stored too)."""
    registry, n = StatementRegistry(size=10**6), 20_000
    tracemalloc.start()
    try:
        for i in range(n):
            sid = str(uuid.uuid4())
            voidable = Voidable(f"learner-{i % 500}", Retracted(id=sid, occurred_at=AT, score=0.5))
            registry.remember([statement(sid)], {sid: f"learner-{i % 500}"}, {sid: voidable})
            registry.changes.clear()  # written: only the registry itself stays
        per_entry = tracemalloc.get_traced_memory()[0] / n
    finally:
        tracemalloc.stop()
    assert per_entry < 700
    assert Settings().xapi_statements_remembered * per_entry < 100 * 2**20
