"""Ingest throughput on the embedded broker: xAPI statements a second, batches of 1 and 100.

    .venv/bin/python -m bench.ingest [--seconds 10] [--concurrency 16]

Starts the embedded broker and `tierwatch ingest` in its own process, then posts realistic
statements from this process with N requests in flight, for a fixed time per batch size,
and prints statements/s, requests/s and latency percentiles. Every answer must be 200:
a refused or failed request ends the run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any

import aiohttp

from stream.broker import embedded_broker, free_port, stop_process
from stream.settings import Settings
from stream.topics import Topics, create_topics

AUTH = {
    "Authorization": "Basic " + base64.b64encode(b"bench:bench").decode(),
    "X-Experience-API-Version": "1.0.3",
}
VERBS = ("experienced", "progressed", "completed", "scored", "launched")


def statement(n: int) -> dict[str, Any]:
    verb = VERBS[n % len(VERBS)]
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://lms.example.com", "name": f"u{n % 5000}"},
        },
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
        "object": {
            "objectType": "Activity",
            "id": f"https://lms.example.com/course/{n % 40}/unit/{n % 12}",
        },
        "timestamp": "2026-03-03T10:00:00Z",
    }
    if verb == "scored":
        body["result"] = {"score": {"scaled": (n % 100) / 100}, "success": n % 100 >= 60}
    return body


async def load(url: str, batch: int, seconds: float, concurrency: int) -> tuple[int, list[float]]:
    sent = 0
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def one(http: aiohttp.ClientSession) -> None:
        nonlocal sent
        n = 0
        while time.monotonic() < deadline:
            body = [statement(n + i) for i in range(batch)] if batch > 1 else statement(n)
            n += batch
            start = time.perf_counter()
            async with http.post(url, json=body, headers=AUTH) as response:
                if response.status != 200:
                    raise SystemExit(f"HTTP {response.status}: {await response.text()}")
                await response.read()
            latencies.append(time.perf_counter() - start)
            sent += batch

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(one(http) for _ in range(concurrency)))
    return sent, latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    port = free_port()
    with embedded_broker() as broker:
        settings = Settings(broker=broker.bootstrap, tansu=True)
        asyncio.run(create_topics(settings, Topics.named(""), broker.bootstrap))
        env = {
            **os.environ,
            "TIERWATCH_BROKER": broker.bootstrap,
            "TIERWATCH_TANSU": "true",
            "TIERWATCH_INGEST_PORT": str(port),
            "TIERWATCH_XAPI_CREDENTIALS": "bench:bench",
            "TIERWATCH_RATE_PER_S": "1000000",
            "TIERWATCH_RATE_BURST": "1000000",
            "TIERWATCH_LOG_LEVEL": "warning",
        }
        proc = subprocess.Popen([sys.executable, "-m", "stream.cli", "ingest"], env=env)
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            url = f"http://127.0.0.1:{port}/xapi/statements"
            machine = f"{platform.machine()}, {os.cpu_count()} cores"
            print(f"machine: {machine}, Python {platform.python_version()}")
            print(f"{args.concurrency} requests in flight, {args.seconds:.0f} s per row\n")
            print(
                f"{'batch':>6} {'statements/s':>13} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8}"
            )
            for batch in (1, 100):
                sent, lat = asyncio.run(load(url, batch, args.seconds, args.concurrency))
                lat.sort()
                p50 = statistics.median(lat) * 1000
                p99 = lat[int(len(lat) * 0.99) - 1] * 1000
                rate, requests = sent / args.seconds, len(lat) / args.seconds
                print(f"{batch:>6} {rate:>13,.0f} {requests:>11,.0f} {p50:>8.1f} {p99:>8.1f}")
        finally:
            stop_process(proc, timeout=10)


if __name__ == "__main__":
    main()
