"""Shared helpers for the benchmarks: the machine, a results table, Kafka and processes.

Nothing here is timed on its own; the scripts that import it (`bench.pipeline`) print
figures and never assert on them.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from schemas.history import Record
from stream.broker import free_port
from stream.settings import Settings
from stream.sim.demo import worker_env
from stream.sim.driver import Driver
from stream.topics import Topics

Ends = dict[tuple[str, int], int]


def machine() -> str:
    """One line: OS, CPU model, cores, memory and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.1f} GiB RAM"
    except (ValueError, OSError):
        pass
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{memory}, "
        f"Python {platform.python_version()} ({platform.python_implementation()})"
    )


@dataclass
class Row:
    """One line of the results table: a figure, its unit, and how it was obtained."""

    number: str
    name: str
    value: float | None
    unit: str
    note: str = ""
    ratio: str = ""
    digits: int = 0  # decimals shown

    def cells(self) -> list[str]:
        value = "-" if self.value is None else f"{self.value:,.{self.digits}f}"
        return [self.number, self.name, value, self.unit, self.ratio, self.note]


HEADER = ["#", "measure", "value", "unit", "ratio", "how"]


def table(rows: Iterable[Row]) -> str:
    """The rows as a Markdown table (readable as plain text too)."""
    return table_of([row.cells() for row in rows])


def cells_of(text: str) -> list[list[str]]:
    """The rows of a table `table` printed (in a RESULTS.md), as their cells."""
    found = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| ") and len(cells) == len(HEADER) and cells != HEADER:
            found.append(cells)
    return found


def table_of(lines: list[list[str]]) -> str:
    """Rows given as their cells, as `table` prints them."""
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(HEADER)]
    right = {2}

    def fmt(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(HEADER), rule, *(fmt(c) for c in lines)])


def ratio(value: float | None, base: float | None, label: str) -> str:
    if not value or not base:
        return ""
    share = value / base
    return f"{share:.3f}x {label}" if share < 0.1 else f"{share:.2f}x {label}"


async def prefill(bootstrap: str, topics: Topics, partitions: int, records: list[Record]) -> Ends:
    """Produce records keyed by learner to their input topics, as the driver does; return
    the end offsets (next offset) per topic partition, from the producer's acknowledgements
    (the embedded broker's ListOffsets is not exact)."""
    async with Driver(bootstrap, topics, partitions) as driver:
        for n, record in enumerate(records, start=1):
            await driver.send(record)
            if n % 5000 == 0:
                await driver.settle()
        await driver.settle()
        return dict(driver.stats.ends)


async def plain_consume(bootstrap: str, topic: str, ends: Ends) -> tuple[int, float, float]:
    """Read a topic from the beginning up to `ends` with a plain aiokafka consumer, decoding
    every value with orjson. Returns (messages, seconds from start, seconds first to last)."""
    import orjson

    wanted = {TopicPartition(t, p): end for (t, p), end in ends.items() if t == topic}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(list(wanted))
        await consumer.seek_to_beginning(*wanted)
        start = time.perf_counter()
        first = last = 0.0
        count = 0
        done: dict[TopicPartition, int] = dict.fromkeys(wanted, 0)
        while any(done[tp] < end for tp, end in wanted.items()):
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for tp, messages in batch.items():
                for message in messages:
                    orjson.loads(message.value)
                count += len(messages)
                if messages:
                    done[tp] = messages[-1].offset + 1
            if batch:
                last = time.perf_counter()
                first = first or last
        return count, last - start, last - first
    finally:
        await consumer.stop()


def bench_env(bootstrap: str, prefix: str, app_id: str, data_dir: Path) -> dict[str, str]:
    """The environment of a worker (or a bench agent) on the embedded broker, external clock."""
    settings = Settings(topic_prefix=prefix, partitions=4)
    env = worker_env(bootstrap, app_id, str(data_dir), settings)
    env["TIERWATCH_WEB_PORT"] = str(free_port())
    return env


def scrape(port: int) -> dict[str, float]:
    """A worker's /metrics as {"name{labels}": value}; {} while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def http_get(port: int, path: str, token: str | None = None) -> tuple[int, bytes]:
    """GET a worker's endpoint: (status, body); (0, b"") while it does not answer."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def total(metrics: dict[str, float], name: str) -> float:
    """The sum of a metric over its labels."""
    pattern = re.compile(rf"^{re.escape(name)}(\{{.*\}})?$")
    return sum(v for k, v in metrics.items() if pattern.match(k))


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A Python module in its own process, its output in `log`."""
    with log.open("ab") as sink:
        return subprocess.Popen([sys.executable, *cmd], env=env, stdout=sink, stderr=sink)


def tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def profile(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy sampling a process for `seconds` into `out` (collapsed stacks); None when
    py-spy is not installed (`.venv/bin/pip install py-spy`)."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        return None
    cmd = [str(spy), "record", "--pid", str(pid), "--duration", str(int(seconds))]
    cmd += ["--rate", "200", "--format", "raw", "--output", str(out), "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
