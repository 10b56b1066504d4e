"""Workarounds for the embedded broker (Tansu), applied only when talking to it.

- Tansu numbers a group's first generation 0, and aiokafka only says LeaveGroup for a
  generation above 0; a stopped worker then holds its partitions until its session times
  out, and a restart waits for that. This lets a stopping member leave from generation 0.
- Tansu does not answer a waiting fetch when new data arrives, so every fetch waits its
  full `fetch_max_wait_ms`, which Faust fixes at 1.5 s: a quiet topic then answers a
  message only up to 1.5 s late. Faust's consumers here wait at most 50 ms.
- Tansu's ListOffsets answers the first offset of the last record batch + 1 as a
  partition's end, so after a batch of several records the end is short, and Faust's table
  recovery (which reads a changelog up to its end) would stop before the batch's later
  records. A fetch's high watermark is right: `end_offsets` here fetches the last batch of
  each partition and answers its high watermark.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiokafka
import structlog
from aiokafka import TopicPartition
from aiokafka.consumer import group_coordinator
from aiokafka.errors import KafkaError
from aiokafka.protocol.group import LeaveGroupRequest

from stream.worker.faust_compat import use_consumer_class

_applied = False
log = structlog.get_logger("tierwatch.tansu")


async def _leave_group_from_generation_zero(self: Any) -> None:
    if self.generation >= 0 and self.member_id and self._group_instance_id is None:
        with contextlib.suppress(KafkaError):
            await self._send_req(LeaveGroupRequest(self.group_id, self.member_id))
    self.reset_generation()


FETCH_MAX_WAIT_MS = 50


class _ShortFetchConsumer(aiokafka.AIOKafkaConsumer):  # type: ignore[misc]
    def __init__(self, *topics: str, **kwargs: Any) -> None:
        kwargs["fetch_max_wait_ms"] = min(kwargs.get("fetch_max_wait_ms", 500), FETCH_MAX_WAIT_MS)
        super().__init__(*topics, **kwargs)

    async def end_offsets(self, partitions: Any) -> dict[Any, int]:
        ends: dict[Any, int] = await super().end_offsets(partitions)
        return await end_offsets_patiently(self._client._bootstrap_servers, ends)


async def end_offsets_patiently(
    bootstrap: Any, ends: dict[Any, int], timeout: float = 15.0, pause: float = 1.0
) -> dict[Any, int]:
    """`true_end_offsets`, asked again (with a warning each time) until the broker answers:
    a table recovery needs the real ends, and a paused broker made the first ask raise and
    the worker crash. Readiness says recovery has not finished meanwhile."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await true_end_offsets(bootstrap, ends, timeout)
        except (KafkaError, OSError) as exc:
            log.warning("end_offsets_retry", attempt=attempt, error=repr(exc)[:300])
            await asyncio.sleep(pause)


async def true_end_offsets(
    bootstrap: Any, ends: dict[Any, int], timeout: float = 15.0
) -> dict[Any, int]:
    """The real end of each partition, given the ends Tansu's ListOffsets reported: a
    fetch from the last reported record answers the partition's high watermark."""
    probe = {TopicPartition(tp.topic, tp.partition): tp for tp, end in ends.items() if end > 0}
    if not probe:
        return dict(ends)
    consumer = aiokafka.AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=FETCH_MAX_WAIT_MS
    )
    await consumer.start()
    try:
        consumer.assign(list(probe))
        for tp, original in probe.items():
            consumer.seek(tp, ends[original] - 1)
        deadline = time.monotonic() + timeout
        while any(consumer.highwater(tp) is None for tp in probe):
            if time.monotonic() > deadline:
                raise KafkaError(f"no high watermark for {sorted(map(str, probe))} in {timeout} s")
            await consumer.getmany(timeout_ms=200)
        found = {original: consumer.highwater(tp) for tp, original in probe.items()}
    finally:
        await consumer.stop()
    return {tp: max(end, found.get(tp) or end) for tp, end in ends.items()}


def apply() -> None:
    """Patch aiokafka's group coordinator and Faust's consumer class, once per process."""
    global _applied
    if _applied:
        return
    group_coordinator.GroupCoordinator._maybe_leave_group = _leave_group_from_generation_zero
    use_consumer_class(_Namespace(aiokafka))
    _applied = True


class _Namespace:
    """The aiokafka module as Faust's driver sees it, with the short-fetch consumer."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self.AIOKafkaConsumer = _ShortFetchConsumer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)
