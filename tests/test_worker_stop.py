"""A stopping worker stores what it processed: Faust waits for every record in flight to be
acknowledged, and the learner agent acknowledges a record only once its state is stored."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import time
import urllib.request

import orjson
import pytest

from schemas import LearnerProfile, LearningEvent
from stream import codec
from stream.broker import EmbeddedBroker
from stream.sim import demo
from stream.sim.driver import Driver
from tests.streaming import make_topics, read_topic, worker_env

pytestmark = pytest.mark.broker


def processed(port: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    lines = [ln for ln in text.splitlines() if ln.startswith("tierwatch_events_processed_total")]
    return sum(float(ln.rsplit(" ", 1)[1]) for ln in lines)


def test_a_stopping_worker_stores_its_batch_and_exits(own_broker: EmbeddedBroker, tmp_path):
    bootstrap = own_broker.bootstrap
    topics = make_topics(bootstrap, "stop")
    env = worker_env(bootstrap, "stop", tmp_path / "data")
    env["TIERWATCH_BATCH_WITHIN_S"] = "600"  # nothing but the stop stores the batch
    at = dt.datetime(2026, 1, 6, 10, tzinfo=dt.UTC)
    records = [
        LearnerProfile(learner_id="stopper", role="default"),
        LearningEvent(
            id="e1", learner_id="stopper", occurred_at=at, kind="session",
            object_id="course-1", source="test",
        ),
    ]  # fmt: skip

    async def send() -> None:
        async with Driver(bootstrap, topics, 4) as driver:
            for record in records:
                await driver.send(record)

    with (tmp_path / "worker.log").open("wb") as log:
        proc = demo.start_worker(env, log)
        try:
            asyncio.run(send())
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    if processed(env["TIERWATCH_WEB_PORT"]) >= 2:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            else:
                pytest.fail("the worker did not process the records")
            proc.terminate()
            proc.wait(timeout=60)  # before the fix it waited for ever for the acknowledgement
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("the worker did not stop: its batch was never acknowledged")
    changelog = asyncio.run(read_topic(bootstrap, "stop-app-learners-changelog", 1, idle_s=1))
    states = [orjson.loads(v) for v in changelog if v]
    assert [s["learner_id"] for s in states] == ["stopper"]
    assert states[0]["open_weeks"]  # the event was counted before the stop stored the state


def ready(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def test_a_tick_waiting_for_its_barrier_does_not_hold_a_stop_and_comes_again(
    broker, unique, tmp_path
):
    """SIGTERM while a tick waits for records that will not come: the worker stops well
    before the barrier's timeout (it waited the whole timeout), and the tick is left
    uncommitted, so the worker that takes the partition over applies it."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.structs import TopicPartition

    topics = make_topics(broker.bootstrap, unique)
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")
    env["TIERWATCH_TICK_BARRIER_TIMEOUT_S"] = "240"
    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)

    async def tick() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            value = codec.encode_tick(now, 0, {topics.events: 1000})  # never reached
            await producer.send_and_wait(topics.clock, value, key=b"tick-0", partition=0)
        finally:
            await producer.stop()

    async def committed() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            tp = TopicPartition(topics.clock, 0)
            offsets = await admin.list_consumer_group_offsets(f"{unique}-app", partitions=[tp])
        finally:
            await admin.close()
        return offsets[tp].offset

    with (tmp_path / "worker.log").open("wb") as log:
        proc = demo.start_worker(env, log)
        try:
            deadline = time.monotonic() + 90
            while not ready(env["TIERWATCH_WEB_PORT"]) and time.monotonic() < deadline:
                time.sleep(0.2)
            asyncio.run(tick())
            time.sleep(3)  # the tick is read and waits for its barrier
            started = time.monotonic()
            proc.terminate()
            proc.wait(timeout=200)
            took = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
    assert took < 120, f"stopped after {took:.0f} s: it waited for the barrier"
    assert asyncio.run(committed()) < 1  # the tick is not committed: it comes again
