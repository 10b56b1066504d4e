"""Where ingest writes: the broker, answering only once it acknowledged.

`Sink` is what the views need; `KafkaSink` is the real one. When the broker cannot be
reached the sink raises `BrokerUnavailable` and the view answers 503 with Retry-After:
nothing is ever acknowledged to a client before the broker acknowledged it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from stream.errors import TierwatchError

log = structlog.get_logger("tierwatch.ingest")


class BrokerUnavailable(TierwatchError):
    """The broker did not acknowledge in time (or cannot be reached)."""


class Sink(Protocol):
    async def send(self, topic: str, records: Sequence[tuple[str | None, bytes | None]]) -> None:
        """Write keyed records and wait for the broker's acknowledgement of all of them."""

    async def dead_letter(self, topic: str, key: str | None, value: bytes) -> None:
        """Record a refused request; best effort (a broken broker must not break refusals)."""


class KafkaSink:
    """An aiokafka producer (acks=all) that keeps trying to connect in the background."""

    def __init__(self, bootstrap: str, ack_timeout_s: float, retry_after_s: int = 5) -> None:
        self.bootstrap = bootstrap
        self.ack_timeout_s = ack_timeout_s
        self.retry_after_s = retry_after_s
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connect now if the broker is there; otherwise keep trying in the background."""
        self._connecting = asyncio.create_task(self._connect())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._connecting), self.ack_timeout_s)

    async def _connect(self) -> None:
        delay = 0.5
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, acks="all", linger_ms=2, enable_idempotence=False
            )
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                await producer.stop()
                log.warning("broker_unreachable", bootstrap=self.bootstrap, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._producer = producer
            log.info("broker_connected", bootstrap=self.bootstrap)
            return

    async def stop(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._producer is not None:
            await self._producer.stop()

    async def send(self, topic: str, records: Sequence[tuple[str | None, bytes | None]]) -> None:
        if self._producer is None:
            raise BrokerUnavailable("not connected to the broker yet")
        producer = self._producer

        async def produce_all() -> None:
            futures = [
                await producer.send(topic, value=value, key=key.encode() if key else None)
                for key, value in records
            ]
            await asyncio.gather(*futures)

        try:  # the whole write (metadata, a full buffer, the acknowledgements) is bounded
            await asyncio.wait_for(produce_all(), self.ack_timeout_s)
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailable(f"the broker did not acknowledge: {exc!r}") from exc

    async def dead_letter(self, topic: str, key: str | None, value: bytes) -> None:
        try:
            await self.send(topic, [(key, value)])
        except BrokerUnavailable as exc:
            log.error("dead_letter_lost", topic=topic, error=str(exc))
