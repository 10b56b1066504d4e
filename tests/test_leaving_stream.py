"""A leaving record on the embedded broker: the worker ends a leaver's episode as replay
does (in a simulated pilot too), and erasing the learner takes the record with their state."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from aiokafka import AIOKafkaProducer

from stream import codec
from stream.sim.driver import Driver, DriverError, GroupWatcher
from stream.sim.pilot import World, simulate_world
from tests.kit import POLICY, day, ordered, profile, weeks
from tests.streaming import make_topics, read_topic, worker, worker_env
from tests.test_dispatch_erasure import latest
from tests.test_streaming import expected_transitions

pytestmark = pytest.mark.broker


def test_a_leaver_streams_as_replayed_and_is_erased_with_the_record(broker, unique, tmp_path):
    """A sales rep at Tier 2 who leaves on Wednesday of week 5 falls to 0 (`left`) in the
    worker as in replay; their stored state holds the leaving record until the learner is
    erased, then the changelog has a tombstone for them."""
    leaver = profile("lea", "sales_rep", left_on=day(5, 2), left_voluntarily=True)
    records = ordered(
        [leaver, profile("sam", "sales_rep"), *weeks("lea", [6, 6, 6, 6, 0]),
         *weeks("sam", [6, 6, 6, 6, 0, 6, 6])]
    )  # fmt: skip
    expected = expected_transitions(records)
    ends = [t for t in expected.values() if t.learner_id == "lea" and t.to_tier == 0]
    assert [r.code for t in ends for r in t.reasons] == ["left"]  # sam reaches Tier 2 too
    assert 2 in {t.to_tier for t in expected.values() if t.learner_id == "sam"}
    topics = make_topics(broker.bootstrap, unique)
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")
    changelog = f"{unique}-app-learners-changelog"

    async def drive(alive) -> tuple[list[bytes], bytes | None, bytes | None]:
        group = GroupWatcher(broker.bootstrap, f"{unique}-app", alive)
        async with Driver(broker.bootstrap, topics, 4) as driver, group:
            await driver.play(iter(records), POLICY, group)
        values = await read_topic(broker.bootstrap, topics.alerts, len(expected), max_s=30)
        kept = await latest(broker.bootstrap, changelog, b'"lea"', want_tombstone=False)
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topics.profiles, None, key=b"lea")
        finally:
            await producer.stop()
        erased = await latest(broker.bootstrap, changelog, b'"lea"', want_tombstone=True)
        return values, kept, erased

    with worker(env, tmp_path / "worker.log") as proc:
        try:
            values, kept, erased = asyncio.run(drive(lambda: proc.poll() is None))
        except DriverError:
            pytest.fail((tmp_path / "worker.log").read_text()[-3000:])
    streamed = {t.id: t for t in codec.transitions_of(values)}
    assert streamed == expected
    assert kept is not None
    assert b'"left_on":"2026-02-11"' in kept
    assert erased is None


def test_a_simulated_pilot_streams_as_replayed(broker, unique, tmp_path):
    """A simulated organisation (leaving profiles sent mid-history, managers'
    conversations) through Kafka and a worker gives exactly replay's transitions, the
    leavers' ends included."""
    world = World(
        team_size=20, pilot_team="team-01", pilot_from=dt.date(2026, 2, 2), leave_rate=0.03,
        effect_attrition=0.5,
    )  # fmt: skip
    records = list(simulate_world(60, 8, 3, world))
    expected = expected_transitions(records)
    assert any(r.code == "left" for t in expected.values() for r in t.reasons)
    topics = make_topics(broker.bootstrap, unique)
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")

    async def drive(alive) -> list[bytes]:
        group = GroupWatcher(broker.bootstrap, f"{unique}-app", alive)
        async with Driver(broker.bootstrap, topics, 4) as driver, group:
            await driver.play(iter(records), POLICY, group)
        return await read_topic(broker.bootstrap, topics.alerts, len(expected), max_s=30)

    with worker(env, tmp_path / "worker.log") as proc:
        try:
            values = asyncio.run(drive(lambda: proc.poll() is None))
        except DriverError:
            pytest.fail((tmp_path / "worker.log").read_text()[-3000:])
    assert {t.id: t for t in codec.transitions_of(values)} == expected
