"""One chaos run: a fresh embedded broker, the workers of a scenario, the history driven
in simulated time, then what was streamed compared with replay.

The driving loop is `stream.sim.driver.Driver.play`'s, except that a tick that is not applied
does not end the run: the monitor counts a hang and restarts the workers, and the loop
keeps waiting until the run's time cap.

With dispatch on (`Scenario.dispatch`), the run has a receiver process too
(`bench.chaos.dispatching`); after the stream and the scenario's disruptions it waits until
every expected delivery was delivered or dead-lettered (at most `SETTLE_CAP_S`; not at all
when the stream was cut short), stops the workers, and compares the deliveries too
(`bench.chaos.deliveries`): what is still missing then is lost.

With ingest on (`Scenario.ingest`), a `tierwatch ingest` process and a client posting to it
run beside the stream, on topics the workers do not read (`bench.chaos.ingesting`); every
event ingest acknowledged must be on its topic at the end.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from bench.chaos.check import (
    Outcome,
    compare_states,
    compare_transitions,
    dead_lettered,
    read_all,
)
from bench.chaos.deliveries import (
    DeliveryOutcome,
    Expected,
    compare,
    dead_letters,
    held_up,
    read_journal,
)
from bench.chaos.deliveries import expected as expected_deliveries
from bench.chaos.dispatching import ReceiverProcess
from bench.chaos.fleet import Fleet, FleetStats
from bench.chaos.history import History
from bench.chaos.ingesting import Client, IngestOutcome, IngestProcess
from bench.chaos.ingesting import compare as compare_ingest
from bench.chaos.monitor import Monitor, MonitorStats
from bench.chaos.scenarios import Context, Scenario
from schemas.clock import Tick
from stream.broker import embedded_broker
from stream.core.policy import Policy
from stream.core.timeline import schedule
from stream.settings import Settings
from stream.sim.demo import worker_env
from stream.sim.driver import Driver
from stream.topics import Topics, create_topics

PARTITIONS = 4
BARRIER_LINE = b"tick_barrier_timeout"
LETTER_LINE = b"dispatch.dead_letter"  # the worker's log line for each dispatch dead letter
# the driver's sends outlast the longest broker pause (5 min): a send in flight when the
# broker was stopped failed after aiokafka's 40 s and ended the run (the suite's own error)
DRIVER_TIMEOUT_S = 600.0
SETTLE_CAP_S = 180.0  # after the stream and the outage: 3 times the longest retry round


@dataclass
class RunResult:
    """Everything measured in one run."""

    label: str
    scenario: str
    learners: int
    ticks: int
    applied: int = 0  # ticks applied
    seconds: float = 0.0
    capped: bool = False  # the run hit its time cap
    aborted: bool = False  # ended at its first hang (--fail-fast): later ticks never sent
    outcome: Outcome = field(default_factory=Outcome)
    fleet: FleetStats = field(default_factory=FleetStats)
    monitor: MonitorStats = field(default_factory=MonitorStats)
    fault_kills: int = 0
    barrier_timeouts: int = 0
    reread: tuple[int, int] = (0, 0)  # duplicate and late_event notices in the workers' logs
    poison_sent: int = 0
    poison_refused: list[str] = field(default_factory=list)  # by the broker
    poison_dead_lettered: int = 0
    deliveries: DeliveryOutcome | None = None  # with dispatch on
    retried: int = 0  # delivery attempts that failed and were to be tried again
    held: int = 0  # messages (transition, channel) such an attempt held up
    outages: list[tuple[float, float]] = field(default_factory=list)  # receiver, wall clock
    settle_s: float = 0.0  # waiting for the deliveries after the stream and the outage
    ingest: IngestOutcome | None = None  # with ingest on
    logs: str = ""
    error: str = ""  # the run itself failed (the suite's own error): no comparison


class Run:
    def __init__(
        self, label: str, scenario: Scenario, history: History, policy: Policy,
        directory: Path, seed: int, cap_s: float, hang_s: float, fail_fast: bool = False,
    ) -> None:  # fmt: skip
        self.label = label
        self.scenario = scenario
        self.history = history
        self.policy = policy
        self.directory = directory
        self.rng = random.Random(seed)
        self.cap_s = cap_s
        self.hang_s = hang_s
        self.fail_fast = fail_fast  # end the run at its first hang (the test: it failed)
        self.result = RunResult(label, scenario.describe(), history.learners, len(history.ticks))
        self.poison_at: list[tuple[str, int, int]] = []
        self.fleet: Fleet | None = None
        self.receiver: ReceiverProcess | None = None
        self.ingest: IngestProcess | None = None
        self.want = Expected()
        self.settings = Settings()

    def say(self, text: str) -> None:
        print(f"  [{self.label}] {text}", file=sys.stderr, flush=True)

    async def execute(self) -> RunResult:
        started = time.monotonic()
        if self.directory.exists():  # a run's logs and receiver journal start empty: an
            shutil.rmtree(self.directory)  # earlier run's (same seed, same ids) would count
        self.directory.mkdir(parents=True, exist_ok=True)
        self.result.logs = str(self.directory)
        policy_file = self.directory / "policy.json"  # the workers use replay's policy
        policy_file.write_bytes(orjson.dumps(self.policy.model_dump(mode="json")))
        self.settings = Settings(
            topic_prefix="chaos.", partitions=PARTITIONS, policy_file=policy_file
        )
        with embedded_broker() as broker:
            try:
                await self._with_broker(broker.bootstrap, broker.process.pid, started)
            finally:
                if self.fleet is not None:
                    self.fleet.kill_all()  # after an error: no worker outlives its run
                if self.receiver is not None:
                    self.receiver.close()
                if self.ingest is not None:
                    self.ingest.stop()
        self.result.seconds = time.monotonic() - started
        return self.result

    async def _with_broker(self, bootstrap: str, broker_pid: int, started: float) -> None:
        settings = self.settings
        topics = Topics.named(settings.topic_prefix)
        await create_topics(settings, topics, bootstrap)
        app_id = f"chaos-{self.label}"
        env = worker_env(bootstrap, app_id, str(self.directory), settings)
        env["TIERWATCH_LOG_LEVEL"] = "info"  # evidence: assignments, notices, transitions
        receiver = None
        if self.scenario.dispatch:
            receiver = self.receiver = await self._receiver()
            env["TIERWATCH_DISPATCH_FILE"] = str(self.directory / "dispatch.yaml")
        fleet = self.fleet = Fleet(env, self.directory, fault=self.scenario.fault)
        async with Driver(bootstrap, topics, PARTITIONS, DRIVER_TIMEOUT_S) as driver:
            monitor = Monitor(
                bootstrap, app_id, topics, PARTITIONS, fleet, driver.stats.ends,
                self.hang_s, self.label,
            )  # fmt: skip
            fleet.on_start = monitor.started
            ticks = len(self.history.ticks)
            ctx = Context(fleet, self.rng, ticks, monitor, broker_pid, receiver)
            self.scenario.plan(ctx)
            for name in self.scenario.workers:
                fleet.start(name, armed=True)
            client = await self._ingest(bootstrap) if self.scenario.ingest else None
            posting = asyncio.create_task(client.run()) if client is not None else None
            async with monitor:
                await self._drive(driver, monitor, ctx, topics, bootstrap, started)
                await asyncio.gather(*ctx.tasks)
                if client is not None and posting is not None:
                    client.stop()
                    await asyncio.wait_for(posting, 120.0)  # a batch begun, then finished
                    self.result.ingest = await compare_ingest(bootstrap, client)
                cut = self.result.aborted or self.result.capped  # transitions never streamed
                if receiver is not None and not cut:
                    await self._settle(bootstrap, topics, receiver)
                await fleet.stop_all()
        alerts = await read_all(bootstrap, topics.alerts)
        changelog = await read_all(bootstrap, f"{app_id}-learners-changelog")
        letters = await read_all(bootstrap, topics.deadletter, idle_s=1.0)
        self._conclude(fleet, monitor, alerts, changelog, letters)

    async def _ingest(self, bootstrap: str) -> Client:
        """Start the run's ingest process; the client that will post to it."""
        self.ingest = IngestProcess(self.directory, bootstrap)
        await self.ingest.start()
        self.say(f"ingest on: {self.ingest.url}, a client posting beside the stream")
        ingest = self.ingest
        return Client(
            ingest.url, alive=lambda: ingest.proc is not None and ingest.proc.poll() is None
        )

    async def _receiver(self) -> ReceiverProcess:
        """Start the run's receiver, write the workers' dispatch configuration, and plan
        the deliveries replay's transitions call for."""
        receiver = ReceiverProcess(self.directory)
        _, config = receiver.write_config()
        h = self.history
        erased = {lid for lids in h.erasures.values() for lid in lids}
        self.want = expected_deliveries(h.expected, h.records, erased, config, self.policy)
        await receiver.start()
        self.say(
            f"dispatch on: {len(self.want.required)} deliveries expected "
            f"({len(self.want.optional)} more of erased learners may be dropped)"
        )
        return receiver

    async def _settle(self, bootstrap: str, topics: Topics, receiver: ReceiverProcess) -> None:
        """Wait until every expected delivery was delivered or dead-lettered, or the cap."""
        started = time.monotonic()
        said = 0.0
        while True:
            letters = await read_all(bootstrap, topics.deadletter, idle_s=0.5, max_s=20.0)
            got = self._deliveries(receiver, [m.value for m in letters])
            waited = time.monotonic() - started
            if got.lost == 0 or waited > SETTLE_CAP_S:
                break
            if waited - said >= 10.0:
                said = waited
                self.say(
                    f"deliveries: {got.delivered} delivered, {got.dead_lettered} dead-lettered, "
                    f"{got.lost} of {got.expected} expected still pending ({waited:.0f} s)"
                )
            await asyncio.sleep(2.0)
        self.result.settle_s = time.monotonic() - started
        self.say(f"deliveries settled in {self.result.settle_s:.0f} s: {got.lost} pending")

    def _deliveries(self, receiver: ReceiverProcess, letters: list[bytes]) -> DeliveryOutcome:
        kills = self.fleet.stats.killed_at if self.fleet is not None else []
        return compare(self.want, read_journal(receiver.out), dead_letters(letters), kills)

    async def _drive(
        self, driver: Driver, monitor: Monitor, ctx: Context, topics: Topics,
        bootstrap: str, started: float,
    ) -> None:  # fmt: skip
        history, n = self.history, 0
        deadline = started + self.cap_s
        for item in schedule(history.records, self.policy, history.until):
            if not isinstance(item, Tick):
                await driver.send(item)
                continue
            await driver.tick(item.now)
            n += 1
            if not await monitor.applied(driver.stats.ends, deadline, self.fail_fast):
                self.result.capped = not monitor.stats.hangs
                self.result.aborted = bool(monitor.stats.hangs)
                why = "a hang (--fail-fast)" if monitor.stats.hangs else f"{self.cap_s:.0f} s cap"
                self.say(f"{why} at tick {n}: stopping the run")
                return
            self.result.applied = n
            for learner in history.erasures.get(item.now, []):
                await driver.erase(learner)
            if item.now == history.poison_tick:
                await self._poison(driver, topics, bootstrap)
            await self.scenario.on_tick(ctx, n)
            if n % 7 == 0 or n == len(history.ticks):
                s, m = ctx.fleet.stats, monitor.stats
                self.say(
                    f"tick {n}/{len(history.ticks)} ({item.now:%Y-%m-%d}): kills {s.kills}, "
                    f"self-kills {s.self_kills}, restarts {s.restarts}, hangs {m.hangs}, "
                    f"{time.monotonic() - started:.0f} s"
                )
        await driver.settle()

    async def _poison(self, driver: Driver, topics: Topics, bootstrap: str) -> None:
        """Send the poison records straight to the input topics; the next tick's barrier
        includes them (so they are processed before it)."""
        logical = ("events", "profiles", "assignments", "interventions")
        names = dict(zip(logical, topics.inputs, strict=True))
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", max_request_size=16 << 20
        )
        await producer.start()
        try:
            for poison in self.history.poison:
                topic = names[poison.topic]
                try:
                    meta = await producer.send_and_wait(topic, poison.value, poison.key)
                except Exception as exc:
                    self.result.poison_refused.append(f"{poison.name}: {type(exc).__name__}")
                    continue
                self.result.poison_sent += 1
                self.poison_at.append((meta.topic, meta.partition, meta.offset))
                key = (meta.topic, meta.partition)
                driver.stats.ends[key] = max(driver.stats.ends.get(key, 0), meta.offset + 1)
        finally:
            await producer.stop()

    def _conclude(
        self,
        fleet: Fleet,
        monitor: Monitor,
        alerts: list[Any],
        changelog: list[Any],
        letters: list[Any],
    ) -> None:
        result, outcome = self.result, Outcome()
        compare_transitions(self.history.expected, [m.value for m in alerts], outcome)
        compare_states(self.history.states, [(m.key, m.value) for m in changelog], outcome)
        result.outcome = outcome
        result.fleet = fleet.stats
        result.monitor = monitor.stats
        result.fault_kills = fleet.fault_kills()
        result.barrier_timeouts = fleet.grep(BARRIER_LINE)
        result.reread = (fleet.grep(b"] duplicate "), fleet.grep(b"] late_event "))
        result.poison_dead_lettered = dead_lettered([m.value for m in letters], self.poison_at)
        if self.receiver is not None:
            d = result.deliveries = self._deliveries(self.receiver, [m.value for m in letters])
            result.retried, held = held_up(fleet.log(name) for name in fleet.procs)
            result.held = len(held)
            result.outages = list(self.receiver.downs)
            self.say(
                f"deliveries: {d.expected} expected, {d.delivered} delivered (and "
                f"{d.optional_delivered} of {d.optional} of erased learners), "
                f"{d.dead_lettered} dead-lettered {dict(d.reasons)}, lost {d.lost}, duplicated "
                f"{d.duplicated}, spurious {d.spurious}, resent {d.resent}; {result.retried} "
                f"attempts to retry, holding up {result.held} messages"
            )
            logged = fleet.grep(LETTER_LINE)
            if logged != d.dead_lettered:
                d.details.append(
                    f"{d.dead_lettered} dispatch dead letters, {logged} {LETTER_LINE.decode()} "
                    "lines in the workers' logs"
                )
            for line in d.details[:12]:
                self.say("  " + line)
        if result.ingest is not None:
            i = result.ingest
            self.say(
                f"ingest: {i.acked} events acknowledged, lost {i.lost}, resent {i.resent}; "
                f"{i.posted} requests, {i.unavailable} answered 503 (Retry-After "
                f"{sorted(i.retry_after) or '-'}, {i.no_retry_after} without), {i.errors} "
                f"unanswered, longest batch {i.longest_s:.1f} s"
            )
            for line in i.details[:6]:
                self.say("  " + line)
        self.say(
            f"done: {outcome.streamed} transitions streamed, lost {outcome.lost}, "
            f"duplicated {outcome.duplicated}, spurious {outcome.spurious}, state mismatches "
            f"{outcome.state_mismatches}, hangs {monitor.stats.hangs}"
        )
        for line in outcome.details[:12]:
            self.say("  " + line)
