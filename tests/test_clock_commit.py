"""A tick evaluates a partition only once the input records processed so far are
committed: read again after a crash, an event of a week it closed would count as late."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace

from faust.types import TP

from stream.worker.agents import ticks as clock
from stream.worker.progress import Progress

EVENTS = "tierwatch.events"


class FakeConsumer:
    """Commits up to `committable` (a gap holds it), one offset per commit call."""

    def __init__(self, committed: int, committable: int) -> None:
        self._committed_offset = {TP(EVENTS, 0): committed}
        self.committable = committable
        self.commits = 0

    async def commit(self) -> bool:
        self.commits += 1
        tp = TP(EVENTS, 0)
        moved = self._committed_offset[tp] < self.committable
        self._committed_offset[tp] = self.committable
        return moved


def pipeline(consumer: FakeConsumer, processed: int, timeout: float = 30.0) -> SimpleNamespace:
    progress = Progress()
    progress.mark(EVENTS, 0, processed - 1)
    return SimpleNamespace(
        app=SimpleNamespace(consumer=consumer),
        settings=SimpleNamespace(tick_barrier_timeout_s=timeout),
        writing=asyncio.Lock(),
        intake=None,
        progress=progress,
    )


def run(p: SimpleNamespace, leave_after: int | None = None, fill_gap_after: int | None = None):
    evaluated: list[int] = []
    waits = 0

    async def evaluate(pipeline, partition, tick):
        evaluated.append(partition)
        return 0

    async def leaving(seconds: float) -> bool:
        nonlocal waits
        waits += 1
        if fill_gap_after is not None and waits >= fill_gap_after:
            p.app.consumer.committable = p.progress.next_offset(EVENTS, 0)  # re-read: filled
        return leave_after is not None and waits >= leave_after

    tick = SimpleNamespace(barrier={EVENTS: 10}, now=dt.datetime(2026, 1, 6, tzinfo=dt.UTC))
    original = clock.evaluate_partition
    clock.evaluate_partition = evaluate  # type: ignore[assignment]
    try:
        done = asyncio.run(clock.evaluate_when_committed(p, 0, tick, leaving))
    finally:
        clock.evaluate_partition = original  # type: ignore[assignment]
    return done, evaluated, waits


def test_a_tick_evaluates_at_once_when_its_inputs_commit():
    p = pipeline(FakeConsumer(committed=5, committable=12), processed=12)
    assert run(p) == (True, [0], 0)


def test_a_tick_waits_while_a_gap_holds_its_inputs_commit_and_evaluates_once_filled():
    """Offset 5 was never delivered (the commit guard reads it again after a few seconds):
    records 6 to 11 are processed and stored, but nothing past 5 can be committed."""
    consumer = FakeConsumer(committed=5, committable=5)
    done, evaluated, waits = run(pipeline(consumer, processed=12), fill_gap_after=3)
    assert (done, evaluated, waits) == (True, [0], 3)
    assert consumer._committed_offset[TP(EVENTS, 0)] == 12
    assert consumer.commits == 4


def test_a_tick_waiting_for_its_inputs_is_left_at_a_stop_or_rebalance():
    p = pipeline(FakeConsumer(committed=5, committable=5), processed=12)
    assert run(p, leave_after=2) == (False, [], 2)


def test_a_tick_evaluates_anyway_after_the_barrier_timeout():
    p = pipeline(FakeConsumer(committed=5, committable=5), processed=12, timeout=0.0)
    assert run(p) == (True, [0], 0)
