"""Poison on the stream: events dated far off the broker's clock, or too big, become one
dead letter each with a reason, never touch a tick, and later records still count."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from schemas.deadletter import DeadLetter
from stream import codec
from stream.sim.driver import Driver, GroupWatcher
from tests.kit import POLICY, ordered, weeks
from tests.streaming import make_topics, read_topic, worker, worker_env

pytestmark = pytest.mark.broker


def raw_event(learner: str, event_id: str, occurred_at: str, **extra: object) -> bytes:
    return orjson.dumps(
        {
            "id": event_id, "learner_id": learner, "occurred_at": occurred_at,
            "kind": "session", "object_id": "c", "source": "test", **extra,
        }
    )  # fmt: skip


def test_far_off_and_oversized_events_are_dead_lettered_and_the_stream_goes_on(
    broker, unique, tmp_path
):
    """Year 9999 and year 1900 (produced now), and a 5 MB source_meta: three dead letters
    (event_in_the_future, event_too_old, invalid_fields); no evaluation error at any tick;
    the learner's ordinary weeks still give their transition."""
    from aiokafka import AIOKafkaProducer

    topics = make_topics(broker.bootstrap, unique)
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")
    good = ordered([*weeks("g", [6, 6, 6, 6, 1])])
    first = min(e.occurred_at for e in good if hasattr(e, "occurred_at"))
    huge = raw_event("g", "big", first.isoformat(), source_meta={"k": "x" * 5_000_000})
    poison = [
        raw_event("g", "future", "9999-06-01T00:00:00+00:00"),
        raw_event("g", "past", "1900-06-01T00:00:00+00:00"),
        huge,
    ]

    async def drive() -> tuple[list[bytes], list[bytes]]:
        producer = AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap, acks="all", max_request_size=8_000_000
        )
        await producer.start()
        try:
            for value in poison:  # timestamped now: judged against today
                await producer.send_and_wait(topics.events, value, key=b"g")
        finally:
            await producer.stop()
        group = GroupWatcher(broker.bootstrap, f"{unique}-app")
        async with Driver(broker.bootstrap, topics, 4) as driver, group:
            await driver.play(iter(good), POLICY, group)
        letters = await read_topic(broker.bootstrap, topics.deadletter, 3)
        alerts = await read_topic(broker.bootstrap, topics.alerts, 1)
        return letters, alerts

    with worker(env, tmp_path / "worker.log"):
        letters, alerts = asyncio.run(drive())
    reasons = sorted(DeadLetter.model_validate_json(v).reason for v in letters)
    assert reasons == ["event_in_the_future", "event_too_old", "invalid_fields"]
    assert all(len(v) < 100_000 for v in letters)  # the huge payload is not kept whole
    transitions = codec.transitions_of(alerts)
    assert [(t.learner_id, t.to_tier) for t in transitions] == [("g", 1)]
