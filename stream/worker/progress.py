"""How far the input agent has got, per topic partition, so a tick can wait for it.

A tick carries a barrier: for each input topic, the offset (exclusive) of its partition
that must be processed before the tick applies. Kafka orders messages within a partition
but not across topics; the barrier restores "records before ticks" across them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

Floor = Callable[[str, int], int]
RECHECK_S = 0.25  # how often a waiting barrier looks at the floor again (it moves unmarked)


class Progress:
    """Next offset to process for each (topic, partition), with waiters for a barrier.

    `floor(topic, partition)` tells what was processed before this worker took the
    partition over (its committed offset): those records are in the table already.
    """

    def __init__(self, floor: Floor | None = None) -> None:
        self._floor = floor
        self._next: dict[tuple[str, int], int] = {}
        self._waiters: list[tuple[int, Mapping[str, int], asyncio.Future[None]]] = []

    def mark(self, topic: str, partition: int, offset: int) -> None:
        """Record that `offset` of a topic partition has been processed."""
        key = (topic, partition)
        if offset + 1 > self._next.get(key, 0):
            self._next[key] = offset + 1
        if self._waiters:
            self._wake()

    def next_offset(self, topic: str, partition: int) -> int:
        """The offset after the last one marked processed (0: none yet)."""
        return self._next.get((topic, partition), 0)

    def waiting(self) -> bool:
        """Whether a tick waits for a barrier (records should be marked done soon)."""
        return bool(self._waiters)

    def reached(self, partition: int, barrier: Mapping[str, int]) -> bool:
        """Whether every topic of the barrier has been processed up to its offset."""
        for topic, end in barrier.items():
            done = self._next.get((topic, partition), 0)
            if done < end and (self._floor is None or self._floor(topic, partition) < end):
                return False
        return True

    def _wake(self) -> None:
        still = []
        for partition, barrier, fut in self._waiters:
            if fut.done():
                continue
            if self.reached(partition, barrier):
                fut.set_result(None)
            else:
                still.append((partition, barrier, fut))
        self._waiters = still

    async def wait(self, partition: int, barrier: Mapping[str, int], timeout: float) -> bool:
        """Wait until the barrier is reached; False if `timeout` seconds pass first.

        A mark wakes the waiter at once; the floor (what a worker that held the partition
        before committed) moves without a mark, after a restart or a rebalance, so it is
        looked at again every `RECHECK_S`."""
        if self.reached(partition, barrier):
            return True
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.append((partition, barrier, fut))
        deadline = loop.time() + timeout
        try:
            while not fut.done():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(fut), min(RECHECK_S, remaining))
                if not fut.done() and self.reached(partition, barrier):
                    fut.set_result(None)
            return True
        finally:
            if not fut.done():
                fut.cancel()  # no longer waited for: `_wake` drops it
            self._waiters = [w for w in self._waiters if not w[2].done()]

    def forget(self, partitions: set[int]) -> None:
        """Drop what is known of partitions this worker no longer owns."""
        self._next = {k: v for k, v in self._next.items() if k[1] not in partitions}
