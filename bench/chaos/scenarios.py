"""What each run does to its workers, tick by tick (after a tick was applied).

- `KillLoop`: SIGKILL the worker at random moments (a random tick, then 0-500 ms into the
  next day's records) and start it again; on some runs, each start but a revival also has
  `TIERWATCH_FAULT_KILL_AFTER_STORE`, so the worker may kill itself between storing a
  batch's states and committing its offsets (the monitor starts it again, without).
- `Scale`: one worker, a second one of the same group a third of the way in, the second
  stopped (SIGTERM, timed) at two thirds: 1 -> 2 -> 1.
- `Rolling`: two workers; four times, one of them (in turn) is stopped with SIGTERM
  (timed) and started again once it exited, while the stream goes on.
- `Poison`: one worker, no faults; the severe poison records (far-future and far-past
  times, a 5 MB event) besides the malformed ones every run gets.
- `Pause`: one worker; the broker SIGSTOPped for 30 s (and, another run, 5 min) halfway,
  with ingest on (`bench.chaos.ingesting`): a client posts to a `tierwatch ingest` process
  throughout, and every event it acknowledged must reach its topic.
- `ReceiverDown`: one worker with dispatch on (`bench.chaos.dispatching`); the receiver of
  its webhook, chat and e-mail deliveries taken down (SIGTERM: connections refused) a
  third of the way in, for 60 s (and, another run, 10 min; 15 s in the short suite, with
  fewer learners), then started again on the same ports; after the stream the run waits
  for every expected delivery to be delivered or dead-lettered.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from bench.chaos.dispatching import ReceiverProcess
from bench.chaos.fleet import Fleet
from bench.chaos.monitor import Monitor


@dataclass
class Context:
    """What a scenario acts on during a run."""

    fleet: Fleet
    rng: random.Random
    ticks: int
    monitor: Monitor
    broker_pid: int
    receiver: ReceiverProcess | None = None  # with dispatch on
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a disruption beside the stream (the driver does not wait for it)."""
        self.tasks.append(asyncio.create_task(work))

    def busy(self) -> bool:
        return any(not t.done() for t in self.tasks)


class Scenario:
    """A run's plan: its name, workers at the start, fault chance, whether the workers
    dispatch (to a receiver of the run), and what to do when."""

    name = "plain"
    workers: tuple[str, ...] = ("w1",)
    fault = 0.0
    severe_poison = False
    dispatch = False
    ingest = False  # an ingest process and a client posting to it beside the stream
    learners: int | None = None  # the suite's number unless set

    def describe(self) -> str:
        return self.name

    def plan(self, ctx: Context) -> None:
        """Decide, with the run's RNG, when to act."""

    async def on_tick(self, ctx: Context, n: int) -> None:
        """Tick number `n` (from 1) was applied."""


class KillLoop(Scenario):
    def __init__(self, kills: int, fault: float) -> None:
        self.kills = kills
        self.fault = fault
        self.name = "kill -9" + (f" + fault {fault:g}" if fault else "")
        self.at: list[int] = []

    def describe(self) -> str:
        return f"{self.name}, {self.kills} kills"

    def plan(self, ctx: Context) -> None:
        first, last = 7, max(8, ctx.ticks - 3)  # after the first week, before the end
        self.at = sorted(ctx.rng.sample(range(first, last), min(self.kills, last - first)))

    async def on_tick(self, ctx: Context, n: int) -> None:
        if n in self.at:
            delay = ctx.rng.uniform(0.0, 0.5)
            ctx.spawn(self._kill(ctx, delay))

    async def _kill(self, ctx: Context, delay: float) -> None:
        await asyncio.sleep(delay)
        await ctx.fleet.kill("w1")
        ctx.fleet.start("w1", armed=True)


class Scale(Scenario):
    name = "scale 1->2->1"

    def plan(self, ctx: Context) -> None:
        self.up, self.down = ctx.ticks // 3, 2 * ctx.ticks // 3

    async def on_tick(self, ctx: Context, n: int) -> None:
        if n == self.up:
            ctx.fleet.start("w2")
        elif n == self.down:
            ctx.spawn(self._down(ctx))

    async def _down(self, ctx: Context) -> None:
        await ctx.fleet.terminate("w2")


class Rolling(Scenario):
    name = "rolling SIGTERM"
    workers = ("w1", "w2")

    def __init__(self, restarts: int = 4) -> None:
        self.restarts = restarts

    def plan(self, ctx: Context) -> None:
        step = ctx.ticks // (self.restarts + 1)
        self.at = {step * (k + 1): ("w1", "w2")[k % 2] for k in range(self.restarts)}

    async def on_tick(self, ctx: Context, n: int) -> None:
        name = self.at.get(n)
        if name is not None:
            ctx.spawn(self._restart(ctx, name))

    async def _restart(self, ctx: Context, name: str) -> None:
        await ctx.fleet.terminate(name)
        ctx.fleet.start(name)


class Pause(Scenario):
    """The broker SIGSTOPped for `seconds` halfway through, then SIGCONTed (no hang is
    counted meanwhile; resume is timed from the SIGCONT)."""

    ingest = True

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.name = f"broker SIGSTOP {seconds:g} s"

    def plan(self, ctx: Context) -> None:
        self.at = ctx.ticks // 2

    async def on_tick(self, ctx: Context, n: int) -> None:
        if n == self.at:
            ctx.spawn(self._pause(ctx))

    async def _pause(self, ctx: Context) -> None:
        await asyncio.sleep(ctx.rng.uniform(0.0, 0.5))
        ctx.monitor.hold(self.seconds)
        os.kill(ctx.broker_pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            os.kill(ctx.broker_pid, signal.SIGCONT)
        ctx.monitor.expect_resume()


class Poison(Scenario):
    name = "poison"
    severe_poison = True


class ReceiverDown(Scenario):
    """The receiver down for `seconds` a third of the way in (SIGTERM: it finishes the
    requests it is answering, then connections are refused), then up again."""

    dispatch = True

    def __init__(self, seconds: float, learners: int | None = None, label: str = "") -> None:
        self.seconds = seconds
        self.learners = learners
        span = f"{seconds / 60:g} min" if seconds >= 120 else f"{seconds:g} s"
        self.name = f"receiver down {span}" + (f" ({label})" if label else "")

    def plan(self, ctx: Context) -> None:
        self.at = max(1, ctx.ticks // 3)

    async def on_tick(self, ctx: Context, n: int) -> None:
        if n == self.at:
            ctx.spawn(self._outage(ctx))

    async def _outage(self, ctx: Context) -> None:
        if ctx.receiver is None:
            raise RuntimeError("a receiver outage needs a run with dispatch on")
        await asyncio.sleep(ctx.rng.uniform(0.0, 0.5))
        await ctx.receiver.stop()
        await asyncio.sleep(self.seconds)
        await ctx.receiver.start()


def suite(kill_runs: int, kills: int, fault: float, short: bool) -> list[Scenario]:
    """The runs of the suite: kill loops (every second one with the fault kill), scale, a
    receiver outage, and in the full suite rolling restarts, poison, broker pauses and a
    second, longer receiver outage (the short suite's outage is 15 s, with 24 learners)."""
    runs: list[Scenario] = [KillLoop(kills, fault if n % 2 == 1 else 0.0) for n in range(kill_runs)]
    runs.append(Scale())
    if short:
        runs.append(ReceiverDown(15.0, learners=24, label="short"))
    else:
        runs += [Rolling(), Poison(), Pause(30.0), Pause(300.0)]
        runs += [ReceiverDown(60.0), ReceiverDown(600.0)]
    return runs
