"""End to end on the embedded broker: payloads posted to a running ingest service reach a
worker and cause the expected tier transition."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import aiohttp
import pytest

from stream import codec
from stream.broker import free_port, stop_process
from tests.streaming import make_topics, read_topic, worker, worker_env

pytestmark = pytest.mark.broker

XAPI = base64.b64encode(b"lrs:secret").decode()
ANA_MBOX = "mailto:ana.lima@example.com"
ANA_CALIPER = "https://example.edu/users/554433"
# yesterday: ingest judges event times against its own clock and the default policy
BASE = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)


def _iso(at: dt.datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "ingest exited"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def statement(score: float, day: int) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": ANA_MBOX},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
        "object": {"objectType": "Activity", "id": "https://lms.example.com/quiz/aml"},
        "result": {"score": {"scaled": score}, "success": True},
        "timestamp": _iso(BASE + dt.timedelta(hours=day)),
    }


def grade_event(score: float, max_score: float) -> dict:
    return {
        "sensor": "https://example.edu/sensors/lms",
        "sendTime": _iso(BASE + dt.timedelta(hours=5, seconds=1)),
        "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "data": [
            {
                "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
                "id": f"urn:uuid:{uuid.uuid4()}",
                "type": "GradeEvent",
                "actor": {"id": "https://example.edu/users/grader-7", "type": "Person"},
                "action": "Graded",
                "object": {
                    "id": "https://example.edu/terms/2026/courses/aml/assess/1/users/554433/attempts/1",
                    "type": "Attempt",
                    "assignee": {"id": ANA_CALIPER, "type": "Person"},
                    "assignable": {
                        "id": "https://example.edu/terms/2026/courses/aml/assess/1",
                        "type": "Assessment",
                    },
                    "count": 1,
                },
                "generated": {
                    "id": "https://example.edu/terms/2026/courses/aml/assess/1/users/554433/attempts/1/scores/1",
                    "type": "Score",
                    "scoreGiven": score,
                    "maxScore": max_score,
                },
                "eventTime": _iso(BASE + dt.timedelta(hours=5)),
            }
        ],
    }


def test_xapi_and_caliper_posts_lead_to_a_tier_transition(broker, unique, tmp_path):
    """Ana's two good xAPI scores, then a Caliper grade far below them (the grader is someone
    else): one learner, an assessment fall, Tier 1 for Ana."""
    topics = make_topics(broker.bootstrap, unique)
    port = free_port()
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")
    env.update(
        {
            "TIERWATCH_INGEST_PORT": str(port),
            "TIERWATCH_API_TOKEN": "tok",
            "TIERWATCH_XAPI_CREDENTIALS": "lrs:secret",
            "TIERWATCH_CALIPER_TOKENS": "cal",
        }
    )
    base = f"http://127.0.0.1:{port}"
    roster = [
        {
            "learner_id": "ana",
            "role": "default",
            "identities": [
                {"source": "xapi", "kind": "mbox", "value": ANA_MBOX},
                {"source": "caliper", "kind": "actor", "value": ANA_CALIPER},
            ],
        }
    ]

    async def post_all() -> list[int]:
        xapi_headers = {"Authorization": f"Basic {XAPI}", "X-Experience-API-Version": "1.0.3"}
        async with aiohttp.ClientSession() as http:
            statuses = []
            for url, body, headers in (
                ("/roster", roster, {"Authorization": "Bearer tok"}),
                ("/xapi/statements", [statement(0.9, 2), statement(0.88, 3)], xapi_headers),
                ("/caliper", grade_event(12, 25), {"Authorization": "Bearer cal"}),
            ):
                async with http.post(base + url, json=body, headers=headers) as response:
                    statuses.append(response.status)
        return statuses

    ingest_log = (tmp_path / "ingest.log").open("wb")
    ingest = subprocess.Popen(
        [sys.executable, "-m", "stream.cli", "ingest"],
        env={**os.environ, **env},
        stdout=ingest_log,
        stderr=ingest_log,
    )
    try:
        with worker(env, tmp_path / "worker.log"):
            wait_until_up(base + "/healthz", ingest)
            statuses = asyncio.run(post_all())
            values = asyncio.run(
                read_topic(broker.bootstrap, topics.alerts, 1, idle_s=1.0, max_s=60)
            )
    finally:
        stop_process(ingest, timeout=10)
        ingest_log.close()
    assert statuses == [200, 200, 200], (tmp_path / "ingest.log").read_text()[-2000:]
    transitions = codec.transitions_of(values)
    assert [(t.learner_id, t.from_tier, t.to_tier, t.route) for t in transitions] == [
        ("ana", 0, 1, "learner_nudge")
    ]
    assert transitions[0].reasons[0].code == "assessment_fall"
    assert transitions[0].reasons[0].numbers["score"] == 0.48
