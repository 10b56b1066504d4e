"""Everything tierwatch uses of Faust beyond its public API, in one place.

Each use below reaches into an attribute Faust does not document; `check_internals`
verifies them all at start-up (a worker refuses to start on a Faust release that moved
one), and tests/test_faust_compat.py has a test for each use.

- `acting_for`: table reads and writes on behalf of an event outside Faust's own
  iteration (the learner agent's batch): `faust.streams._current_event`.
- `committed_offset`, `read_offset`: the consumer's `_committed_offset` and `_read_offset`.
- `flow_suspended`: `app.flow_control`, which Faust suspends when a rebalance begins.
- `set_producer_buffer`: `producer.buffer.max_messages` (Faust's constant of 100).
- `member_id`: the consumer group member id of the app's aiokafka consumer (through the
  driver's consumer thread, `_thread._consumer._coordinator`), see `stream.membership`.
- `use_consumer_class`: the aiokafka module Faust's driver builds its consumer from (the
  embedded broker's short-fetch consumer, see `stream.tansu`).
- `strict_commits` and `CommitGuard`: Faust's consumer commits the acknowledged offsets
  that follow its committed offset (`_acked`, `_gap`, `_unacked_messages`, `_new_offset`).
  Two faults of that bookkeeping lose or hang a partition (faust-streaming issues 596 and
  606): during a rebalance the fetcher can move a partition's read offset past records
  that were cleared from the agents' buffers; those records are then never delivered,
  never acknowledged, and (a) when the first acknowledged offset lies two or more past
  the committed one, Faust never commits that partition again (the worker looks ready and
  does nothing), or (b) when it lies one past, Faust commits over the record that was
  never processed (lost). `strict_commits` makes Faust commit only from the committed
  offset on (b becomes a), and the guard repairs (a): a partition whose first acknowledged
  offset lies beyond the committed one, with nothing in flight before it, is read again
  from the committed offset (what was processed is de-duplicated by the learner states);
  if the same offsets are still missing after that, they do not exist (a compacted topic)
  and are handed to Faust as a gap. The cause of most such holes at a worker's start (the
  stream partitions fetching before their seek) is removed by `stream.worker.faust_resume`;
  the guard stays for any other.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from faust.streams import _current_event
from faust.transport import consumer as faust_consumer
from faust.types import TP

from stream.errors import TierwatchError

log = structlog.get_logger("tierwatch.faust")

# the consumer attributes used here, checked at start-up by `check_internals`
_CONSUMER_ATTRIBUTES = (
    "_committed_offset",
    "_read_offset",
    "_acked",
    "_acked_index",
    "_gap",
    "_unacked_messages",
    "_new_offset",
)


class FaustInternalsChanged(TierwatchError, RuntimeError):
    """A Faust internal tierwatch relies on is missing: pin Faust, or update this module."""


def check_internals(app: Any) -> None:
    """Fail loudly when the installed Faust lacks an internal this module uses."""
    missing = [name for name in _CONSUMER_ATTRIBUTES if not hasattr(app.consumer, name)]
    if not hasattr(app.producer, "buffer") or not hasattr(app.producer.buffer, "max_messages"):
        missing.append("producer.buffer.max_messages")
    for name in ("_tp_index", "acks_enabled_for"):
        if not hasattr(getattr(app, "topics", None), name):
            missing.append(f"topics.{name}")
    if not hasattr(faust_consumer.Consumer, "_new_offset"):
        missing.append("Consumer._new_offset")
    if not hasattr(getattr(app, "flow_control", None), "is_active"):
        missing.append("flow_control.is_active")
    if not hasattr(getattr(app.consumer, "_thread", None), "_ensure_consumer"):
        missing.append("consumer._thread._ensure_consumer")
    if missing:
        raise FaustInternalsChanged(
            f"faust-streaming lacks {', '.join(missing)}: stream/worker/faust_compat.py "
            "must be updated for this release"
        )


@contextmanager
def acting_for(event: Any) -> Iterator[None]:
    """Table reads and writes on behalf of `event`, outside Faust's own iteration (a
    batch): Faust picks the changelog partition, and RocksDB the partition's database,
    from the current event."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def committed_offset(app: Any, topic: str, partition: int) -> int:
    """The offset this worker's group had committed for a partition when it took it over
    (or since): everything before it was processed, by this worker or an earlier one."""
    offsets: Mapping[TP, int | None] = getattr(app.consumer, "_committed_offset", None) or {}
    return int(offsets.get(TP(topic, partition)) or 0)


