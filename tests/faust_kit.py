"""Agents under Faust's `Agent.test_context()`, without Kafka (faust's testing recipe,
docs/userguide/testing.rst): a worker's real app, tables in memory, every outbound topic
an `AsyncMock` with the spec of Faust's `Topic`, and `put`, which returns once the agent
is done with the record.

Faust's own `put(wait=True)` returns when the agent has *taken* a value, before an agent
that yields nothing has processed it; `put` here waits for Faust to report the event done
(`Sensor.on_stream_event_out`: the agent asked for the next record, or acknowledged this
one by hand), and raises what the agent crashed with.

Time comes from the records, as in the worker: an event's time and its broker timestamp
(`timestamp=`, the clock the learner agent judges it by), a tick's `now`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import faust
from faust.types import TP, AgentT, EventT, Message

from stream.core.policy import Policy
from stream.settings import Settings
from stream.worker.pipeline import Pipeline
from stream.worker.wiring import add_outputs, make_pipeline
from tests.kit import POLICY

WAIT_S = 5.0  # longer than any agent here takes over one record: it hangs


def topic_mock() -> Any:
    """An outbound topic: `send` records its calls, and a call Faust's `Topic.send` would
    refuse fails here too."""
    return mock.create_autospec(faust.Topic, instance=True, spec_set=True)


def sent(topic: Any) -> list[bytes]:
    """The values sent to a mocked topic, in order."""
    return [call.kwargs["value"] for call in topic.send.await_args_list]


def worker(tmp_path: Path, policy: Policy = POLICY, **settings: Any) -> Pipeline:
    """A worker's pipeline as `wiring.build` makes it (its app, the learners and erased
    tables, in memory), with the alerts, dead-letter and teams topics mocked. Register
    the agents under test on it."""
    config = Settings(data_dir=tmp_path / "data", store="memory://", **settings)
    pipeline = make_pipeline(config, policy, "127.0.0.1:1")  # no broker: nothing connects
    add_outputs(pipeline)
    pipeline.alerts, pipeline.deadletter, pipeline.teams = topic_mock(), topic_mock(), topic_mock()
    return pipeline


def agent_of(pipeline: Pipeline, name: str) -> AgentT:
    return pipeline.app.agents[name]


class Done(faust.Sensor):
    """Faust's report that a stream is done with an event, and an agent's crash."""

    def __init__(self) -> None:
        super().__init__()
        self.done: dict[int, Message] = {}  # by id, held: a freed message's id is reused
        self.crash: BaseException | None = None
        self.changed = asyncio.Event()

    def on_stream_event_out(self, tp: TP, offset: int, stream: Any, event: EventT,
                            state: Any = None) -> None:  # fmt: skip
        self.done[id(event.message)] = event.message
        self.changed.set()

    async def crashed(self, agent: Any, exc: BaseException) -> None:
        self.crash = exc
        self.changed.set()

    async def wait_for(self, event: EventT) -> None:
        async with asyncio.timeout(WAIT_S):
            while self.done.get(id(event.message)) is not event.message:
                if self.crash is not None:
                    raise self.crash
                self.changed.clear()
                await self.changed.wait()


class Driven:
    """An agent in its test context: `put` a record, then look at tables and mocks."""

    def __init__(self, agent: Any, done: Done) -> None:
        self.agent = agent
        self.done = done
        self.offsets: dict[TP, int] = {}

    async def put(
        self,
        value: bytes | None,
        key: bytes | None = None,
        *,
        topic: str | None = None,
        partition: int = 0,
        at: dt.datetime | None = None,
    ) -> EventT:
        """Hand the agent one record (of `topic`, for an agent reading several; broker
        timestamp `at`) and return once it is done with it."""
        timestamp = at.timestamp() if at is not None else None
        if topic is None:
            event = await self.agent.put(
                value, key=key, partition=partition, timestamp=timestamp, wait=False
            )
        else:
            event = await self._put_on(topic, value, key, partition, timestamp)
        await self.done.wait_for(event)
        return event

    async def _put_on(
        self, topic: str, value: bytes | None, key: bytes | None, partition: int,
        timestamp: float | None,
    ) -> EventT:  # fmt: skip
        """`AgentTestWrapper.put`, naming the topic: Faust's names the agent's channel,
        which it cannot for a channel of several topics."""
        tp = TP(topic, partition)
        offset = self.offsets.get(tp, 0)
        self.offsets[tp] = offset + 1
        message = Message(
            topic=topic, partition=partition, offset=offset,
            timestamp=timestamp or dt.datetime.now(dt.UTC).timestamp(), timestamp_type=0,
            headers=None, key=key, value=value, checksum=b"",
            serialized_key_size=0, serialized_value_size=0,
            generation_id=self.agent.app.consumer_generation_id,
        )  # fmt: skip
        channel = self.agent.stream().channel
        event: EventT = await channel.decode(message)
        await channel.put(event)
        return event


@asynccontextmanager
async def driving(agent: AgentT) -> AsyncIterator[Driven]:
    """`agent.test_context()`, with `put` waiting until the agent is done with a record."""
    done = Done()
    agent.app.sensors.add(done)
    try:
        async with agent.test_context(on_error=done.crashed) as wrapper:
            yield Driven(wrapper, done)
    finally:
        agent.app.sensors.remove(done)
