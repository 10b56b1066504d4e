"""The rows that read one pre-filled history through the embedded broker: the plain consumer
(1), Faust's ceiling (2, 3), the `tierwatch worker` (4) with its ticks (6c-e), and two
workers against one (10).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.common import (
    Ends,
    Row,
    bench_env,
    plain_consume,
    prefill,
    profile,
    scrape,
    start,
    tail,
    total,
)
from bench.pure import midnight
from schemas.events import LearningEvent
from stream.broker import stop_process
from stream.core.policy import Policy
from stream.policyfile import load_policy
from stream.settings import Settings
from stream.sim.driver import Driver, GroupWatcher
from stream.sim.simulate import simulate
from stream.topics import Topics, create_topics

PARTITIONS = 4
PROCESSED = "tierwatch_events_processed_total"


@dataclass
class Worker:
    """A `tierwatch worker` process started by the benchmark, and its web port."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def processed(self) -> float:
        return total(scrape(self.port), PROCESSED)

    def stop(self) -> None:
        stop_process(self.proc, timeout=20)


def start_worker(env: dict[str, str], log: Path) -> Worker:
    """`python -m stream.cli worker` with `env` (see `bench.common.bench_env`)."""
    proc = start(["-m", "stream.cli", "worker"], env, log)
    return Worker(proc, int(env["TIERWATCH_WEB_PORT"]), log)


Sample = tuple[float, list[float]]  # (monotonic time, records processed by each worker)


def watch(
    workers: list[Worker],
    until: float,
    timeout: float,
    on_first: Callable[[], None] | None = None,
) -> list[Sample]:
    """Poll the workers' processed counters every 0.1 s until their sum reaches `until`
    (or the timeout, or a worker exits); the samples from the first record on."""
    samples: list[Sample] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(w.alive() for w in workers):
        counts = [w.processed() for w in workers]
        if sum(counts) or samples:
            samples.append((time.monotonic(), counts))
            if len(samples) == 1 and on_first is not None:
                on_first()
        if sum(counts) >= until:
            break
        time.sleep(0.1)
    return samples


def done(samples: list[Sample], until: float) -> bool:
    return len(samples) > 1 and sum(samples[-1][1]) >= until


def rate(first: Sample, last: Sample) -> float:
    return (sum(last[1]) - sum(first[1])) / (last[0] - first[0])


