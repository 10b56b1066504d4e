"""Dispatch as Faust runs it (`agent.test_context()`, `tests/faust_kit.py`): the alerts
topic's reader hands each record to the dispatcher, which delivers a transition's
messages and a manager's digest over a signed webhook to a real HTTP receiver, once each
however often the record comes (the delivery log in the dispatch table), and nothing for
an erased learner. The retry topic's `redeliver` agent delivers a held-up message once
it is due. Delivery over the broker, with retries across restarts, is the broker suite's
(`tests/test_dispatch_stream.py`) and the chaos suite's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import yaml
from aiohttp import web

from schemas.teams import Manager, TeamRow
from stream import codec
from stream.core import team
from stream.core.step import step
from stream.dispatch.signing import WebhookSigner
from stream.policyfile import load_dispatch
from stream.worker.agents import dispatcher, transition_log
from tests.dispatch_receivers import HttpReceiver, new_secret, verifying
from tests.faust_kit import agent_of, driving, sent, topic_mock, worker
from tests.kit import POLICY, profile, weeks
from tests.test_codec import transition

SOURCE = "/tierwatch/test"


def dispatching(tmp_path: Path, url: str, secret: str) -> tuple:
    """A worker with dispatch over one webhook (every route), the learner "a" (reporting
    to Mia) stored in its learners table, and the alerts reader handing on to dispatch."""
    config = {
        "channels": {"hook": {"type": "webhook", "url": url, "secrets": [secret]}},
        "routes": {r: ["hook"] for r in ("learner_nudge", "manager_outreach", "team_digest")},
        "retry": {"attempts": 1, "base_s": 0.01, "max_s": 0.01, "later_s": [0.01]},
    }
    path = tmp_path / "dispatch.yaml"
    path.write_text(yaml.safe_dump(config))
    pipeline = worker(tmp_path)
    who = profile("a").model_copy(update={"manager_id": "m1", "email": "a@example.com"})
    state = None
    for record in [who, *weeks("a", [6, 6, 6, 6, 2])]:
        state, _ = step(state, record, POLICY)
    assert state is not None
    # stored as the learner agent would have (its store: a table is written to in an agent)
    pipeline.table.data["a"] = state.model_dump_json(exclude_defaults=True).encode()
    sending = dispatcher.register(pipeline, load_dispatch(path))
    transition_log.register(pipeline, sending.on_alert)
    return pipeline, sending


def digest_alert() -> bytes:
    rows = [TeamRow(learner_id="a", tier=1)]
    made = team.digest("m1", Manager(name="Mia", email="mia@example.com"), rows,
                       dt.datetime(2026, 3, 2, tzinfo=dt.UTC), POLICY)  # fmt: skip
    assert made is not None
    return codec.encode_digest(made, SOURCE)


async def test_a_transition_and_a_digest_are_delivered_once_however_often_they_come(
    tmp_path: Path,
) -> None:
    secret = new_secret()
    async with HttpReceiver() as receiver:
        receiver.handler = verifying(receiver, WebhookSigner([secret]))
        pipeline, _ = dispatching(tmp_path, receiver.url(), secret)
        nudge = codec.encode_transition(transition(), SOURCE)
        async with driving(agent_of(pipeline, "transition-log")) as alerts:
            for value in (nudge, digest_alert(), nudge, digest_alert()):
                await alerts.put(value, b"a")
        bodies = [orjson.loads(r.body) for r in receiver.requests if r.accepted]
    assert [(b["route"], b["role"]) for b in bodies] == [
        ("learner_nudge", "learner"), ("team_digest", "manager"),
    ]  # fmt: skip
    assert bodies[1]["manager"]["id"] == "m1"
    assert "a@example.com" not in str(bodies[1])  # a digest names nobody


async def test_nothing_is_sent_for_an_erased_learner(tmp_path: Path) -> None:
    secret = new_secret()
    async with HttpReceiver() as receiver:
        pipeline, _ = dispatching(tmp_path, receiver.url(), secret)
        pipeline.erased.data[pipeline.pseudonym("a")] = b"1"  # as `learners.erase` keeps it
        async with driving(agent_of(pipeline, "transition-log")) as alerts:
            await alerts.put(codec.encode_transition(transition(), SOURCE), b"a")
        assert receiver.requests == []


async def test_a_held_up_message_goes_to_the_retry_topic_and_redeliver_sends_it_once(
    tmp_path: Path,
) -> None:
    """The receiver is down for the first attempt: the delivery goes to the retry topic
    (mocked: its value is taken from the call); `redeliver` given that value delivers it
    when due, and given it again, not again."""
    secret = new_secret()
    async with HttpReceiver() as receiver:
        down = True

        async def flaky(request: web.Request, body: bytes) -> web.StreamResponse:
            return web.Response(status=503) if down else await ok(request, body)

        ok = verifying(receiver, WebhookSigner([secret]))
        receiver.handler = flaky
        pipeline, sending = dispatching(tmp_path, receiver.url(), secret)
        sending.retry_topic = retry = topic_mock()
        async with driving(agent_of(pipeline, "transition-log")) as alerts:
            await alerts.put(codec.encode_transition(transition(), SOURCE), b"a")
        (held,) = sent(retry)
        down = False
        async with driving(agent_of(pipeline, "redeliver")) as redeliver:
            await redeliver.put(held, b"a")
            await redeliver.put(held, b"a")
        delivered = [r for r in receiver.requests if r.accepted]
    assert len(delivered) == 1
    assert orjson.loads(delivered[0].body)["route"] == "learner_nudge"
