"""Ingest in a chaos run: a real `tierwatch ingest` process and a client that keeps posting
events to it while the scenario disrupts the broker, then what ingest acknowledged against
what reached its topic.

Ingest writes to topics of its own (prefix `chaos-ingest.`, on the run's broker), which the
run's workers do not read: its events belong to probe learners replay does not know, so
the comparison of transitions and states stays exact. What is measured is ingest's promise:
every event it answered 2xx for is on the events topic (**lost** otherwise), however the
broker behaves; while the broker does not answer, ingest says 503 with `Retry-After`, and
the client sends the batch again after it (a batch written but not acknowledged in time may
then be written twice: **resent**, de-duplicated by the pipeline by event id; an event of
a batch sent once, written twice, is **duplicated**). Any other answer than 2xx or 503, or
a 503 without `Retry-After`, fails the run too.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.chaos.check import read_all
from stream.broker import free_port

PREFIX = "chaos-ingest."
TOKEN = "chaos-ingest-token"
BATCH = 10  # events a request
PAUSE_S = 0.25  # between acknowledged requests: 40 events a second
PROBES = 20  # probe learners


@dataclass
class IngestOutcome:
    """What the client saw and what the topic holds."""

    posted: int = 0  # requests (a retried batch counts each time)
    acked: int = 0  # distinct events answered 2xx
    lost: int = 0  # acknowledged, not on the topic
    resent: int = 0  # on the topic more than once, its batch sent more than once
    duplicated: int = 0  # on the topic more than once, its batch sent once
    unavailable: int = 0  # 503 answers
    retry_after: set[str] = field(default_factory=set)  # the Retry-After values seen
    no_retry_after: int = 0  # 503s without it
    other: dict[int, int] = field(default_factory=dict)  # any other status: count
    errors: int = 0  # no answer (connection refused, timeout)
    longest_s: float = 0.0  # one batch, first try to acknowledgement
    details: list[str] = field(default_factory=list)


class IngestProcess:
    """`python -m stream.cli ingest` on the run's broker, its output in `ingest.log`."""

    def __init__(self, directory: Path, bootstrap: str) -> None:
        self.directory = directory
        self.bootstrap = bootstrap
        self.port = free_port()
        self.log = directory / "ingest.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "TIERWATCH_BROKER": self.bootstrap,
            "TIERWATCH_TANSU": "true",
            "TIERWATCH_TOPIC_PREFIX": PREFIX,
            "TIERWATCH_PARTITIONS": "4",
            "TIERWATCH_INGEST_PORT": str(self.port),
            "TIERWATCH_API_TOKEN": TOKEN,
            "TIERWATCH_LOG_LEVEL": "info",
        }
        cmd = [sys.executable, "-m", "stream.cli", "ingest"]
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=sink)
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(self.url + "/readyz") as answer:
                        if answer.status == 200:
                            return
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ingest did not become ready: see {self.log}")
                await asyncio.sleep(0.2)

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def batch(n: int) -> list[dict[str, Any]]:
    """`BATCH` canonical events of the probe learners, dated a minute ago."""
    at = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    return [
        {
            "id": f"probe-{uuid.uuid4()}",
            "learner_id": f"probe-{(n * BATCH + k) % PROBES}",
            "occurred_at": at,
            "kind": "view",
            "object_id": "course:probe",
            "source": "chaos",
        }
        for k in range(BATCH)
    ]


class Client:
    """Posts batches until stopped; a batch is sent again until it is acknowledged."""

    def __init__(self, url: str, alive: Callable[[], bool] = lambda: True) -> None:
        self.url = url + "/events"
        self.alive = alive  # the ingest process runs: a batch is never sent to nobody forever
        self.out = IngestOutcome()
        self.acked: set[str] = set()
        self.sent_again: set[str] = set()  # events of batches sent more than once
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
            n = 0
            while not self._stop.is_set():
                await self._until_acked(http, batch(n))
                n += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), PAUSE_S)

    async def _until_acked(self, http: aiohttp.ClientSession, events: list[dict[str, Any]]) -> None:
        """Send one batch until it is answered 2xx (also after `stop`: a batch begun is
        finished, or the comparison would count a batch the client gave up on)."""
        out, first = self.out, time.monotonic()
        body = orjson.dumps(events)
        tries = 0
        while True:
            if not self.alive():
                raise RuntimeError("the ingest process exited")
            tries += 1
            if tries == 2:
                self.sent_again.update(e["id"] for e in events)
            out.posted += 1
            wait = 1.0
            try:
                async with http.post(
                    self.url, data=body, headers={"Content-Type": "application/json"}
                ) as answer:
                    status = answer.status
                    after = answer.headers.get("Retry-After")
                    await answer.read()
            except (aiohttp.ClientError, OSError, TimeoutError):
                out.errors += 1
            else:
                if 200 <= status < 300:
                    self.acked.update(e["id"] for e in events)
                    out.longest_s = max(out.longest_s, time.monotonic() - first)
                    return
                if status == 503:
                    out.unavailable += 1
                    if after is None:
                        out.no_retry_after += 1
                    else:
                        out.retry_after.add(after)
                        wait = min(float(after), 30.0) if after.isdigit() else 1.0
                else:
                    out.other[status] = out.other.get(status, 0) + 1
            await asyncio.sleep(wait)


async def compare(bootstrap: str, client: Client) -> IngestOutcome:
    """The client's acknowledged events against the ingest events topic."""
    out = client.out
    seen: dict[str, int] = {}
    for message in await read_all(bootstrap, PREFIX + "lms.events", idle_s=1.0):
        with contextlib.suppress(orjson.JSONDecodeError, TypeError):
            event_id = orjson.loads(message.value)["id"]
            seen[event_id] = seen.get(event_id, 0) + 1
    out.acked = len(client.acked)
    lost = sorted(client.acked - seen.keys())
    out.lost = len(lost)
    again = {i: n - 1 for i, n in seen.items() if n > 1}
    out.resent = sum(n for i, n in again.items() if i in client.sent_again)
    out.duplicated = sum(n for i, n in again.items() if i not in client.sent_again)
    out.details += [f"ingest acknowledged, not on the topic: {i}" for i in lost[:4]]
    if out.other:
        out.details.append(f"ingest answered {out.other}")
    if out.duplicated:
        out.details.append(f"{out.duplicated} events of batches sent once were written twice")
    return out
