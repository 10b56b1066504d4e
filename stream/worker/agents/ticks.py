"""Clock ticks: a leader timer (wall-clock mode) and the agent that evaluates a partition."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from stream import codec
from stream.core.state import LearnerState
from stream.errors import InvalidRecord
from stream.topics import partition_of
from stream.worker.faust_compat import abandon, committed_offset, flow_suspended
from stream.worker.pipeline import Pipeline

log = structlog.get_logger("tierwatch.clock")
REBALANCE_POLL_S = 0.1  # how often a waiting tick looks whether a rebalance has begun
INPUTS_RECHECK_S = 0.25  # how often a tick waiting for its inputs' commit tries again


class TickAgent:
    """The clock agent of one worker: each tick is applied to its partition once the
    partition's records it names (its barrier) are processed and committed, or left to the
    partition's next owner when the app stops or a rebalance begins first. In wall-clock
    mode the leader also sends the ticks (`leader_tick`)."""

    def __init__(self, pipeline: Pipeline, channel: Any) -> None:
        self.pipeline = pipeline
        self.app = pipeline.app
        self.channel = channel  # the clock topic
        self.stopping = asyncio.Event()

    async def clock(self, stream: Any) -> None:
        """The agent. Ticks are acknowledged by hand, once applied: a tick cut short by a
        stop is not acknowledged (Faust acknowledges an event whose processing is
        cancelled), so it comes again."""
        manual = stream.noack()
        async for event in manual.events():
            if await self.apply(event):
                await manual.ack(event)

    async def apply(self, event: Any) -> bool:
        """Apply one tick: True when done with (evaluated, or dead-lettered as invalid),
        False when left for the partition's next owner (not acknowledged)."""
        try:
            tick = codec.decode_tick(event.message.value)
        except InvalidRecord as error:
            await self.pipeline.refuse(event, error)
            return True
        partition = event.message.partition
        ok = await self.barrier_or_stop(partition, tick.barrier)
        if ok is None:
            self.leave(event, partition, tick)
            return False
        if not ok:
            log.warning("tick_barrier_timeout", partition=partition, now=tick.now.isoformat())
        if not await evaluate_when_committed(self.pipeline, partition, tick, self.leaving):
            self.leave(event, partition, tick)
            return False
        return True

    def leave(self, event: Any, partition: int, tick: Any) -> None:
        """Leave a tick for whoever owns its partition next (logged, not acknowledged)."""
        why = "stop" if self.stopping.is_set() else "rebalance"
        log.info("tick_left_for_next_owner", partition=partition, why=why,
                 now=tick.now.isoformat())  # fmt: skip
        abandon(self.app, event)

    async def rebalance_begun(self) -> None:
        while not flow_suspended(self.app):
            await asyncio.sleep(REBALANCE_POLL_S)

    async def barrier_or_stop(self, partition: int, barrier: dict[str, int]) -> bool | None:
        """Wait for a tick's barrier: True reached, False timed out, None the app stops or a
        rebalance begins first. Its records will not come then (the input agent's flow is
        stopped), and the rebalance would wait for the tick: it is left for whoever owns
        the partition after (this worker too: Faust seeks to the committed offsets)."""
        timeout = self.pipeline.settings.tick_barrier_timeout_s
        reached = asyncio.ensure_future(self.pipeline.progress.wait(partition, barrier, timeout))
        stop = asyncio.ensure_future(self.stopping.wait())
        held = asyncio.ensure_future(self.rebalance_begun())
        try:
            await asyncio.wait((reached, stop, held), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            held.cancel()
        if not reached.done():
            reached.cancel()
            return None
        return reached.result()

    async def leaving(self, seconds: float) -> bool:
        """Wait up to `seconds`; True as soon as the app stops or a rebalance begins."""
        deadline = time.monotonic() + seconds
        while not (self.stopping.is_set() or flow_suspended(self.app)):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(min(REBALANCE_POLL_S, seconds))
        return True

    async def stop_waiting(self) -> None:
        """The app stops: a tick waiting for its barrier or its inputs' commit gives up."""
        self.stopping.set()

    async def leader_tick(self) -> None:
        """Send a tick at the wall clock's now to every partition (the leader's timer)."""
        now = dt.datetime.now(dt.UTC)
        for partition in range(self.pipeline.settings.partitions):
            value = codec.encode_tick(now, partition)
            await self.channel.send(
                key=f"tick-{partition}".encode(), value=value, partition=partition
            )


def register(pipeline: Pipeline) -> None:
    """Attach the clock agent and, unless ticks come from outside, the leader timer."""
    app, settings = pipeline.app, pipeline.settings
    channel = app.topic(pipeline.topics.clock, key_serializer="raw", value_serializer="raw")
    ticks = TickAgent(pipeline, channel)
    app.agent(channel, name="clock")(ticks.clock)
    app.before_stop.append(ticks.stop_waiting)
    if settings.clock == "wall":
        app.timer(settings.tick_interval_s, on_leader=True)(ticks.leader_tick)


async def evaluate_when_committed(
    pipeline: Pipeline,
    partition: int,
    tick: Any,
    leaving: Callable[[float], Awaitable[bool]],
) -> bool:
    """Evaluate the partition once every input record processed so far is stored and
    committed; False (nothing evaluated) when the app stops or a rebalance begins first.

    Read again after a crash, an event of a week the tick closed would count as late (the
    chaos suite's kill runs: `late_events` above replay's). A commit can be held back by
    an offset Faust never delivered (`CommitGuard` reads it again after a few seconds) or
    by a commit in flight: the tick waits, with the table open to the learner agent, and
    after `tick_barrier_timeout_s` evaluates anyway (logged: a repeat may count as late)."""
    app, settings = pipeline.app, pipeline.settings
    deadline = time.monotonic() + settings.tick_barrier_timeout_s
    while True:
        async with pipeline.writing:
            if pipeline.intake is not None:  # the table must hold every processed record
                await pipeline.intake.flush()
            await commit_inputs(app)
            behind = uncommitted(pipeline, partition, tick.barrier)
            if not behind or time.monotonic() >= deadline:
                if behind:
                    log.warning("tick_inputs_uncommitted", partition=partition,
                                now=tick.now.isoformat(), behind=behind)  # fmt: skip
                await evaluate_partition(pipeline, partition, tick)
                return True
        if await leaving(INPUTS_RECHECK_S):
            return False


def uncommitted(pipeline: Pipeline, partition: int, barrier: Mapping[str, int]) -> dict[str, int]:
    """The input topics (those of the tick's barrier) of a partition whose processed
    records are not all committed, with how many are not."""
    behind = {}
    for topic in barrier:
        done = pipeline.progress.next_offset(topic, partition)
        committed = committed_offset(pipeline.app, topic, partition)
        if done > committed:
            behind[topic] = done - committed
    return behind


async def commit_inputs(app: Any) -> None:
    """Commit what can be committed (a failure is logged: the tick checks what was)."""
    try:
        await app.consumer.commit()
    except Exception:
        log.exception("commit_before_tick_failed")


async def evaluate_partition(pipeline: Pipeline, partition: int, tick: Any) -> int:
    """Step the learners of a partition the tick may change (`stream.core.wakeups`: those
    whose wake-up has come, and those the index has not seen); return how many were
    stepped. Counts the partition's learners by tier for the `learners_by_tier` gauge, and
    tells the teams agent the partition was evaluated (its managers' digests)."""
    metrics = pipeline.metrics.worker
    started = time.perf_counter()
    n = pipeline.settings.partitions
    keys = [k for k in list(pipeline.table.keys()) if partition_of(k, n) == partition]
    stepped = 0
    for learner_id in pipeline.wakeups.take(tick.now, partition, keys):
        stepped += 1
        try:
            raw = pipeline.table.get(learner_id)
            if raw is not None:
                state = LearnerState.model_validate_json(raw)
                # an unchanged state is not written again, except one never evaluated (a
                # profile alone; the wake-up index brings it back within a week): every state
                # must be rewritten within the changelog's retention, and a week close
                # rewrites (changes) every evaluated one
                unchanged = raw if state.evaluated_week is not None else None
                state = await pipeline.apply(state, tick, unchanged=unchanged)
                pipeline.wakeups.stepped(learner_id, state, tick.now)
        except Exception as exc:  # one learner's failure must not stop the partition's tick
            pipeline.wakeups.forget(learner_id)
            who = pipeline.pseudonym(learner_id)
            log.exception("evaluation_error", learner=who, partition=partition)
            error = InvalidRecord("evaluation_error", f"learner {who}: {exc!r}"[:500])
            await pipeline.dead_letter_tick(partition, learner_id, error)
    pipeline.tiers_by_partition[partition] = pipeline.wakeups.tiers(partition)
    total: Counter[int] = sum(pipeline.tiers_by_partition.values(), Counter())
    for tier in range(4):
        metrics.learners_by_tier.labels(str(tier)).set(total.get(tier, 0))
    metrics.learners_evaluated.inc(stepped)
    metrics.learners_quiet.inc(len(keys) - stepped)
    metrics.tick_seconds.observe(time.perf_counter() - started)
    await pipeline.digest_due(partition, tick.now)  # the managers' weekly digests, if due
    return stepped
