"""Drive a history through Kafka in simulated time: records to the input topics, and at
every midnight a tick to each clock partition that waits for the records sent before it.

The order is the one `replay` uses (`stream.core.timeline.schedule`), so a worker fed by
this driver produces exactly the transitions that replay computes for the same history.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from schemas.clock import Tick
from schemas.events import LearningEvent
from schemas.history import Record
from schemas.roster import Assignment, Intervention, LearnerProfile
from stream import codec
from stream.core.policy import Policy
from stream.core.timeline import record_time, schedule
from stream.errors import TierwatchError
from stream.topics import Topics

ProgressHook = Callable[["DriverStats"], Awaitable[None] | None]


class DriverError(TierwatchError):
    """The worker did not keep up with the driver (stopped, or too slow)."""


@dataclass
class DriverStats:
    """What the driver has sent so far."""

    records: int = 0
    ticks: int = 0
    day: dt.datetime | None = None
    ends: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset per partition


class Driver:
    """Produces records and barrier ticks; knows what it produced."""

    def __init__(
        self, bootstrap: str, topics: Topics, partitions: int, request_timeout_s: float = 40.0
    ) -> None:
        """`request_timeout_s`: how long a send may wait for the broker (longer than any
        pause of the broker the driver must outlast, in the chaos suite)."""
        self.topics = topics
        self.partitions = partitions
        self.stats = DriverStats()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=5,
            max_batch_size=1 << 20,
            request_timeout_ms=int(request_timeout_s * 1000),
        )
        self._pending: list[asyncio.Future[Any]] = []
        self._clock: dt.datetime | None = None  # the simulated clock: latest record time

    async def __aenter__(self) -> Driver:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    def topic_of(self, record: Record) -> str:
        if isinstance(record, LearningEvent):
            return self.topics.events
        if isinstance(record, LearnerProfile):
            return self.topics.profiles
        if isinstance(record, Assignment):
            return self.topics.assignments
        if isinstance(record, Intervention):
            return self.topics.interventions
        raise TypeError(type(record).__name__)

    async def send(self, record: Record) -> None:
        """Queue a record (keyed by learner) without waiting for the broker. Its timestamp
        is the simulated clock (the latest record time so far, as `tierwatch replay`
        keeps it): the worker judges an event's time against it, as ingest does against
        its own clock."""
        at = record_time(record)
        if at is not None and (self._clock is None or at > self._clock):
            self._clock = at
        stamp = int(self._clock.timestamp() * 1000) if self._clock is not None else None
        value = codec.encode_record(record)
        fut = await self._producer.send(
            self.topic_of(record), value=value, key=record.learner_id.encode(),
            timestamp_ms=stamp,
        )  # fmt: skip
        self._pending.append(fut)
        self.stats.records += 1

    async def erase(self, learner_id: str) -> None:
        """Queue a tombstone for a learner on the profiles topic (an erasure)."""
        fut = await self._producer.send(self.topics.profiles, value=None, key=learner_id.encode())
        self._pending.append(fut)

    async def settle(self) -> None:
        """Wait for every queued record's acknowledgement and note the offsets reached."""
        for meta in await asyncio.gather(*self._pending):
            key = (meta.topic, meta.partition)
            self.stats.ends[key] = max(self.stats.ends.get(key, 0), meta.offset + 1)
        self._pending.clear()

    async def tick(self, now: dt.datetime) -> None:
        """Settle, then send a tick to every clock partition, with its barrier."""
        await self.settle()
        for partition in range(self.partitions):
            barrier = {
                t: self.stats.ends[(t, partition)]
                for t in self.topics.inputs
                if (t, partition) in self.stats.ends
            }
            value = codec.encode_tick(now, partition, barrier)
            meta = await self._producer.send_and_wait(
                self.topics.clock,
                value=value,
                key=f"tick-{partition}".encode(),
                partition=partition,
            )
            self.stats.ends[(self.topics.clock, partition)] = meta.offset + 1
        self.stats.ticks += 1
        self.stats.day = now

    async def play(
        self,
        records: Iterable[Record],
        policy: Policy,
        watcher: GroupWatcher,
        until: dt.datetime | None = None,
        on_tick: ProgressHook | None = None,
        tick_timeout: float = 60.0,
    ) -> DriverStats:
        """Send a whole history in simulated time. After each tick, wait until the worker
        has applied it, so no record from after a midnight reaches a learner before that
        midnight's evaluation (the order replay uses)."""
        for item in schedule(records, policy, until):
            if isinstance(item, Tick):
                await self.tick(item.now)
                if not await watcher.reached(self.stats.ends, self.topics.clock, tick_timeout):
                    raise DriverError(f"the worker did not apply the tick of {item.now}")
                if on_tick is not None:
                    result = on_tick(self.stats)
                    if result is not None:
                        await result
            else:
                await self.send(item)
        await self.settle()
        return self.stats


class GroupWatcher:
    """Watches a consumer group's committed offsets (how far a worker has got)."""

    def __init__(
        self, bootstrap: str, group: str, alive: Callable[[], bool] = lambda: True
    ) -> None:
        self.group = group
        self.alive = alive
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)

    async def __aenter__(self) -> GroupWatcher:
        await self._admin.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._admin.close()

    async def reached(self, ends: dict[tuple[str, int], int], topic: str, timeout: float) -> bool:
        """Wait until the group committed `topic` up to `ends`.

        False on timeout, or as soon as the worker is known to be gone."""
        wanted = {TopicPartition(t, p): end for (t, p), end in ends.items() if t == topic}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.005
        while loop.time() < deadline and self.alive():
            committed = await self._admin.list_consumer_group_offsets(
                self.group, partitions=list(wanted)
            )
            if all(
                (meta := committed.get(tp)) is not None and meta.offset >= end
                for tp, end in wanted.items()
            ):
                return True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        return False
