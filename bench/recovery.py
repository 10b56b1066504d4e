"""Row 9: a worker with an empty data directory restores 100,000 learners from the changelog.

The learners table's changelog (`{app_id}-learners-changelog`, as Faust names it) is filled
directly: the stored states of simulated learners after twelve weeks (`bench.pure.
sample_states`), copied to 100,000 learner ids, with the table's key encoding (the JSON
string of the id: `key_type=str`), the raw state bytes as value (`value_type=bytes`), each
in the partition of its raw id (`stream.topics.partition_of`, where the worker writes it).
The last record of each partition is produced on its own: Tansu's ListOffsets answers the
first offset of the last batch + 1, and Faust's recovery reads up to that offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from bench.common import Row, bench_env, http_get, profile, scrape, tail
from bench.pure import sample_states
from bench.streaming import PARTITIONS, Worker, start_worker
from stream.settings import Settings
from stream.topics import Topics, create_topics, partition_of
from stream.worker.faust_app import changelog_configs

REMAINING = 'tierwatch_table_recovery_remaining{replica="active"}'
TOKEN = "bench-recovery"
CHECKED = 24  # learners asked for through /learners/{id} after recovery


@dataclass
class Recovered:
    """What the poll of a recovering worker saw (seconds from the process start)."""

    started: float | None = None  # first scrape with changelog records left to read
    ready: float | None = None  # /readyz answered 200
    most: float = 0.0  # the largest remaining count seen
    checked: int = 0  # learners /learners/{id} answered for
    asked: int = 0


def states(learners: int, seed: int) -> dict[str, bytes]:
    """`learners` stored states: copies of simulated ones under the ids R0000000, ..."""
    samples = sample_states(2000, seed)
    olds = [orjson.loads(raw)["learner_id"] for raw in samples]
    out: dict[str, bytes] = {}
    for n in range(learners):
        k = n % len(samples)
        learner = f"R{n:07d}"
        out[learner] = samples[k].replace(f'"{olds[k]}"'.encode(), f'"{learner}"'.encode())
    return out


async def fill(bootstrap: str, topic: str, values: dict[str, bytes]) -> dict[int, str]:
    """Produce the states to the changelog; return the last learner of each partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        configs = changelog_configs(Settings())
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([NewTopic(topic, PARTITIONS, 1, topic_configs=configs)])
    finally:
        await admin.close()
    by_partition: dict[int, list[str]] = {}
    for learner in values:
        by_partition.setdefault(partition_of(learner, PARTITIONS), []).append(learner)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        for partition, learners in by_partition.items():
            for learner in learners[:-1]:
                await producer.send(topic, values[learner], orjson.dumps(learner), partition)
        await producer.flush()
        for partition, learners in by_partition.items():
            last = learners[-1]
            await producer.send_and_wait(topic, values[last], orjson.dumps(last), partition)
    finally:
        await producer.stop()
    return {p: learners[-1] for p, learners in by_partition.items()}


def poll(worker: Worker, started: float, timeout: float) -> Recovered:
    """Scrape the recovering worker every 0.1 s until /readyz answers 200."""
    seen = Recovered()
    port = worker.port
    while time.monotonic() - started < timeout and worker.alive():
        remaining = scrape(port).get(REMAINING)
        now = time.monotonic() - started
        if remaining:
            seen.most = max(seen.most, remaining)
            if seen.started is None:
                seen.started = now
        if http_get(port, "/readyz")[0] == 200:
            seen.ready = now
            break
        time.sleep(0.1)
    return seen


def check(port: int, learners: list[str], seen: Recovered) -> None:
    """Ask the recovered worker for some learners: the state must be there."""
    for learner in learners:
        status, body = http_get(port, f"/learners/{learner}", TOKEN)
        seen.asked += 1
        if status == 200 and learner.encode() in body:
            seen.checked += 1


def recovery(
    bootstrap: str, tmp: Path, learners: int, seed: int, timeout: float, spy: Path | None = None
) -> list[Row]:
    """Rows 9a and 9b: fill the changelog, start the worker, time its recovery (and py-spy
    it into `spy`/recovery.txt when given)."""
    prefix = f"r{uuid.uuid4().hex[:6]}."
    topics = Topics.named(prefix)
    asyncio.run(
        create_topics(Settings(topic_prefix=prefix, partitions=PARTITIONS), topics, bootstrap)
    )
    app_id = f"bench-recovery-{uuid.uuid4().hex[:6]}"
    values = states(learners, seed)
    size = sum(map(len, values.values()))
    filled = time.perf_counter()
    lasts = asyncio.run(fill(bootstrap, f"{app_id}-learners-changelog", values))
    filled = time.perf_counter() - filled
    env = bench_env(bootstrap, prefix, app_id, tmp / app_id)
    env["TIERWATCH_API_TOKEN"] = TOKEN
    started = time.monotonic()
    worker = start_worker(env, tmp / "recovery.log")
    spying = None
    if spy is not None:
        spy.mkdir(parents=True, exist_ok=True)
        spying = profile(worker.proc.pid, spy / "recovery.txt", timeout)
    try:
        seen = poll(worker, started, timeout)
        if seen.ready is not None:
            sample = random.Random(seed).sample(sorted(values), CHECKED - len(lasts))
            check(worker.port, [*lasts.values(), *sample], seen)
        else:
            print(f"  recovery: not ready in {timeout:.0f} s\n{tail(worker.log)}")
    finally:
        worker.stop()
        if spying is not None:
            spying.wait()
    return rows_of(seen, learners, size, filled)


def rows_of(seen: Recovered, learners: int, size: int, filled: float) -> list[Row]:
    if seen.ready is None:
        return [Row("9a", f"recovery of {learners:,} learners", None, "s", "not ready")]
    from_start = seen.ready
    from_assigned = seen.ready - seen.started if seen.started is not None else None
    note = (
        f"worker process start to /readyz 200 ({learners / from_start:,.0f} learners/s); "
        f"{learners:,} states, {size / 2**20:,.0f} MiB, produced to the changelog in "
        f"{filled:.1f} s; largest table_recovery_remaining seen {seen.most:,.0f}; "
        f"{seen.checked} of {seen.asked} learners answered by /learners/{{id}} after"
    )
    rate = f" ({learners / from_assigned:,.0f} learners/s)" if from_assigned else ""
    note_b = f"first /metrics showing changelog records to read, to /readyz 200{rate}"
    name = f"recovery of {learners // 1000}k learners, from start"
    return [
        Row("9a", name, from_start, "s", note, digits=1),
        Row("9b", "recovery, from partition assignment", from_assigned, "s", note_b, digits=1),
    ]
