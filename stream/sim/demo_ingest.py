"""The demo's ingest: a `tierwatch ingest` process beside the worker, one sample xAPI
statement posted through it, and the curl command that does the same."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import subprocess
import sys
import uuid
from typing import IO, Any

import aiohttp

from stream.broker import free_port

KEY, SECRET = "demo", "demo-secret"


def start_ingest(env: dict[str, str], log: IO[bytes]) -> tuple[subprocess.Popen[bytes], str]:
    """`tierwatch ingest` on a free port with the demo's xAPI credentials; its base URL."""
    port = free_port()
    env = {
        **env,
        "TIERWATCH_INGEST_PORT": str(port),
        "TIERWATCH_XAPI_CREDENTIALS": f"{KEY}:{SECRET}",
    }
    cmd = [sys.executable, "-m", "stream.cli", "ingest"]
    return subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=log, stderr=log
    ), f"http://127.0.0.1:{port}"


def sample_statement() -> dict[str, Any]:
    return {
        "actor": {
            "objectType": "Agent",
            "name": "Demo Learner",
            "mbox": "mailto:demo.learner@example.com",
        },
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/completed",
            "display": {"en-US": "completed"},
        },
        "object": {
            "objectType": "Activity",
            "id": "https://lms.example.com/courses/onboarding/module/1",
        },
        "result": {"completion": True, "duration": "PT25M"},
        "timestamp": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(
            timespec="seconds"
        ),  # recent: ingest refuses times outside the policy's window around its clock
    }


def curl_command(base: str) -> str:
    import json

    body = json.dumps(sample_statement())
    return (
        f"curl -sS -u {KEY}:{SECRET} -H 'X-Experience-API-Version: 1.0.3' \\\n"
        f"     -H 'Content-Type: application/json' \\\n"
        f"     -d '{body}' \\\n"
        f"     {base}/xapi/statements"
    )


async def post_sample(base: str, attempts: int = 100) -> tuple[int, str]:
    """Post the sample statement (waiting for ingest to come up); status and answer."""
    auth = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "X-Experience-API-Version": "1.0.3"}
    statement = {**sample_statement(), "id": str(uuid.uuid4())}
    async with aiohttp.ClientSession() as http:
        for _ in range(attempts):
            try:
                async with http.post(
                    f"{base}/xapi/statements", json=statement, headers=headers
                ) as response:
                    return response.status, await response.text()
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    return 0, "ingest did not come up"
