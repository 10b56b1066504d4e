"""Dead letters from the worker: a send that fails is tried again, and one that keeps
failing is logged and counted without stopping the agent that refused the record."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from structlog.testing import capture_logs

from stream.errors import InvalidRecord
from stream.metrics import Metrics
from stream.settings import Settings
from stream.topics import Topics
from stream.worker import pipeline as app_module
from stream.worker.pipeline import Pipeline
from tests.kit import POLICY


class FlakyTopic:
    """A dead-letter topic whose first `failures` sends raise."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[tuple[bytes | None, bytes]] = []
        self.tries = 0

    async def send(self, key: bytes | None, value: bytes) -> None:
        self.tries += 1
        if self.tries <= self.failures:
            raise ConnectionError("broker gone")
        self.sent.append((key, value))


def pipeline(topic: FlakyTopic) -> Pipeline:
    made = Pipeline(
        settings=Settings(), policy=POLICY, topics=Topics.named(""), app=None,  # type: ignore[arg-type]
        table={}, metrics=Metrics.create(parts=("worker",)),
    )  # fmt: skip
    made.deadletter = topic
    return made


def event(value: bytes) -> Any:
    message = SimpleNamespace(
        topic="tierwatch.events", partition=0, offset=7, key=b"a", value=value
    )
    return SimpleNamespace(message=message)


def failures(made: Pipeline) -> float:
    value = made.metrics.registry.get_sample_value("tierwatch_dead_letter_failures_total")
    return float(value or 0)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(app_module, "DEAD_LETTER_BACKOFF_S", 0.0)


async def test_a_dead_letter_send_that_fails_once_is_sent_again():
    """The first send raises: the letter is sent on the second try, nothing is counted."""
    topic = FlakyTopic(failures=1)
    made = pipeline(topic)
    await made.refuse(event(b"{not json"), InvalidRecord("not_json", "bad"))
    assert len(topic.sent) == 1
    assert failures(made) == 0


async def test_a_dead_letter_that_cannot_be_sent_is_logged_and_counted_not_raised():
    """Every send raises: `refuse` returns (the agent goes on), the failure is counted and
    logged with the reason."""
    topic = FlakyTopic(failures=100)
    made = pipeline(topic)
    with capture_logs() as logs:
        await made.refuse(event(b"{not json"), InvalidRecord("not_json", "bad"))
    assert topic.sent == []
    assert topic.tries == app_module.DEAD_LETTER_TRIES
    assert failures(made) == 1
    failed = [entry for entry in logs if entry["event"] == "dead_letter_failed"]
    assert [entry["reason"] for entry in failed] == ["not_json"]