def read_offset(app: Any, tp: TP) -> int | None:
    """The offset of the last record the consumer read from a partition (None: none yet)."""
    offsets: Mapping[TP, int | None] = getattr(app.consumer, "_read_offset", None) or {}
    return offsets.get(tp)


def abandon(app: Any, event: Any) -> None:
    """Leave an event unacknowledged without making a stopping worker wait for it (Faust
    waits for every tracked event): it is not committed, so it is processed after the
    restart."""
    app.consumer._unacked_messages.discard(event.message)


def flow_suspended(app: Any) -> bool:
    """Whether Faust holds the flow of records: a rebalance has begun (the agents' buffers
    are cleared, and Faust waits for every record in flight before it goes on)."""
    return not app.flow_control.is_active()


def set_producer_buffer(app: Any, messages: int) -> None:
    """Let Faust's producer buffer `messages` before a stream waits for it (Faust's own
    limit is a constant 100; a batch writes hundreds of states at once)."""
    app.producer.buffer.max_messages = messages


def member_id(app: Any) -> str | None:
    """The app's current member id in its consumer group (None: not joined yet)."""
    thread = getattr(app.consumer, "_thread", None)
    consumer = getattr(thread, "_consumer", None)
    coordinator = getattr(consumer, "_coordinator", None)
    member = getattr(coordinator, "member_id", None)
    return member if isinstance(member, str) and member else None


def use_consumer_class(aiokafka_namespace: Any) -> None:
    """Make Faust's aiokafka driver build its consumers from `aiokafka_namespace` (a
    stand-in for the aiokafka module whose `AIOKafkaConsumer` is replaced)."""
    from faust.transport.drivers import aiokafka as faust_driver

    setattr(faust_driver, "aiokafka", aiokafka_namespace)  # noqa: B010  # not exported


Cap = Callable[[TP], int | None]


def committable(consumer: Any, tp: TP, cap: Cap | None = None) -> int | None:
    """The offset to commit for a partition (None: nothing new), as Faust's `_new_offset`
    but strict: only the run of acknowledged offsets (and known gaps) that starts at the
    committed offset counts, and never beyond `cap(tp)` (what the agent says it has
    stored: Faust also acknowledges records it skipped without processing them). What is
    committed leaves Faust's acknowledged list; what lies before the committed offset (a
    previous generation's) is dropped."""
    acked: list[int] = consumer._acked.get(tp) or []
    if not acked:
        return None
    committed, end, offsets, covered = _run(consumer, tp, cap)
    if covered:
        consumer._gap[tp].chop(0, max(interval.end for interval in covered))
    stale = {offset for offset in offsets if offset < committed}
    done = {offset for offset in offsets if committed <= offset < end}
    acked[:] = sorted(offsets - done - stale)
    consumer._acked_index[tp].difference_update(stale | done)
    return end if end > committed else None


def _run(consumer: Any, tp: TP, cap: Cap | None) -> tuple[int, int, set[int], list[Any]]:
    """(committed, end of the committable run, acknowledged offsets with the known gaps
    among them, those gaps), changing nothing."""
    committed = consumer._committed_offset.get(tp) or 0
    offsets = set(consumer._acked.get(tp) or ())
    gaps = consumer._gap.get(tp)
    covered = list(gaps.overlap(0, max(offsets) + 1)) if gaps and offsets else []
    for interval in covered:
        offsets.update(range(interval.begin, interval.end))
    end = committed
    while end in offsets:
        end += 1
    limit = cap(tp) if cap is not None else None
    if limit is not None:
        end = min(end, max(limit, committed))
    return committed, end, offsets, covered


def strict_commits(app: Any, cap: Cap | None = None) -> None:
    """Make the app's consumer commit by `committable` (faust-streaming 596/606)."""
    consumer = app.consumer

    def new_offset(tp: TP) -> int | None:
        return committable(consumer, tp, cap)

    consumer._new_offset = new_offset


@dataclass
class _Stall:
    committed: int
    head: int | None
    since: float
    reread: bool = False


def recovered(app: Any) -> bool:
    """Whether the tables' recovery has finished (until then the inputs are paused)."""
    recovery = getattr(app.tables, "recovery", None)
    return recovery is None or recovery.completed.is_set()


