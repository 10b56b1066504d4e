"""Row 5: latency from producing an assessment event to its transition on the alerts topic,
under a background load of simulated records at half the worker's measured throughput.

Each probe learner first gets two good scores (primed before the measurement starts);
its probe is a failed assessment with a very low score, which is a fall
(`stream.core.signals.assessment_fall`: failed, and 0.85 below the mean of two previous
scores) and raises a learner at tier 0 to tier 1 at once (`stream.core.step._on_assessment`).
So every probe gives exactly one transition, and only the probe does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import Row, bench_env, http_get, tail
from bench.streaming import PARTITIONS, Worker, start_worker
from schemas.events import LearningEvent
from schemas.history import Record
from stream import codec
from stream.core.policy import Policy
from stream.settings import Settings
from stream.sim.driver import Driver
from stream.sim.simulate import DEFAULT_START, simulate
from stream.topics import Topics, create_topics

GOOD, FALL = 0.9, 0.05
PRIMES = 2  # good scores before the probe (the policy's min_previous_scores)
FETCH_WAIT_MS = 10  # Tansu answers a waiting fetch only when the wait ends (stream/tansu.py)
WARMUP_S = 5.0  # background load before the first probe


@dataclass(frozen=True)
class Plan:
    """What row 5 sends: background records/s, and probes (how many, how often)."""

    rate: float
    probes: int
    probe_every_s: float
    learners: int
    weeks: int
    seed: int

    @property
    def seconds(self) -> float:
        return WARMUP_S + self.probes * self.probe_every_s


@dataclass
class Seen:
    """Send and receive times (perf_counter) of each probe learner's transition."""

    sent: dict[str, float] = field(default_factory=dict)
    received: dict[str, float] = field(default_factory=dict)
    background: int = 0  # records sent
    achieved: float = 0.0  # their records/s

    def latencies_ms(self) -> list[float]:
        return sorted(
            1000 * (self.received[k] - t) for k, t in self.sent.items() if k in self.received
        )


def assessment(learner: str, n: int, score: float) -> LearningEvent:
    """An assessment event of a probe learner, on day one of the simulated history."""
    at = dt.datetime.combine(DEFAULT_START, dt.time(9, n), tzinfo=dt.UTC)
    return LearningEvent(
        id=f"probe-{learner}-{n}",
        learner_id=learner,
        occurred_at=at,
        kind="assessment",
        object_id=f"probe-quiz-{n}",
        score=score,
        success=score >= 0.5,
        source="bench",
    )


def background(plan: Plan, policy: Policy) -> list[Record]:
    """Enough simulated records for the whole measurement (more seeds if one is short)."""
    need = int(plan.rate * (plan.seconds + 10))
    histories = (
        simulate(plan.learners, plan.weeks, plan.seed + k, policy=policy)
        for k in itertools.count(1)
    )
    return list(itertools.islice(itertools.chain.from_iterable(histories), need))


async def pace(driver: Driver, records: list[Record], rate: float, stop: asyncio.Event) -> float:
    """Send records at `rate` a second (in 10 ms steps) until `stop` or the end; the
    records/s achieved."""
    started = time.perf_counter()
    sent = 0
    while sent < len(records) and not stop.is_set():
        due = min(len(records), int((time.perf_counter() - started) * rate))
        for record in records[sent:due]:
            await driver.send(record)
        if due > sent:
            await driver.settle()
        sent = due
        await asyncio.sleep(0.01)
    return sent / (time.perf_counter() - started)


async def follow(consumer: AIOKafkaConsumer, seen: Seen, stop: asyncio.Event) -> None:
    """Note when each probe learner's transition arrives on the alerts topic."""
    while not stop.is_set():
        batch = await consumer.getmany(timeout_ms=50)
        now = time.perf_counter()
        for messages in batch.values():
            for message in messages:
                learner = codec.decode_alert(message.value).learner_id
                if learner in seen.sent and learner not in seen.received:
                    seen.received[learner] = now


