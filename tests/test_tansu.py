"""The embedded broker's workarounds: the true end of a partition after a batch."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.broker import EmbeddedBroker
from stream.worker import tansu

pytestmark = pytest.mark.broker


def test_true_end_offsets_count_every_record_of_the_last_batch(broker: EmbeddedBroker) -> None:
    bootstrap = broker.bootstrap

    async def go() -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=100)
        await producer.start()
        try:  # one batch of 10 records on partition 0, then one of 5; partition 1 empty
            for batch in (10, 5):
                sent = [await producer.send("ends", b"v", partition=0) for _ in range(batch)]
                await asyncio.gather(*sent)
            await producer.send_and_wait("ends", b"w", partition=1)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            tps = [TopicPartition("ends", 0), TopicPartition("ends", 1)]
            reported = await consumer.end_offsets(tps)
        finally:
            await consumer.stop()
        return reported, await tansu.true_end_offsets(bootstrap, reported)

    reported, true = asyncio.run(go())
    assert true == {TopicPartition("ends", 0): 15, TopicPartition("ends", 1): 1}
    assert all(reported[tp] <= true[tp] for tp in true)


def test_end_offsets_are_asked_again_until_the_broker_answers(monkeypatch) -> None:
    """A probe that fails (a paused broker) is logged and asked again, never raised into
    the table recovery (it crashed the worker after 15 s)."""
    from structlog.testing import capture_logs

    answers: list[object] = [
        tansu.KafkaError("no high watermark"),
        OSError("connection reset"),
        {"tp": 9},
    ]

    async def probe(bootstrap, ends, timeout):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(tansu, "true_end_offsets", probe)
    with capture_logs() as logs:
        ends = asyncio.run(tansu.end_offsets_patiently("x:1", {"tp": 3}, pause=0))
    assert ends == {"tp": 9}
    assert [entry["attempt"] for entry in logs if entry["event"] == "end_offsets_retry"] == [1, 2]
