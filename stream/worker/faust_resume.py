"""Stream partitions start fetching only after they were sought to their committed offsets.

faust-streaming 0.15.3 ends a rebalance's recovery (`Recovery.on_recovery_completed`, and
`_resume_streams` alike) by resuming the stream partitions, then seeking them to their
committed offsets, then resuming the flow, which clears every agent's buffer. The fetcher
already runs (it read the changelogs), so records of a partition fetched between the
resume and the end of the seek are dropped by the consumer's read offset or cleared from
an agent's buffer, while the fetch position has already moved past them: they are never
delivered. Later records of the partition are, out of order, and its commit is stuck until
`CommitGuard` reads it again (`stream.worker.faust_compat`). Seen in the chaos suite after
kill -9: a fall read after the next fall to tier 0 (12 messages lost), and ticks closing
weeks whose events were not committed (late events counted twice).

`hold_until_sought` restores the order seek, clear, resume (as faust-streaming PR 217 did
once): while a rebalance is on, stream partitions to resume are held paused; when the flow
resumes after the seek (the buffers are empty by then), they are resumed. A seek not done
by then is done first. Partitions held while no rebalance is on are released by `check`
(logged): the worker never stays paused. Changelog partitions are left alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from faust.types import TP

from stream.worker.faust_compat import FaustInternalsChanged

log = structlog.get_logger("tierwatch.faust")
HELD_TOO_LONG_S = 10.0  # held with no rebalance on for this long: released anyway


@dataclass
class HeldPartitions:
    """The stream partitions held paused until the rebalance's seek is done."""

    app: Any
    held: set[TP] = field(default_factory=set)
    generation: int | None = None
    sought: bool = False
    since: float | None = None  # when the held partitions were last seen with no rebalance
    _resume: Any = None
    _seek: Any = None
    _resume_flow: Any = None
    _task: asyncio.Future[None] | None = None  # a seek begun when the flow resumed unsought

    def install(self) -> None:
        consumer = self.app.consumer
        self._resume = consumer.resume_partitions
        self._seek = consumer.perform_seek
        self._resume_flow = consumer.resume_flow
        consumer.resume_partitions = self.resume_partitions
        consumer.perform_seek = self.perform_seek
        consumer.resume_flow = self.resume_flow

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        tps = set(tps)
        consumer = self.app.consumer
        stream = {tp for tp in tps if not consumer._is_changelog_tp(tp)}
        if stream and self.app.rebalancing:
            self.held |= stream
            self.generation, self.sought = self.app.consumer_generation_id, False
            tps -= stream
        self._resume(tps)

    async def perform_seek(self) -> None:
        await self._seek()
        if self.held and self.generation == self.app.consumer_generation_id:
            self.sought = True

    def resume_flow(self) -> None:
        """Faust resumes the flow right after clearing the agents' buffers (nothing is
        awaited in between): the held partitions can fetch from their sought offsets."""
        self._resume_flow()
        if not self.held:
            return
        if self.generation != self.app.consumer_generation_id:
            self._drop()  # a newer rebalance: it holds them again
        elif self.sought:
            self.release()
        else:
            self._task = asyncio.ensure_future(self._seek_then_release(self.generation))

    def release(self, why: str | None = None) -> None:
        tps = self.held & set(self.app.consumer.assignment())
        if why is not None:
            log.warning("stream_partitions_released", why=why, partitions=len(tps))
        self._drop()
        self._resume(tps)

    def check(self, now: float | None = None) -> bool:
        """Release what is held with no rebalance on for `HELD_TOO_LONG_S`; whether it
        did (runs on a timer)."""
        if not self.held or self.app.rebalancing:
            self.since = None
            return False
        now = time.monotonic() if now is None else now
        if self.since is None:
            self.since = now
            return False
        if now - self.since < HELD_TOO_LONG_S:
            return False
        self.release("held with no rebalance on")
        return True

    async def _seek_then_release(self, generation: int | None) -> None:
        await self._seek()
        if self.generation == generation == self.app.consumer_generation_id:
            self.release()

    def _drop(self) -> None:
        self.held, self.generation, self.sought, self.since = set(), None, False, None


INTERNALS = ("resume_partitions", "perform_seek", "resume_flow", "_is_changelog_tp")


def hold_until_sought(app: Any) -> HeldPartitions:
    """Install the hold on the app's consumer (see the module)."""
    missing = [name for name in INTERNALS if not hasattr(app.consumer, name)]
    if not hasattr(app, "consumer_generation_id"):
        missing.append("app.consumer_generation_id")
    if missing:
        raise FaustInternalsChanged(
            f"faust-streaming lacks {', '.join(missing)}: stream/worker/faust_resume.py "
            "must be updated for this release"
        )
    held = HeldPartitions(app)
    held.install()
    return held
