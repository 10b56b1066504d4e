"""Helpers for broker tests: a worker process, the driver, and reading a topic."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from stream.broker import stop_process
from stream.settings import Settings
from stream.sim import demo
from stream.topics import Topics, create_topics


def worker_env(bootstrap: str, prefix: str, data_dir: Path, partitions: int = 4) -> dict[str, str]:
    settings = Settings(topic_prefix=f"{prefix}.", partitions=partitions)
    return demo.worker_env(bootstrap, f"{prefix}-app", str(data_dir), settings)


@contextlib.contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A `tierwatch worker` process, stopped (and killed if need be) on exit."""
    with log.open("wb") as sink:
        proc = demo.start_worker(env, sink)
        try:
            yield proc
        finally:
            stop_process(proc, timeout=20)


def make_topics(bootstrap: str, prefix: str, partitions: int = 4) -> Topics:
    settings = Settings(topic_prefix=f"{prefix}.", partitions=partitions)
    topics = Topics.named(settings.topic_prefix)
    asyncio.run(create_topics(settings, topics, bootstrap))
    return topics


async def read_topic(
    bootstrap: str,
    topic: str,
    until_count: int | None = None,
    idle_s: float = 3.0,
    max_s: float = 120,
) -> list[bytes]:
    """Every value on a topic: until `until_count` values arrived and it has been idle
    for `idle_s` (or, without a count, idle for `idle_s`), or `max_s` passed."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    values: list[bytes] = []
    loop = asyncio.get_running_loop()
    start = last = loop.time()
    try:
        while loop.time() - start < max_s:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                values.extend(m.value for m in messages)
                last = loop.time()
            enough = until_count is None or len(values) >= until_count
            if enough and loop.time() - last > idle_s:
                break
    finally:
        await consumer.stop()
    return values