class Streaming:
    """Rows 1-4, the worker's tick sweep and the scale-out, on one broker and one history."""

    def __init__(self, args: argparse.Namespace, bootstrap: str, tmp: Path) -> None:
        self.args = args
        self.bootstrap = bootstrap
        self.tmp = tmp
        self.prefix = f"b{uuid.uuid4().hex[:6]}."
        self.topics = Topics.named(self.prefix)
        self.ends: Ends = {}
        self.events = 0
        self.records = 0

    def fill(self, policy: Policy) -> str:
        records = list(simulate(self.args.learners, self.args.weeks, self.args.seed, policy=policy))
        self.records = len(records)
        self.events = sum(isinstance(r, LearningEvent) for r in records)
        settings = Settings(topic_prefix=self.prefix, partitions=PARTITIONS)
        asyncio.run(create_topics(settings, self.topics, self.bootstrap))
        started = time.perf_counter()
        self.ends = asyncio.run(prefill(self.bootstrap, self.topics, PARTITIONS, records))
        took = time.perf_counter() - started
        return (
            f"history: simulate({self.args.learners}, {self.args.weeks}, seed={self.args.seed}): "
            f"{self.records:,} records, {self.events:,} of them events, "
            f"{PARTITIONS} partitions; produced in {took:.1f} s"
        )

    def plain(self) -> float:
        count, took, _ = asyncio.run(plain_consume(self.bootstrap, self.topics.events, self.ends))
        return count / took

    def ceiling(self, mode: str) -> float | None:
        """Events/s of a `bench.ceiling` agent, from its first to its last event (records/s
        of all four input topics for `inputs`)."""
        app_id = f"bench-{mode}-{uuid.uuid4().hex[:6]}"
        env = bench_env(self.bootstrap, self.prefix, app_id, self.tmp / app_id)
        env["TIERWATCH_WEB_ENABLED"] = "false"
        out, log = self.tmp / f"{app_id}.json", self.tmp / f"{app_id}.log"
        expect = self.records if mode == "inputs" else self.events
        cmd = ["-m", "bench.ceiling", mode, "--expect", str(expect), "--out", str(out)]
        proc = start(cmd, env, log)
        spy = self._profile(proc.pid, mode, 20)
        try:
            if not self._wait(lambda: out.exists(), proc, self.args.timeout):
                print(f"  {mode}: no result in {self.args.timeout:.0f} s\n{tail(log)}")
                return None
            result = orjson.loads(out.read_bytes())
        finally:
            stop_process(proc, timeout=20)
            if spy is not None:
                spy.wait()
        return float((result["count"] - 1) / (result["last"] - result["first"]))

    def worker(self, app_id: str, name: str) -> Worker:
        env = bench_env(self.bootstrap, self.prefix, app_id, self.tmp / name)
        return start_worker(env, self.tmp / f"{name}.log")

    def tierwatch(self, ticks: bool = True) -> tuple[float | None, list[Row]]:
        """A `tierwatch worker` consuming the pre-filled input topics: records/s from the
        first to the last processed (its `tierwatch_events_processed_total`), then ticks."""
        app_id = f"bench-tierwatch-{uuid.uuid4().hex[:6]}"
        worker = self.worker(app_id, "tierwatch")
        spies: list[subprocess.Popen[bytes] | None] = []

        def spy() -> None:
            spies.append(self._profile(worker.proc.pid, "tierwatch", 30))

        try:
            samples = watch([worker], self.records, self.args.timeout, on_first=spy)
            if not done(samples, self.records):
                print(f"  tierwatch: not done in {self.args.timeout:.0f} s\n{tail(worker.log)}")
                return None, []
            measured = rate(samples[0], samples[-1])
            rows = asyncio.run(self.worker_ticks(app_id, worker)) if ticks else []
            return measured, rows
        finally:
            for running in spies:
                if running is not None:
                    running.wait()
            worker.stop()

    async def worker_ticks(self, app_id: str, worker: Worker) -> list[Row]:
        """Tick every partition three times and read the tick metrics after each: a
        catch-up over all weeks but the last, one week's close, and an ordinary day."""
        policy = load_policy()
        weeks = self.args.weeks
        plan = [
            ("6c", "worker tick, catch-up", midnight(weeks - 1, 1, policy), "all weeks but one"),
            ("6d", "worker tick, week close", midnight(weeks, 1, policy), "one week closes"),
            ("6e", "worker tick, ordinary day", midnight(weeks, 2, policy), "no week closes"),
        ]
        rows = []
        group = GroupWatcher(self.bootstrap, app_id, alive=worker.alive)
        async with Driver(self.bootstrap, self.topics, PARTITIONS) as driver, group:
            for number, name, now, what in plan:
                before = scrape(worker.port)
                sent = time.perf_counter()
                await driver.tick(now)
                if not await group.reached(driver.stats.ends, self.topics.clock, 120):
                    rows.append(Row(number, name, None, "learners/s", "tick not applied"))
                    continue
                wall = time.perf_counter() - sent
                after = scrape(worker.port)
                stepped, quiet = (
                    total(after, metric) - total(before, metric)
                    for metric in (
                        "tierwatch_learners_evaluated_total",
                        "tierwatch_learners_quiet_total",
                    )
                )
                n = stepped + quiet
                spent = after.get("tierwatch_tick_duration_seconds_sum", 0.0) - before.get(
                    "tierwatch_tick_duration_seconds_sum", 0.0
                )
                note = (
                    f"{n:,.0f} learners ({what}; {stepped:,.0f} stepped, {quiet:,.0f} quiet), "
                    f"{spent:.2f} s in evaluate_partition (metric), {wall:.2f} s send to commit"
                )
                rows.append(Row(number, name, n / spent if spent else None, "learners/s", note))
        return rows

    def scale_out(self, one: float | None) -> Row:
        """Two workers of one app (one consumer group) on the same pre-filled history:
        records/s of both together, against `one` (row 4)."""
        app_id = f"bench-scale-{uuid.uuid4().hex[:6]}"
        workers = [self.worker(app_id, f"scale-{n}") for n in (1, 2)]
        try:
            samples = watch(workers, self.records, self.args.timeout)
            if not done(samples, self.records):
                logs = "\n".join(tail(w.log, 1500) for w in workers)
                print(f"  scale-out: not done in {self.args.timeout:.0f} s\n{logs}")
                return Row("10", "scale-out, 2 workers vs 1", None, "x", "not done")
            time.sleep(1.0)
            final = [w.processed() for w in workers]
        finally:
            for w in workers:
                w.stop()
        return scale_row(samples, final, self.records, one)

    def _wait(
        self, ready: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float
    ) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if ready():
                return True
            time.sleep(0.05)
        return bool(ready())

    def _profile(self, pid: int, name: str, seconds: float) -> subprocess.Popen[bytes] | None:
        if self.args.profile is None:
            return None
        self.args.profile.mkdir(parents=True, exist_ok=True)
        return profile(pid, self.args.profile / f"{name}.txt", seconds)


def scale_row(samples: list[Sample], final: list[float], records: int, one: float | None) -> Row:
    """Row 10 from the two workers' samples: the rate while both were processing (after
    the group's rebalance that let the second one in), and the whole run for the note."""
    both = next((s for s in samples if all(s[1])), None)
    whole = rate(samples[0], samples[-1])
    steady = rate(both, samples[-1]) if both is not None and both is not samples[-1] else None
    again = sum(final) - records
    share = ", ".join(f"{n:,.0f}" for n in final)
    waited = f"{both[0] - samples[0][0]:.1f} s" if both is not None else "never"
    note = (
        f"2 workers, one group, 4 partitions: {steady or 0:,.0f} records/s while both processed "
        f"(second one in after {waited}); {whole:,.0f} records/s first to last record; "
        f"processed {share} ({again:,.0f} of them twice)"
    )
    value = steady / one if steady and one else None
    return Row("10", "scale-out, 2 workers vs 1", value, "x", note, digits=2)
