"""The Faust adapter: one test per Faust internal tierwatch uses, against the installed Faust.

A failure here after upgrading faust-streaming means an internal moved: update
stream/worker/faust_compat.py (and pin the release) before anything else.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.streams import current_event
from faust.transport.drivers import aiokafka as faust_driver
from faust.types import TP

from stream.worker import faust_compat
from stream.worker.faust_compat import CommitGuard, FaustInternalsChanged

TP0 = TP("events", 0)
CHANGELOG = TP("app-learners-changelog", 0)


@pytest.fixture
def app() -> faust.App:
    return faust.App("compat", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False)


class Message:
    """A record in flight, as Faust's consumer tracks it (weak references only)."""

    def __init__(self, tp: TP, offset: int) -> None:
        self.tp, self.offset = tp, offset


def acked(consumer: Any, tp: TP, committed: int | None, offsets: list[int]) -> None:
    consumer._committed_offset[tp] = committed
    consumer._acked[tp] = list(offsets)
    consumer._acked_index[tp] = set(offsets)


def test_the_installed_faust_has_every_internal_used(app):
    """`check_internals` passes on the installed faust-streaming."""
    faust_compat.check_internals(app)


def test_a_missing_internal_stops_the_worker_with_a_sentence():
    """A consumer without `_committed_offset` (a Faust that moved it) is refused by name."""
    consumer = SimpleNamespace(_read_offset={}, _acked={}, _acked_index={}, _gap={})
    fake = SimpleNamespace(consumer=consumer, producer=SimpleNamespace())
    with pytest.raises(FaustInternalsChanged, match=r"_committed_offset.*max_messages"):
        faust_compat.check_internals(fake)


def test_acting_for_makes_an_event_faust_s_current_event():
    """Table access outside Faust's iteration goes to the event's partition, then no longer."""
    event = Message(TP0, 3)
    with faust_compat.acting_for(event):
        assert current_event() is event
    assert current_event() is None


def test_committed_and_read_offsets_come_from_the_consumer(app):
    """The committed offset of a partition (0 when none) and the last offset read."""
    consumer = app.consumer
    assert faust_compat.committed_offset(app, "events", 0) == 0
    consumer._committed_offset[TP0] = 42
    consumer._read_offset[TP0] = 41
    assert faust_compat.committed_offset(app, "events", 0) == 42
    assert faust_compat.read_offset(app, TP0) == 41


def test_the_producer_buffer_is_set(app):
    """Faust's constant buffer of 100 messages becomes the setting."""
    faust_compat.set_producer_buffer(app, 5000)
    assert app.producer.buffer.max_messages == 5000


def test_faust_s_driver_builds_consumers_from_the_given_module():
    """The embedded broker's consumer class reaches Faust's aiokafka driver."""
    original = faust_driver.aiokafka
    stand_in = SimpleNamespace(AIOKafkaConsumer=object)
    try:
        faust_compat.use_consumer_class(stand_in)
        assert faust_driver.aiokafka is stand_in
    finally:
        faust_driver.aiokafka = original


def test_faust_alone_commits_over_a_record_never_acknowledged(app):
    """The fault (faust-streaming 606): committed 4, acknowledged 5-7: Faust commits 8 and
    offset 4 is lost. This test fails once Faust fixes it; then `strict_commits` can go."""
    acked(app.consumer, TP0, 4, [5, 6, 7])
    assert app.consumer._new_offset(TP0) == 8


def test_strict_commits_wait_for_the_record_at_the_committed_offset(app):
    """Committed 4, acknowledged 5-7: nothing is committed until 4 is acknowledged; then 8,
    and the committed offsets leave Faust's lists."""
    faust_compat.strict_commits(app)
    acked(app.consumer, TP0, 4, [5, 6, 7])
    assert app.consumer._new_offset(TP0) is None
    app.consumer._acked[TP0].append(4)
    app.consumer._acked_index[TP0].add(4)
    assert app.consumer._new_offset(TP0) == 8
    assert app.consumer._acked[TP0] == []
    assert app.consumer._acked_index[TP0] == set()


def test_strict_commits_accept_a_gap_that_starts_at_the_committed_offset(app):
    """Offsets 4-5 known not to exist (a gap), 6-7 acknowledged: 8 is committed."""
    faust_compat.strict_commits(app)
    acked(app.consumer, TP0, 4, [6, 7])
    app.consumer._gap[TP0].addi(4, 6)
    assert app.consumer._new_offset(TP0) == 8


def test_strict_commits_from_a_partition_never_committed_start_at_zero(app):
    """No committed offset: acknowledged 1-3 wait for offset 0."""
    faust_compat.strict_commits(app)
    acked(app.consumer, TP0, None, [1, 2, 3])
    assert app.consumer._new_offset(TP0) is None


