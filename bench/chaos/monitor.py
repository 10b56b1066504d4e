"""Watches a run's consumer group: its committed offsets every 50 ms.

From them it tells the driving loop when a tick was applied (its clock offset committed),
measures time to resume (a restart to the group's next commit on the clock topic), and
finds hangs: input pending (the driver sent past what is committed) and no committed
progress for `hang_s` while a worker is alive. A hang is counted, not fatal: every live
worker is killed and started again, and the run goes on. A worker that died by itself (a
fault kill) is started again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from bench.chaos.fleet import Fleet
from stream.topics import Topics

POLL_S = 0.05


@dataclass
class MonitorStats:
    hangs: int = 0
    resumes: list[float] = field(default_factory=list)  # seconds, restart to clock commit
    never_resumed: int = 0  # restarts with no clock commit before the next restart or end
    hang_notes: list[str] = field(default_factory=list)


class Monitor:
    """The group's committed offsets, progress, hangs and resumes of one run."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topics: Topics,
        partitions: int,
        fleet: Fleet,
        ends: dict[tuple[str, int], int],
        hang_s: float = 60.0,
        label: str = "",
    ) -> None:
        self.group = group
        self.topics = topics
        self.fleet = fleet
        self.ends = ends  # the driver's: next offset sent per (topic, partition)
        self.hang_s = hang_s
        self.label = label
        names = (*topics.inputs, topics.clock)
        self.partitions = [TopicPartition(t, p) for t in names for p in range(partitions)]
        self.committed: dict[tuple[str, int], int] = {}
        self.last_progress = time.monotonic()
        self.held_until = 0.0
        self.stats = MonitorStats()
        self._resume: tuple[float, int] | None = None  # (restart time, clock sum then)
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Monitor:
        await self._admin.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._resume is not None:
            self.stats.never_resumed += 1
        await self._admin.close()

    def started(self, name: str, restart: bool) -> None:
        """A worker started (the fleet's hook): resume is timed from a restart."""
        if restart:
            self.expect_resume()

    def expect_resume(self) -> None:
        """Time the group from now to its next commit on the clock topic."""
        if self._resume is not None:
            self.stats.never_resumed += 1  # disrupted again before the group committed
        self._resume = (time.monotonic(), self._clock_sum())

    def hold(self, seconds: float) -> None:
        """No hang is counted for the next `seconds` (the broker is paused on purpose)."""
        self.held_until = time.monotonic() + seconds

    def _clock_sum(self) -> int:
        clock = self.topics.clock
        return sum(v for (t, _), v in self.committed.items() if t == clock)

    def pending(self) -> bool:
        """Whether the driver sent input the group has not committed."""
        return any(self.committed.get(tp, 0) < end for tp, end in self.ends.items())

    async def _fetch(self) -> dict[tuple[str, int], int]:
        answer = await self._admin.list_consumer_group_offsets(
            self.group, partitions=self.partitions
        )
        return {(tp.topic, tp.partition): meta.offset for tp, meta in answer.items() if meta}

    async def _run(self) -> None:
        while True:
            try:
                seen = await self._fetch()
            except Exception as exc:  # the broker paused or busy: try again
                print(f"  [{self.label}] offsets not read: {exc!r}", file=sys.stderr)
                await asyncio.sleep(0.5)
                continue
            now = time.monotonic()
            if seen != self.committed:
                self.committed = seen
                self.last_progress = now
                self._changed.set()
                if self._resume is not None and self._clock_sum() > self._resume[1]:
                    self.stats.resumes.append(now - self._resume[0])
                    self._resume = None
            for name in self.fleet.revive():
                print(f"  [{self.label}] {name} died by itself: restarted", file=sys.stderr)
            await self._check_hang(now)
            await asyncio.sleep(POLL_S)

    async def _check_hang(self, now: float) -> None:
        if not self.fleet.any_alive() or not self.pending():
            return
        quiet_since = max(self.last_progress, self.fleet.last_start(), self.held_until)
        if now - quiet_since < self.hang_s:
            return
        self.stats.hangs += 1
        lag = {
            f"{t.rsplit('.', 1)[-1]}/{p}": f"{self.committed.get((t, p), 0)}<{end}"
            for (t, p), end in sorted(self.ends.items())
            if self.committed.get((t, p), 0) < end
        }
        note = f"no commit for {now - quiet_since:.0f} s, committed<sent: {lag}"
        tag = f"hang{self.stats.hangs}"
        for name in self.fleet.alive():
            note += f"; {await self.fleet.evidence(name, tag)}"
        self.stats.hang_notes.append(note)
        print(f"  [{self.label}] HANG: {note}; restarting", file=sys.stderr)
        for name in self.fleet.alive():
            await self.fleet.kill(name, counted=False)
            self.fleet.start(name)
        self.last_progress = time.monotonic()

    async def applied(
        self, ends: dict[tuple[str, int], int], deadline: float, fail_fast: bool = False
    ) -> bool:
        """Wait until the group committed the clock topic up to `ends` (a tick applied);
        False when the monotonic `deadline` passes first (or, `fail_fast`, at a hang)."""
        clock = self.topics.clock
        wanted = {tp: end for tp, end in ends.items() if tp[0] == clock}
        while True:
            if all(self.committed.get(tp, 0) >= end for tp, end in wanted.items()):
                return True
            left = deadline - time.monotonic()
            if left <= 0 or (fail_fast and self.stats.hangs):
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 1.0))