def queued(app: Any, tp: TP) -> bool:
    """Whether records of a partition wait in an agent's buffer (read, not yet taken)."""
    channels = getattr(app.topics, "_tp_index", {}).get(tp, ())
    return any(not channel.queue.empty() for channel in channels if hasattr(channel, "queue"))


def in_flight_offsets(app: Any) -> dict[TP, int]:
    """The highest offset of each partition among the records being processed (taken by an
    agent, not acknowledged yet)."""
    highest: dict[TP, int] = {}
    for message in list(app.consumer._unacked_messages):
        if message.offset > highest.get(message.tp, -1):
            highest[message.tp] = message.offset
    return highest


@dataclass
class CommitGuard:
    """Finds partitions whose commits are stuck behind records never delivered, and reads
    them again (or, when they do not exist, marks them as a gap). `check` runs on a timer.

    A partition is stuck when it holds records past its committed offset (its high
    watermark), nothing more can be committed, and none of its records is in flight (being
    processed, or waiting in an agent's buffer), for `stall_s`. That covers the record
    never delivered while later ones were acknowledged, and the last record of a partition
    read and then cleared at a rebalance, which nothing after it would ever reveal."""

    stall_s: float = 5.0
    cap: Cap | None = None  # as given to `strict_commits`
    stalls: dict[TP, _Stall] = field(default_factory=dict)
    repaired: int = 0

    def stuck(
        self, app: Any, tp: TP, in_flight: Mapping[TP, int] | None = None
    ) -> tuple[int, int | None] | None:
        """(committed, first acknowledged at or after it, if any) of a stuck partition;
        None when it is not stuck. `in_flight`: the highest offset being processed per
        partition (`in_flight(app)`; computed here when not given)."""
        consumer = app.consumer
        committed, end, offsets, _ = _run(consumer, tp, self.cap)
        if end > committed:
            return None  # it can commit
        high = consumer.highwater(tp)
        if high is None or high <= committed:
            return None  # nothing to process
        highest = (in_flight if in_flight is not None else in_flight_offsets(app)).get(tp)
        if highest is not None and highest >= committed:
            return None  # being processed: it will be acknowledged
        if queued(app, tp):
            return None  # waiting in an agent's buffer
        ahead = [offset for offset in offsets if offset >= committed]
        return committed, min(ahead) if ahead else None

    async def check(self, app: Any, now: float | None = None) -> list[tuple[TP, str]]:
        """Repair what has been stuck longer than `stall_s`; return the partitions repaired
        and how (`reread` or `gap`)."""
        if app.rebalancing or app.should_stop or not recovered(app):
            self.stalls.clear()
            return []
        now = time.monotonic() if now is None else now
        consumer = app.consumer
        repaired: list[tuple[TP, str]] = []
        assigned = set(consumer.assignment())
        processing = in_flight_offsets(app)  # once a check, not once a partition
        for tp in list(self.stalls):
            if tp not in assigned:
                del self.stalls[tp]
        for tp in assigned:
            if not app.topics.acks_enabled_for(tp.topic):
                continue  # a changelog: read by the table recovery, never committed
            found = self.stuck(app, tp, processing)
            if found is None:
                self.stalls.pop(tp, None)
                continue
            committed, head = found
            stall = self.stalls.get(tp)
            if stall is None or stall.committed != committed:
                self.stalls[tp] = _Stall(committed, head, now)
                continue
            if stall.head != head:  # acknowledged records came: wait again
                stall.head, stall.since = head, now
                continue
            if now - stall.since < self.stall_s:
                continue
            self.repaired += 1
            if stall.reread and head is not None and head > committed:
                # read again, and still nothing before `head`: those offsets do not exist
                log.warning(
                    "commit_gap_skipped", topic=tp.topic, partition=tp.partition,
                    committed=committed, first_acked=head,
                )  # fmt: skip
                consumer._gap[tp].addi(committed, head)
                del self.stalls[tp]
                repaired.append((tp, "gap"))
                continue
            level = log.error if stall.reread else log.warning
            level(
                "commit_stuck_reread", topic=tp.topic, partition=tp.partition,
                committed=committed, first_acked=head, again=stall.reread,
            )  # fmt: skip
            await consumer.seek(tp, committed)
            stall.reread, stall.since = True, now
            repaired.append((tp, "reread"))
        return repaired