def test_strict_commits_go_no_further_than_the_agent_stored(app):
    """Acknowledged 4-9 (Faust acknowledges records it skipped at a rebalance), stored up
    to 6: 7 is committed, 7-9 wait for the agent."""
    stored = {TP0: 7}
    faust_compat.strict_commits(app, stored.get)
    acked(app.consumer, TP0, 4, [4, 5, 6, 7, 8, 9])
    assert app.consumer._new_offset(TP0) == 7
    assert app.consumer._acked[TP0] == [7, 8, 9]
    app.consumer._committed_offset[TP0] = 7
    assert app.consumer._new_offset(TP0) is None
    stored[TP0] = 10
    assert app.consumer._new_offset(TP0) == 10


def test_offsets_acknowledged_before_the_committed_one_are_dropped(app):
    """A previous generation's acknowledgements below the committed offset are forgotten,
    and the run from the committed offset is committed."""
    faust_compat.strict_commits(app)
    acked(app.consumer, TP0, 10, [3, 4, 10, 11])
    assert app.consumer._new_offset(TP0) == 12
    assert app.consumer._acked[TP0] == []
    assert app.consumer._acked_index[TP0] == set()


class Buffer:
    """An agent's buffer of records read but not yet taken."""

    def __init__(self, items: int) -> None:
        self.items = items

    def empty(self) -> bool:
        return self.items == 0


def guarded_app(
    app: Any, seeks: list[tuple[TP, int]], high: int | None = 15, buffered: int = 0
) -> Any:
    consumer = app.consumer

    async def seek(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))

    consumer.assignment = lambda: {TP0}
    consumer.seek = seek
    consumer.highwater = lambda tp: high
    channel = SimpleNamespace(queue=Buffer(buffered))
    topics = SimpleNamespace(
        _tp_index={TP0: [channel]}, acks_enabled_for=lambda topic: topic != CHANGELOG.topic
    )
    recovery = SimpleNamespace(completed=asyncio.Event())
    recovery.completed.set()
    return SimpleNamespace(
        consumer=consumer, rebalancing=False, should_stop=False, topics=topics,
        tables=SimpleNamespace(recovery=recovery),
    )  # fmt: skip


async def test_a_stuck_partition_is_read_again_then_its_missing_offsets_skipped(app):
    """Committed 10, acknowledged 13-14, nothing in flight: after `stall_s` the partition is
    read again from 10; still missing after another `stall_s`, 10-12 become a gap."""
    seeks: list[tuple[TP, int]] = []
    target = guarded_app(app, seeks)
    acked(app.consumer, TP0, 10, [13, 14])
    guard = CommitGuard(stall_s=2.0)
    assert await guard.check(target, now=0.0) == []
    assert await guard.check(target, now=1.0) == []
    assert await guard.check(target, now=2.5) == [(TP0, "reread")]
    assert seeks == [(TP0, 10)]
    assert await guard.check(target, now=3.0) == []
    assert await guard.check(target, now=5.0) == [(TP0, "gap")]
    faust_compat.strict_commits(app)
    assert app.consumer._new_offset(TP0) == 15


async def test_the_last_record_read_and_never_delivered_is_read_again(app):
    """Committed 36, one record there (high watermark 37), nothing acknowledged, in flight
    or buffered (a tick read, then cleared at a rebalance): read again from 36, and again
    if it still does not come; never skipped as a gap."""
    seeks: list[tuple[TP, int]] = []
    target = guarded_app(app, seeks, high=37)
    app.consumer._committed_offset[TP0] = 36
    guard = CommitGuard(stall_s=5.0)
    assert await guard.check(target, now=0.0) == []
    assert await guard.check(target, now=4.0) == []
    assert await guard.check(target, now=5.5) == [(TP0, "reread")]
    assert await guard.check(target, now=11.0) == [(TP0, "reread")]
    assert seeks == [(TP0, 36), (TP0, 36)]


async def test_an_idle_partition_is_not_stuck(app):
    """Committed 36 and nothing past it (high watermark 36): nothing to repair."""
    seeks: list[tuple[TP, int]] = []
    target = guarded_app(app, seeks, high=36)
    app.consumer._committed_offset[TP0] = 36
    guard = CommitGuard(stall_s=1.0)
    for now in (0.0, 5.0, 10.0):
        assert await guard.check(target, now=now) == []
    assert seeks == []


async def test_records_waiting_in_an_agent_s_buffer_are_not_stuck(app):
    """Records read and waiting for a busy agent: the guard waits for the agent."""
    seeks: list[tuple[TP, int]] = []
    target = guarded_app(app, seeks, high=40, buffered=3)
    app.consumer._committed_offset[TP0] = 36
    guard = CommitGuard(stall_s=1.0)
    for now in (0.0, 5.0, 10.0):
        assert await guard.check(target, now=now) == []
    assert seeks == []


