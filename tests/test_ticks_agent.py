"""The clock agent as Faust runs it (`agent.test_context()`, `tests/faust_kit.py`), on
the learner agent's table: a tick steps its partition's learners as of its `now` (the
fake clock: time in the worker moves only with ticks), sends what changed, and tells the
teams agent the partition was evaluated.

Not here, because `test_context()` has no consumer: a tick waiting for its barrier's
records to be committed, or left to the next owner at a rebalance
(`tests/test_clock_commit.py`, `tests/test_progress.py`, the broker suite). The ticks
below carry no barrier, as a wall-clock leader's do."""

from __future__ import annotations

from pathlib import Path

import orjson

from schemas.events import LearningEvent
from schemas.teams import TeamUpdate
from stream import codec
from stream.codec import encode_record
from stream.topics import partition_of
from stream.worker.agents import learners, ticks
from tests.faust_kit import agent_of, driving, sent, worker
from tests.kit import evaluated, profile, run, weeks

PARTITION = partition_of("p", 4)


async def test_ticks_give_replay_s_transitions_team_rows_and_digest_markers(
    tmp_path: Path,
) -> None:
    """Four weeks of five sessions, then a silent week: the tick that evaluates week 4
    sends the dip replay finds, and p's row at Tier 1 to their manager; every tick
    marks its partition evaluated, at its `now`.

        week      0  1  2  3  4
        sessions  5  5  5  5  0   -> Tier 0 to 1 at week 4's evaluation
    """
    history = [profile("p"), *weeks("p", [5, 5, 5, 5, 0])]
    pipeline = worker(tmp_path, batch_max=1)
    learners.register(pipeline)
    ticks.register(pipeline)
    topics = pipeline.topics
    async with driving(agent_of(pipeline, "learners")) as agent:
        for record in history:
            is_event = isinstance(record, LearningEvent)
            topic = topics.events if is_event else topics.profiles
            when = record.occurred_at if is_event else evaluated(-1)
            await agent.put(encode_record(record), b"p", topic=topic, partition=PARTITION,
                            at=when)  # fmt: skip
    rows_before = len(sent(pipeline.teams))
    async with driving(agent_of(pipeline, "clock")) as clock:
        for week in range(5):
            await clock.put(codec.encode_tick(evaluated(week), PARTITION), b"tick",
                            partition=PARTITION)  # fmt: skip
    assert [codec.decode_alert(v) for v in sent(pipeline.alerts)] == run(history, 4)
    after = [orjson.loads(v) for v in sent(pipeline.teams)[rows_before:]]
    markers = [v for v in after if v["kind"] == "digest_due"]
    assert [m["at"] for m in markers] == [
        evaluated(w).isoformat().replace("+00:00", "Z") for w in range(5)
    ]
    assert {m["partition"] for m in markers} == {PARTITION}
    rows = [TeamUpdate.model_validate(v) for v in after if v["kind"] == "row"]
    assert [(u.manager_id, u.row.tier if u.row else None) for u in rows] == [("m1", 1)]


async def test_an_unreadable_tick_is_dead_lettered_and_acknowledged(tmp_path: Path) -> None:
    """The agent refuses it with its reason and takes the next."""
    pipeline = worker(tmp_path)
    ticks.register(pipeline)
    async with driving(agent_of(pipeline, "clock")) as clock:
        await clock.put(b"{not json", b"tick", partition=PARTITION)
        await clock.put(codec.encode_tick(evaluated(0), PARTITION), b"tick", partition=PARTITION)
    letters = [orjson.loads(v) for v in sent(pipeline.deadletter)]
    assert [letter["reason"] for letter in letters] == ["invalid_tick"]
    assert len(sent(pipeline.teams)) == 1  # the good tick's marker
