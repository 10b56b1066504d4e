"""A restarted ingest remembers what it must: the xAPI statement ids it stored and the
identities no profile claims (read back from its compacted registry topic), and forgets
them for a learner erased meanwhile. Real restarts of the ingest process, on the embedded
broker."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from schemas.roster import Identity
from stream.broker import free_port, stop_process
from stream.normalize.base import stable_learner_id
from tests.streaming import make_topics, worker_env
from tests.test_ingest_e2e import wait_until_up

pytestmark = pytest.mark.broker

XAPI = {
    "Authorization": "Basic " + base64.b64encode(b"lrs:secret").decode(),
    "X-Experience-API-Version": "1.0.3",
}
API = {"Authorization": "Bearer tok"}
MBOX = "mailto:new.hire@example.com"
DERIVED = stable_learner_id(Identity(source="xapi", kind="mbox", value=MBOX))
WHEN = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=3)


def statement(sid: str, verb: str = "experienced") -> dict[str, Any]:
    return {
        "id": sid,
        "actor": {"objectType": "Agent", "mbox": MBOX},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
        "object": {"objectType": "Activity", "id": "https://lms.example.com/course/aml"},
        "timestamp": WHEN.isoformat().replace("+00:00", "Z"),
    }


@contextlib.contextmanager
def ingest(env: dict[str, str], log: Path) -> Iterator[str]:
    """An ingest process (its base URL), stopped with SIGTERM on exit."""
    port = free_port()
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stream.cli", "ingest"],
            env={**os.environ, **env, "TIERWATCH_INGEST_PORT": str(port)},
            stdout=sink,
            stderr=sink,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base + "/readyz", proc)
            yield base
        finally:
            stop_process(proc, timeout=10)


async def call(method: str, url: str, headers: dict[str, str], body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, json=body, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


def test_a_restarted_ingest_remembers_statements_and_unmapped_identities(broker, unique, tmp_path):
    """Stored before a restart, known after it: the same statement id with other content is
    a conflict (409), and the unmapped identity is still listed with its count."""
    make_topics(broker.bootstrap, unique)
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")
    env.update({"TIERWATCH_API_TOKEN": "tok", "TIERWATCH_XAPI_CREDENTIALS": "lrs:secret"})
    sid = str(uuid.uuid4())
    log = tmp_path / "ingest.log"
    with ingest(env, log) as base:
        first = asyncio.run(call("POST", base + "/xapi/statements", XAPI, [statement(sid)]))
        again = asyncio.run(call("POST", base + "/xapi/statements", XAPI, [statement(sid)]))
    assert (first[0], again[0]) == (200, 200), log.read_text()[-2000:]
    with ingest(env, log) as base:
        unmapped = asyncio.run(call("GET", base + "/identities/unmapped", API))
        other = statement(sid, verb="completed")
        conflict = asyncio.run(call("POST", base + "/xapi/statements", XAPI, [other]))
        same = asyncio.run(call("POST", base + "/xapi/statements", XAPI, [statement(sid)]))
    assert conflict[0] == 409, conflict
    assert same[0] == 200
    assert unmapped == (200, [
        {"source": "xapi", "kind": "mbox", "value": MBOX, "seen": 1, "learner_id": DERIVED}
    ])  # fmt: skip


def test_a_learner_erased_is_forgotten_by_the_next_ingest_too(broker, unique, tmp_path):
    """Erased through ingest, then a restart: the statement ids and the unmapped identity of
    the learner are gone from the registry topic (no conflict, nothing listed)."""
    make_topics(broker.bootstrap, unique)
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")
    env.update({"TIERWATCH_API_TOKEN": "tok", "TIERWATCH_XAPI_CREDENTIALS": "lrs:secret"})
    sid = str(uuid.uuid4())
    log = tmp_path / "ingest.log"
    with ingest(env, log) as base:
        posted = asyncio.run(call("POST", base + "/xapi/statements", XAPI, [statement(sid)]))
        erased = asyncio.run(call("DELETE", f"{base}/learners/{DERIVED}", API))
    assert (posted[0], erased[0]) == (200, 202), log.read_text()[-2000:]
    with ingest(env, log) as base:
        unmapped = asyncio.run(call("GET", base + "/identities/unmapped", API))
        other = statement(sid, verb="completed")
        taken = asyncio.run(call("POST", base + "/xapi/statements", XAPI, [other]))
    assert unmapped == (200, [])
    assert taken[0] == 200