async def probe(
    producer: AIOKafkaProducer, topic: str, learners: list[str], plan: Plan, seen: Seen
) -> None:
    """One probe (a fall) every `probe_every_s`, timed from the producer's send."""
    for learner in learners:
        value = codec.encode_record(assessment(learner, PRIMES, FALL))
        seen.sent[learner] = time.perf_counter()
        await producer.send(topic, value=value, key=learner.encode())
        await asyncio.sleep(plan.probe_every_s)


async def wait_processed(worker: Worker, count: float, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.alive():
        if worker.processed() >= count:
            return True
        await asyncio.sleep(0.1)
    return False


async def wait_ready(worker: Worker, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.alive():
        if http_get(worker.port, "/readyz")[0] == 200:
            return True
        await asyncio.sleep(0.2)
    return False


async def run(bootstrap: str, topics: Topics, worker: Worker, plan: Plan, policy: Policy) -> Seen:
    """Prime the probe learners, then send the background load and the probes together."""
    learners = [f"P{n:05d}" for n in range(plan.probes)]
    load = await asyncio.to_thread(background, plan, policy)
    seen = Seen()
    consumer = AIOKafkaConsumer(
        topics.alerts,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_WAIT_MS,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        async with Driver(bootstrap, topics, PARTITIONS) as driver:
            for learner in learners:
                for n in range(PRIMES):
                    await driver.send(assessment(learner, n, GOOD))
            await driver.settle()
            if not await wait_processed(worker, len(learners) * PRIMES, 120):
                return seen
            stop = asyncio.Event()
            pacer = asyncio.create_task(pace(driver, load, plan.rate, stop))
            follower = asyncio.create_task(follow(consumer, seen, stop))
            await asyncio.sleep(WARMUP_S)
            await probe(producer, topics.events, learners, plan, seen)
            deadline = time.monotonic() + 10
            while len(seen.received) < len(learners) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            stop.set()
            seen.achieved = await pacer
            await follower
            seen.background = driver.stats.records - len(learners) * PRIMES
    finally:
        await producer.stop()
        await consumer.stop()
    return seen


def latency(bootstrap: str, tmp: Path, plan: Plan, policy: Policy, timeout: float) -> list[Row]:
    """Rows 5a and 5b on a worker of their own (own topics, own group)."""
    prefix = f"l{uuid.uuid4().hex[:6]}."
    topics = Topics.named(prefix)
    asyncio.run(
        create_topics(Settings(topic_prefix=prefix, partitions=PARTITIONS), topics, bootstrap)
    )
    app_id = f"bench-latency-{uuid.uuid4().hex[:6]}"
    worker = start_worker(bench_env(bootstrap, prefix, app_id, tmp / app_id), tmp / "latency.log")
    try:
        if not asyncio.run(wait_ready(worker, timeout)):
            print(f"  latency: the worker was not ready in {timeout:.0f} s\n{tail(worker.log)}")
            return rows_of(Seen(), plan, 0.0)
        seen = asyncio.run(run(bootstrap, topics, worker, plan, policy))
        processed = worker.processed()
    finally:
        worker.stop()
    return rows_of(seen, plan, processed)


def rows_of(seen: Seen, plan: Plan, processed: float) -> list[Row]:
    got = seen.latencies_ms()
    p50 = statistics.median(got) if got else None
    p99 = got[max(0, round(0.99 * len(got)) - 1)] if got else None
    behind = plan.probes * (PRIMES + 1) + seen.background - processed
    note = (
        f"{len(got)} of {plan.probes} probes (one every {plan.probe_every_s * 1000:.0f} ms), "
        f"producer send to alert received; background {seen.achieved:,.0f} records/s "
        f"(asked {plan.rate:,.0f}; {seen.background:,} sent, {max(0.0, behind):,.0f} not "
        "processed at the end); "
        f"max {got[-1] if got else 0:,.0f} ms"
    )
    return [
        Row("5a", "latency p50", p50, "ms", note, digits=1),
        Row("5b", "latency p99", p99, "ms", "same probes", digits=1),
    ]
