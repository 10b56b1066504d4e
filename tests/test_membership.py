"""A restarted worker removes the member its killed predecessor left in the group."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from stream.broker import EmbeddedBroker, free_port
from stream.worker import membership
from tests.streaming import make_topics, worker, worker_env


def test_a_remembered_member_is_recalled_for_its_group_only(tmp_path):
    membership.remember(tmp_path / "data", "g1", "faust-0.15.3-abc")
    assert membership.recall(tmp_path / "data", "g1") == "faust-0.15.3-abc"
    assert membership.recall(tmp_path / "data", "g2") is None  # another app on this directory
    assert membership.recall(tmp_path / "elsewhere", "g1") is None


def test_a_damaged_member_file_is_ignored(tmp_path):
    membership.member_file(tmp_path).write_text("g1\n")
    assert membership.recall(tmp_path, "g1") is None
    membership.member_file(tmp_path).write_bytes(b"\xff\xfe")
    assert membership.recall(tmp_path, "g1") is None


def test_without_a_remembered_member_nothing_is_asked(tmp_path):
    outcome = asyncio.run(membership.leave_previous("127.0.0.1:1", "g1", tmp_path))
    assert outcome is None


def test_an_unreachable_broker_is_logged_not_raised(tmp_path):
    """The worker still starts (and joins the slow way) when the leave cannot be sent."""
    membership.remember(tmp_path, "g1", "m-1")
    outcome = asyncio.run(membership.leave_previous(f"127.0.0.1:{free_port()}", "g1", tmp_path))
    assert outcome is not None
    assert outcome.startswith("failed: ")
    assert membership.recall(tmp_path, "g1") is None


async def joined(bootstrap: str, group: str, topic: str) -> tuple[AIOKafkaConsumer, str]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        session_timeout_ms=30_000,
        enable_auto_commit=False,
    )
    await consumer.start()
    while not consumer.assignment():
        await asyncio.sleep(0.1)
    return consumer, consumer._coordinator.member_id


async def members(bootstrap: str, group: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    return [member[0] for g in described for member in g.groups[0][5]]


@pytest.mark.broker
def test_the_coordinator_removes_the_member(broker, unique):
    """A member whose session had 30 s to run is out of the group once asked to leave."""
    topics = make_topics(broker.bootstrap, unique, partitions=1)
    group = f"{unique}-group"

    async def scenario() -> tuple[str, list[str], str, list[str]]:
        consumer, member = await joined(broker.bootstrap, group, topics.events)
        try:
            before = await members(broker.bootstrap, group)
            outcome = await membership.leave(broker.bootstrap, group, member)
            after = await members(broker.bootstrap, group)
        finally:
            await consumer.stop()
        return member, before, outcome, after

    member, before, outcome, after = asyncio.run(scenario())
    assert before == [member]
    assert outcome == "left"
    assert member not in after


def wait_for_line(log: Path, needle: str, within_s: float) -> str | None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if needle in line:
                return line
        time.sleep(0.2)
    return None


@pytest.mark.broker
def test_a_worker_started_after_a_kill_removes_its_predecessor(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """kill -9 a worker; the worker started on its data directory removes the dead member
    (`outcome=left`: the coordinator still had it) before joining."""
    make_topics(own_broker.bootstrap, "member")
    data = tmp_path / "data"
    env = worker_env(own_broker.bootstrap, "member", data)
    env["TIERWATCH_LOG_LEVEL"] = "info"
    with worker(env, tmp_path / "first.log") as first:
        deadline = time.monotonic() + 90
        while membership.recall(data, "member-app") is None and time.monotonic() < deadline:
            time.sleep(0.2)
        dead = membership.recall(data, "member-app")
        assert dead is not None, "the worker never wrote its member id"
        first.send_signal(signal.SIGKILL)
        first.wait()
    with worker(env, tmp_path / "second.log"):
        line = wait_for_line(tmp_path / "second.log", "previous_member_removed", 60)
        assert line is not None, (tmp_path / "second.log").read_text()[-3000:]
        assert f"member={dead}" in line, line
        assert "outcome=left" in line, line
        deadline = time.monotonic() + 90
        while membership.recall(data, "member-app") in (None, dead):
            assert time.monotonic() < deadline, "the second worker never joined"
            time.sleep(0.2)


def test_a_directory_that_cannot_be_written_is_logged_not_raised(tmp_path):
    """A read-only data directory: the worker goes on (its restart takes the slow path)."""
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    membership.remember(blocked / "data", "g1", "m-1")  # mkdir fails: no exception
    assert membership.recall(blocked / "data", "g1") is None