async def test_records_acknowledged_but_never_stored_are_read_again(app):
    """Committed 10, Faust acknowledged 10-12 (skipped at a rebalance), the agent stored
    nothing: after `stall_s` the partition is read again from 10 (never a gap)."""
    seeks: list[tuple[TP, int]] = []
    target = guarded_app(app, seeks)
    acked(app.consumer, TP0, 10, [10, 11, 12])
    guard = CommitGuard(stall_s=1.0, cap={TP0: 0}.get)
    await guard.check(target, now=0.0)
    assert await guard.check(target, now=1.5) == [(TP0, "reread")]
    assert await guard.check(target, now=3.0) == [(TP0, "reread")]
    assert seeks == [(TP0, 10), (TP0, 10)]


async def test_a_partition_with_a_record_in_flight_is_not_stuck(app):
    """Offset 10 is still being processed (unacknowledged): the guard waits for it."""
    seeks: list[tuple[TP, int]] = []
    target = guarded_app(app, seeks)
    acked(app.consumer, TP0, 10, [11, 12])
    in_flight = Message(TP0, 10)
    app.consumer._unacked_messages.add(in_flight)
    guard = CommitGuard(stall_s=1.0)
    for now in (0.0, 5.0, 10.0):
        assert await guard.check(target, now=now) == []
    assert seeks == []


async def test_records_in_flight_elsewhere_do_not_hide_a_stuck_partition(app):
    """In flight: an old record of the partition (before its committed offset) and a record
    of another partition; the partition is stuck all the same."""
    seeks: list[tuple[TP, int]] = []
    target = guarded_app(app, seeks)
    acked(app.consumer, TP0, 10, [11, 12])
    old, other = Message(TP0, 5), Message(TP("events", 1), 40)
    app.consumer._unacked_messages.update({old, other})
    guard = CommitGuard(stall_s=1.0)
    await guard.check(target, now=0.0)
    assert await guard.check(target, now=1.5) == [(TP0, "reread")]
    assert seeks == [(TP0, 10)]


async def test_a_reread_that_delivers_the_records_needs_no_gap(app):
    """After the re-read, offset 10 arrives and is acknowledged: nothing more is done."""
    seeks: list[tuple[TP, int]] = []
    target = guarded_app(app, seeks)
    acked(app.consumer, TP0, 10, [11, 12])
    guard = CommitGuard(stall_s=1.0)
    await guard.check(target, now=0.0)
    assert await guard.check(target, now=1.5) == [(TP0, "reread")]
    app.consumer._acked[TP0].insert(0, 10)
    for now in (2.0, 5.0, 9.0):
        assert await guard.check(target, now=now) == []
    assert seeks == [(TP0, 10)]


async def test_nothing_is_repaired_while_the_group_rebalances(app):
    """During a rebalance acknowledged offsets are in flux: the guard forgets and waits."""
    seeks: list[tuple[TP, int]] = []
    target = guarded_app(app, seeks)
    target.rebalancing = True
    acked(app.consumer, TP0, 10, [13])
    guard = CommitGuard(stall_s=0.5)
    for now in (0.0, 1.0, 2.0):
        assert await guard.check(target, now=now) == []
    assert seeks == []


async def test_changelogs_and_a_recovering_worker_are_left_alone(app):
    """A changelog partition (never committed) and any partition while the tables recover
    (the inputs are paused) are never read again."""
    seeks: list[tuple[TP, int]] = []
    target = guarded_app(app, seeks, high=50)
    app.consumer.assignment = lambda: {CHANGELOG}
    guard = CommitGuard(stall_s=1.0)
    for now in (0.0, 5.0, 10.0):
        assert await guard.check(target, now=now) == []
    app.consumer.assignment = lambda: {TP0}
    target.tables.recovery.completed.clear()
    for now in (20.0, 25.0, 30.0):
        assert await guard.check(target, now=now) == []
    assert seeks == []


def test_the_member_id_is_read_from_the_driver_s_aiokafka_consumer(app):
    """`member_id` follows Faust's consumer thread to aiokafka's group coordinator."""
    thread = app.consumer._thread
    assert faust_compat.member_id(app) is None  # no aiokafka consumer yet: not joined
    coordinator = SimpleNamespace(member_id="faust-0.15.3-1234")
    thread._consumer = SimpleNamespace(_coordinator=coordinator)
    assert faust_compat.member_id(app) == "faust-0.15.3-1234"
    coordinator.member_id = ""  # aiokafka's UNKNOWN_MEMBER_ID: between generations
    assert faust_compat.member_id(app) is None


def test_the_flow_is_suspended_while_a_rebalance_runs(app):
    """Faust suspends `flow_control` when a rebalance begins and resumes it once the
    partitions are assigned: a waiting tick then leaves its partition to the next owner."""
    app.flow_control.resume()
    assert not faust_compat.flow_suspended(app)
    app.flow_control.suspend()
    assert faust_compat.flow_suspended(app)
