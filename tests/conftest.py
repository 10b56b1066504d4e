"""Shared fixtures: one embedded broker for the whole session, unique names per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from stream.broker import EmbeddedBroker, embedded_broker


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """The embedded Kafka-compatible broker, started once for every broker test."""
    with embedded_broker() as running:
        yield running


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker of the test's own: a restart (a group rejoin, a table recovery) is timed
    without the topics and groups every earlier test left on the session's broker."""
    with embedded_broker() as running:
        yield running


@pytest.fixture
def unique() -> str:
    """A short unique name for a test's topic prefix and consumer group."""
    return f"t{uuid.uuid4().hex[:8]}"
