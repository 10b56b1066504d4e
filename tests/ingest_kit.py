"""A fake sink and a test client for the ingest app (no broker)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from aiohttp.test_utils import TestClient, TestServer

from stream.core.policy import Policy
from stream.ingest.context import KEY
from stream.ingest.server import make_app
from stream.ingest.sink import BrokerUnavailable
from stream.settings import Settings
from stream.topics import Topics

TOKEN = "api-token-for-tests"
XAPI_KEY, XAPI_SECRET = "lrs-client", "lrs-secret"
CALIPER_TOKEN = "caliper-token"
CANVAS_SECRET = "canvas-shared-secret"
MOODLE_TOKEN = "moodle-token"
TOPICS = Topics.named("")
# the fixtures' times run from 2023 to March 2026: tests receive them at a fixed moment
# after all of them, under a policy that takes events up to ten years old
RECEIVED = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
WIDE = Policy.model_validate({"events": {"max_age_days": 3650}})


@dataclass
class FakeSink:
    """Records what was sent; `down` makes every send fail like an unreachable broker."""

    down: bool = False
    sent: dict[str, list[tuple[str | None, bytes | None]]] = field(default_factory=dict)

    async def send(self, topic: str, records: Sequence[tuple[str | None, bytes | None]]) -> None:
        if self.down:
            raise BrokerUnavailable("the test broker is down")
        self.sent.setdefault(topic, []).extend(records)

    async def dead_letter(self, topic: str, key: str | None, value: bytes) -> None:
        if not self.down:
            self.sent.setdefault(topic, []).append((key, value))


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "api_token": TOKEN,
        "xapi_credentials": f"{XAPI_KEY}:{XAPI_SECRET}",
        "caliper_tokens": CALIPER_TOKEN,
        "canvas_secret": CANVAS_SECRET,
        "moodle_token": MOODLE_TOKEN,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def client(
    sink: FakeSink,
    *,
    policy: Policy = WIDE,
    received: dt.datetime = RECEIVED,
    **overrides: object,
) -> AsyncIterator[TestClient]:
    """A test client of an ingest app that writes to `sink`, receiving every request at
    `received` and judging event times by `policy`; `overrides` change the settings."""
    app = make_app(settings(**overrides), sink, TOPICS)
    app[KEY].policy = policy
    app[KEY].clock = lambda: received
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def api_headers(**extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", **extra}


def xapi_headers(version: str = "1.0.3") -> dict[str, str]:
    pair = base64.b64encode(f"{XAPI_KEY}:{XAPI_SECRET}".encode()).decode()
    return {"Authorization": f"Basic {pair}", "X-Experience-API-Version": version}
