"""Erasure reaches dispatch's dead letters: a delivery given up on is dead-lettered by name
only, its rendered message parked in the learner's dispatch state; erasing the learner
tombstones that state, and a redrive afterwards sends nothing."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import yaml
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from typer.testing import CliRunner

from schemas.deadletter import DeadLetter
from schemas.dispatch import ParkedDelivery
from stream.cli import app
from stream.dispatch.ledger import DispatchState
from stream.dispatch.signing import WebhookSigner
from stream.sim.driver import Driver, DriverError, GroupWatcher
from tests.dispatch_receivers import HttpReceiver, new_secret, verifying
from tests.kit import POLICY, ordered, profile, weeks
from tests.streaming import make_topics, read_topic, worker, worker_env

pytestmark = pytest.mark.broker
NAME = "Lou Ferreira"
EMAIL = "lou.ferreira@corp.example"


async def keyed(
    bootstrap: str, topic: str, idle_s: float = 1.0
) -> list[tuple[bytes, bytes | None]]:
    """Every (key, value) of a topic, until it has been idle for `idle_s`."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    out: list[tuple[bytes, bytes | None]] = []
    try:
        idle = 0.0
        while idle < idle_s:
            batch = await consumer.getmany(timeout_ms=200)
            records = [m for ms in batch.values() for m in ms]
            out.extend((m.key, m.value) for m in records)
            idle = 0.0 if records else idle + 0.2
    finally:
        await consumer.stop()
    return out


async def latest(bootstrap: str, topic: str, key: bytes, want_tombstone: bool) -> bytes | None:
    """The last value of `key` on a topic, waiting (up to 20 s) for it to be (or not be) a
    tombstone."""
    value: bytes | None = None
    for _ in range(20):
        values = [v for k, v in await keyed(bootstrap, topic, 0.5) if k == key]
        value = values[-1] if values else b""
        if values and (value is None) == want_tombstone:
            return value
        await asyncio.sleep(0.5)
    return value


def test_erasing_a_learner_erases_their_dispatch_dead_letters(broker, unique, tmp_path):
    """Lou's nudge cannot be delivered (the receiver is down): the dead letter names the
    delivery but holds neither the message, nor Lou's name or address; the message is parked
    in Lou's dispatch state. Lou is erased: the state is tombstoned on its changelog, and a
    redrive once the receiver is back sends nothing."""
    lou = profile("lou").model_copy(update={"name": NAME, "email": EMAIL})
    records = ordered([lou, *weeks("lou", [6, 6, 6, 6, 2])])
    topics = make_topics(broker.bootstrap, unique)
    secret = new_secret()
    changelog = f"{unique}-app-dispatch-changelog"

    async def drive() -> tuple[list[bytes], bytes | None, bytes | None, list, str]:
        async with HttpReceiver() as receiver:
            down = {"on": True}
            verify = verifying(receiver, WebhookSigner([secret]))

            async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
                return web.Response(status=503) if down["on"] else await verify(request, body)

            receiver.handler = handler
            config = {
                "channels": {
                    "hook": {"type": "webhook", "url": receiver.url(), "secrets": [secret]}
                },
                "routes": {"learner_nudge": ["hook"]},
                "retry": {"attempts": 2, "base_s": 0.05, "max_s": 1, "later_s": [0.2]},
            }
            (tmp_path / "dispatch.yaml").write_text(yaml.safe_dump(config))
            env = worker_env(broker.bootstrap, unique, tmp_path / "data")
            env["TIERWATCH_DISPATCH_FILE"] = str(tmp_path / "dispatch.yaml")
            with worker(env, tmp_path / "worker.log") as proc:
                group = GroupWatcher(broker.bootstrap, f"{unique}-app", lambda: proc.poll() is None)
                async with Driver(broker.bootstrap, topics, 4) as driver, group:
                    await driver.play(iter(records), POLICY, group)
                letters = await read_topic(
                    broker.bootstrap, topics.deadletter, 1, idle_s=1.0, max_s=30
                )
                parked = await latest(broker.bootstrap, changelog, b'"lou"', want_tombstone=False)
                producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
                await producer.start()
                try:
                    await producer.send_and_wait(topics.profiles, None, key=b"lou")
                finally:
                    await producer.stop()
                erased = await latest(broker.bootstrap, changelog, b'"lou"', want_tombstone=True)
                down["on"] = False
                cli_env = {
                    "TIERWATCH_BROKER": broker.bootstrap,
                    "TIERWATCH_TOPIC_PREFIX": f"{unique}.",
                    "TIERWATCH_APP_ID": f"{unique}-app",
                }
                result = await asyncio.to_thread(
                    CliRunner().invoke, app, ["dlq", "redrive"], env=cli_env
                )
                await asyncio.sleep(3.0)
                letters = await read_topic(broker.bootstrap, topics.deadletter, 1, idle_s=1.0)
            accepted = [r for r in receiver.requests if r.accepted]
            return letters, parked, erased, accepted, result.output

    try:
        letters, parked, erased, accepted, output = asyncio.run(drive())
    except DriverError:
        pytest.fail((tmp_path / "worker.log").read_text()[-3000:])
    (raw,) = letters
    letter = DeadLetter.model_validate_json(raw)
    assert letter.reason == "dispatch_delivery_exhausted"
    assert letter.redrivable
    assert ParkedDelivery.model_validate_json(letter.payload).route == "learner_nudge"
    for personal in (NAME, EMAIL, "lou.ferreira"):
        assert personal.encode() not in raw
    # before the erasure the message was parked in the state; after it, the state is gone
    assert parked
    state = DispatchState.model_validate_json(parked)
    (message,) = state.parked.values()
    assert NAME in orjson.dumps(message.payload).decode()
    assert erased is None
    assert "redrove 1 dispatch dead letter" in output
    assert accepted == []  # nothing is sent for an erased learner
