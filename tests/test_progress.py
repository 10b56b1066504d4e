"""Progress: how far the input agent has got per topic partition, and ticks waiting for it.

A barrier maps each input topic to an exclusive offset: barrier {"events": 3} on partition 0
is reached once offsets 0, 1 and 2 of events/0 have been marked.

    mark events/0 @0   @1   @2
    next offset     1    2    3   -> barrier {"events": 3} reached
"""

from __future__ import annotations

import asyncio

from stream.worker.progress import Progress

SHORT = 0.05  # seconds: long enough for a waiter to block, short enough to keep tests fast
LONG = 5.0  # seconds: never reached by a passing test


async def let_waiters_block() -> None:
    """Yield to the event loop once (no time passes) so started waiters reach their await."""
    await asyncio.sleep(0)


async def test_wait_returns_at_once_when_the_barrier_is_already_reached():
    """A barrier already reached is waited for without blocking, even with no time to wait."""
    progress = Progress()
    progress.mark("events", 0, 4)
    assert progress.reached(0, {"events": 5})
    assert await progress.wait(0, {"events": 5}, timeout=0)


async def test_an_empty_barrier_is_always_reached():
    """A tick with no barrier (or only zero offsets) waits for nothing."""
    progress = Progress()
    assert await progress.wait(0, {}, timeout=0)
    assert await progress.wait(3, {"events": 0, "profiles": 0}, timeout=0)


async def test_a_waiter_is_released_when_the_last_offset_before_the_barrier_is_marked():
    """Barrier N is exclusive: offset N-2 does not release the waiter, offset N-1 does."""
    progress = Progress()
    waiter = asyncio.create_task(progress.wait(0, {"events": 3}, timeout=LONG))
    await let_waiters_block()
    progress.mark("events", 0, 1)
    await let_waiters_block()
    assert not progress.reached(0, {"events": 3})
    assert not waiter.done()
    progress.mark("events", 0, 2)
    assert await asyncio.wait_for(waiter, LONG) is True


async def test_a_barrier_across_two_topics_needs_both():
    """A barrier naming two topics is reached only when both have got that far."""
    progress = Progress()
    barrier = {"events": 2, "assignments": 1}
    waiter = asyncio.create_task(progress.wait(1, barrier, timeout=LONG))
    await let_waiters_block()
    progress.mark("events", 1, 1)
    await let_waiters_block()
    assert not waiter.done()
    assert not progress.reached(1, barrier)
    progress.mark("assignments", 1, 0)
    assert await asyncio.wait_for(waiter, LONG) is True


async def test_marks_of_another_partition_do_not_release_a_waiter():
    """Progress on partition 1 says nothing about partition 0: the waiter times out."""
    progress = Progress()
    waiter = asyncio.create_task(progress.wait(0, {"events": 1}, timeout=SHORT))
    await let_waiters_block()
    progress.mark("events", 1, 10)
    assert await waiter is False
    assert not progress.reached(0, {"events": 1})


async def test_marks_of_another_topic_do_not_release_a_waiter():
    """Progress on a topic the barrier does not name does not count for it."""
    progress = Progress()
    progress.mark("profiles", 0, 10)
    assert await progress.wait(0, {"events": 1}, timeout=SHORT) is False


async def test_wait_returns_false_when_the_timeout_passes_first():
    """Nothing marked within the timeout: wait gives up and returns False."""
    progress = Progress()
    assert await progress.wait(0, {"events": 1}, timeout=SHORT) is False


async def test_a_timed_out_waiter_does_not_break_later_marks_or_waits():
    """After a timeout, marking still works and a new wait for the same barrier succeeds."""
    progress = Progress()
    assert await progress.wait(0, {"events": 1}, timeout=SHORT) is False
    progress.mark("events", 0, 0)
    assert await progress.wait(0, {"events": 1}, timeout=0)


async def test_several_waiters_are_released_by_the_marks_that_reach_them():
    """Each waiter is released by its own barrier; a further one stays waiting."""
    progress = Progress()
    first = asyncio.create_task(progress.wait(0, {"events": 1}, timeout=LONG))
    second = asyncio.create_task(progress.wait(0, {"events": 2}, timeout=LONG))
    third = asyncio.create_task(progress.wait(0, {"events": 9}, timeout=SHORT))
    await let_waiters_block()
    progress.mark("events", 0, 0)
    assert await asyncio.wait_for(first, LONG) is True
    assert not second.done()
    progress.mark("events", 0, 1)
    assert await asyncio.wait_for(second, LONG) is True
    assert await third is False


def test_marks_never_move_backwards():
    """Marking an earlier offset (a redelivery) does not lower how far a partition has got."""
    progress = Progress()
    progress.mark("events", 0, 7)
    progress.mark("events", 0, 2)
    assert progress.reached(0, {"events": 8})
    assert not progress.reached(0, {"events": 9})


def test_forget_drops_the_given_partitions_only():
    """After forget({0}) partition 0 starts from nothing again; partition 1 is kept."""
    progress = Progress()
    progress.mark("events", 0, 5)
    progress.mark("events", 1, 5)
    progress.forget({0})
    assert not progress.reached(0, {"events": 1})
    assert progress.reached(1, {"events": 6})


async def test_a_floor_that_moves_without_a_mark_releases_the_waiter():
    """After a restart the committed offset (the floor) arrives without any mark: the waiting
    tick notices it within a re-check, not at its timeout."""
    committed = {"events": 0}
    progress = Progress(floor=lambda topic, partition: committed.get(topic, 0))
    waiter = asyncio.create_task(progress.wait(0, {"events": 7}, timeout=LONG))
    await asyncio.sleep(SHORT)
    assert not waiter.done()
    committed["events"] = 7
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await waiter
    assert loop.time() - started < LONG / 2
    assert not progress.waiting()


async def test_a_timed_out_waiter_is_no_longer_waiting():
    """A barrier that times out leaves no waiter behind (the batch is not kept due for ever)."""
    progress = Progress()
    assert not await progress.wait(0, {"events": 3}, timeout=SHORT)
    assert not progress.waiting()
