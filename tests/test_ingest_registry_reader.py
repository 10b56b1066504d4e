"""The reader of the registry topic: a failure is logged, keeps ingest not ready (and xAPI
waiting) until the registry is read back again, and the reader restarts with a backoff
(no broker: a stand-in consumer)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from structlog.testing import capture_logs

from stream.ingest import memory as memory_
from stream.ingest.context import KEY
from stream.ingest.memory import Memory
from stream.ingest.sink import BrokerUnavailable
from tests.ingest_kit import TOPICS, FakeSink, client

SID = "8f1c4b1e-55a9-4b1a-9d43-2c1f1d6f4b10"
RECORD = (f"s:{SID}".encode(), b'{"f": "fingerprint", "l": "ana"}')


@dataclass
class Message:
    key: bytes | None
    value: bytes | None


class Consumer:
    """Stands in for `AIOKafkaConsumer` on a one-partition registry topic holding RECORD.
    The first `failing` consumers made fail while reading it back."""

    failing = 0
    made = 0

    def __init__(self, **_: Any) -> None:
        Consumer.made += 1
        self.fails = Consumer.made <= Consumer.failing
        self.read = 0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def topics(self) -> set[str]:
        return {TOPICS.registry}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def assign(self, partitions: list[TopicPartition]) -> None:
        pass

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        pass

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 1)

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int) -> dict[Any, Any]:
        if self.fails:
            raise KafkaConnectionError("the broker went away")
        self.read = 1
        return {partitions[0]: [Message(*RECORD)]}

    async def position(self, partition: TopicPartition) -> int:
        return self.read

    def __aiter__(self) -> Consumer:
        return self

    async def __anext__(self) -> Message:
        await asyncio.Event().wait()  # nothing more is written
        raise StopAsyncIteration


async def stopped(reader: asyncio.Task[None]) -> None:
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader


@pytest.fixture
def consumer(monkeypatch: pytest.MonkeyPatch) -> type[Consumer]:
    monkeypatch.setattr(memory_, "AIOKafkaConsumer", Consumer)
    monkeypatch.setattr(memory_, "RESTART_INITIAL_S", 0.01, raising=False)
    monkeypatch.setattr(memory_, "LOAD_WAIT_S", 0.05)
    Consumer.made, Consumer.failing = 0, 2
    return Consumer


async def test_a_failed_reader_is_logged_and_restarted_until_the_registry_is_read(consumer):
    """Two failures while reading back: each an error event; `loaded` only once a reader
    read the topic to its end, and the record is then known."""
    memory = Memory()
    with capture_logs() as logs:
        reader = asyncio.create_task(memory.follow(TOPICS.registry, "broker:9092"))
        await asyncio.wait_for(memory.loaded.wait(), 5)
        await stopped(reader)
    failed = [e for e in logs if e["event"] == "registry_reader_failed"]
    assert [e["log_level"] for e in failed] == ["error", "error"]
    assert "the broker went away" in failed[0]["error"]
    assert consumer.made == 3
    assert memory.statements.get(SID) is not None


async def test_ingest_is_not_ready_while_its_registry_reader_fails(consumer):
    """/readyz answers 503, saying why, and xAPI waits (then 503) while the reader fails."""
    consumer.failing = 10**6
    async with client(FakeSink()) as test_client:
        memory = test_client.app[KEY].memory
        reader = asyncio.create_task(memory.follow(TOPICS.registry, "broker:9092"))
        try:
            for _ in range(200):  # the first failure, and a restart after it
                if consumer.made >= 2 or reader.done():
                    break
                await asyncio.sleep(0.01)
            answer = await test_client.get("/readyz")
            assert answer.status == 503
            assert "registry reader failed" in (await answer.json())["detail"]
            with pytest.raises(BrokerUnavailable, match="registry reader failed"):
                await memory.ready()
        finally:
            await stopped(reader)
