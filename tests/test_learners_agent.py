"""The learner agent's record path as Faust runs it (`agent.test_context()`,
`tests/faust_kit.py`): decode, check, step, send the team row, store, acknowledge; a
profile tombstone erases. Time is the records': an event's `occurred_at`, judged by the
broker timestamp the test gives it (`at=`).

Not here, because `test_context()` has no consumer to commit with: the commit cap (input
offsets committed no further than stored: `tests/test_faust_compat.py`), batches stored
when a rebalance or a stop waits for them, and states surviving a crash before the commit
(`tests/test_batch.py`, the broker and chaos suites)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from schemas.history import Record
from schemas.roster import LearnerProfile
from schemas.teams import TeamUpdate
from stream.codec import encode_record
from stream.core.state import LearnerState
from stream.topics import partition_of
from stream.worker.agents import learners
from stream.worker.pipeline import Pipeline
from tests.faust_kit import Driven, agent_of, driving, sent, worker
from tests.kit import at, event, profile

PARTITION = partition_of("ann", 4)


def learner_agent(tmp_path: Path) -> Pipeline:
    """A worker with the learner agent; one record a batch, so each is stored and
    acknowledged before `put` returns."""
    pipeline = worker(tmp_path, batch_max=1)
    learners.register(pipeline)
    return pipeline


async def put(agent: Driven, pipeline: Pipeline, record: Record, when: dt.datetime) -> None:
    """A record on its input topic, keyed by learner, received by the broker `when`."""
    topics = pipeline.topics
    topic = topics.profiles if isinstance(record, LearnerProfile) else topics.events
    await agent.put(encode_record(record), record.learner_id.encode(), topic=topic,
                    partition=PARTITION, at=when)  # fmt: skip


def state(pipeline: Pipeline, learner: str) -> LearnerState | None:
    raw = pipeline.table.get(learner)
    return LearnerState.model_validate_json(raw) if raw is not None else None


def team_updates(pipeline: Pipeline) -> list[tuple[str, str, int | None]]:
    updates = [TeamUpdate.model_validate_json(v) for v in sent(pipeline.teams)]
    return [(u.manager_id, u.learner_id, u.row.tier if u.row else None) for u in updates]


def events(stored: LearnerState) -> int:
    """The events counted in the learner's open weeks."""
    return sum(week.events for week in stored.open_weeks.values())


def counted(pipeline: Pipeline, name: str) -> float:
    value = pipeline.metrics.registry.get_sample_value(f"tierwatch_{name}_total")
    return float(value or 0)


async def test_records_are_stepped_stored_and_acknowledged(tmp_path: Path) -> None:
    """A profile naming a manager puts the learner in that manager's view; each event
    steps the stored state; each record is acknowledged once its state is stored."""
    pipeline = learner_agent(tmp_path)
    async with driving(agent_of(pipeline, "learners")) as agent:
        await put(agent, pipeline, profile("ann"), at(0, 0, 9))
        for weekday in range(3):
            await put(agent, pipeline, event("ann", at(0, weekday)), at(0, weekday, 11))
    stored = state(pipeline, "ann")
    assert stored is not None
    assert stored.profile is not None
    assert stored.profile.manager_id == "m1"
    assert events(stored) == 3
    assert team_updates(pipeline) == [("m1", "ann", 0)]
    topics = pipeline.topics
    assert pipeline.progress.next_offset(topics.profiles, PARTITION) == 1
    assert pipeline.progress.next_offset(topics.events, PARTITION) == 3
    assert sent(pipeline.deadletter) == []


async def test_a_profile_tombstone_erases_until_a_new_profile(tmp_path: Path) -> None:
    """The tombstone deletes the state, takes the learner out of the manager's view and
    marks them erased (by pseudonym); their next event is dropped; a new profile brings
    them back, with nothing of before."""
    pipeline = learner_agent(tmp_path)
    async with driving(agent_of(pipeline, "learners")) as agent:
        await put(agent, pipeline, profile("ann"), at(0, 0, 9))
        await put(agent, pipeline, event("ann", at(0, 0)), at(0, 0, 11))
        await agent.put(None, b"ann", topic=pipeline.topics.profiles, partition=PARTITION)
        assert "ann" not in pipeline.table
        assert list(pipeline.erased.keys()) == [pipeline.pseudonym("ann")]
        await put(agent, pipeline, event("ann", at(0, 1)), at(0, 1, 11))
        assert "ann" not in pipeline.table
        assert counted(pipeline, "erased_dropped") == 1
        await put(agent, pipeline, profile("ann"), at(0, 2, 9))
    assert team_updates(pipeline) == [("m1", "ann", 0), ("m1", "ann", None), ("m1", "ann", 0)]
    back = state(pipeline, "ann")
    assert back is not None
    assert events(back) == 0
    assert not pipeline.is_erased("ann")


async def test_bad_records_are_dead_lettered_and_the_agent_goes_on(tmp_path: Path) -> None:
    """An event dated two hours after the broker received it (the sender's clock is wrong),
    and a record that is not JSON, go to the dead-letter topic with their reasons; the
    next record is stepped."""
    pipeline = learner_agent(tmp_path)
    async with driving(agent_of(pipeline, "learners")) as agent:
        await put(agent, pipeline, event("ann", at(0, 0, 11)), at(0, 0, 9))
        await agent.put(b"{not json", b"ann", topic=pipeline.topics.events, partition=PARTITION)
        await put(agent, pipeline, event("ann", at(0, 0, 12)), at(0, 0, 12, 1))
    reasons = [orjson.loads(letter)["reason"] for letter in sent(pipeline.deadletter)]
    assert reasons == ["event_in_the_future", "not_json"]
    stored = state(pipeline, "ann")
    assert stored is not None
    assert events(stored) == 1
