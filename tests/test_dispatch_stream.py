"""Dispatch on the embedded broker: transitions from a worker reach a signed-webhook
receiver and an SMTP server, through retries, each message once per channel and role."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
from collections import Counter

import orjson
import pytest
import yaml
from aiohttp import web

from schemas.reminders import FollowUpOverdue
from schemas.teams import TeamDigest
from stream import codec
from stream.actions.tokens import ActionKeys
from stream.dispatch.signing import WebhookSigner
from stream.sim.driver import Driver, DriverError, GroupWatcher
from tests.dispatch_receivers import HttpReceiver, SmtpRecorder, new_secret, smtp_server, verifying
from tests.kit import POLICY, assignment, at, day, ordered, profile, weeks
from tests.streaming import make_topics, read_topic, worker, worker_env

pytestmark = pytest.mark.broker


def team() -> list:
    def person(learner: str, role: str = "default"):
        return profile(learner, role).model_copy(
            update={
                "name": learner.title(),
                "email": f"{learner}@example.com",
                "manager_name": "Mia",
                "manager_email": "mia@example.com",
            }
        )

    return ordered(
        [
            person("dana"),
            person("omar", "back_office"),
            *weeks("dana", [6, 6, 6, 6, 2, 2, 2, 6, 6]),
            *weeks("omar", [5] * 9),
            assignment("omar", "aml", "compliance", day(3, 2), at(0)),
        ]
    )


def flaky_then(handler, failures: int):
    """Answer 503 to the first `failures` requests, then hand over to `handler`."""
    count = {"n": 0}

    async def handle(request: web.Request, body: bytes) -> web.StreamResponse:
        count["n"] += 1
        if count["n"] <= failures:
            return web.Response(status=503, headers={"Retry-After": "0"})
        return await handler(request, body)

    return handle


def test_transitions_are_delivered_signed_by_webhook_and_by_email(broker, unique, tmp_path):
    """Every transition, overdue follow-up and weekly digest reaches the receiver (signed,
    after 503s) and the mail server, once per channel and role; nudges go to the learner,
    outreach and escalation to the manager and HR; an overdue follow-up's reminder to the
    manager (with the action link of the arrival it chases), its escalation to HR and the
    manager, on the channels of the outreach and the escalation (no route of their own
    configured); the digests to the manager, with the link to her team view."""
    records = team()
    topics = make_topics(broker.bootstrap, unique)
    secret = new_secret()
    recorder = SmtpRecorder()
    keys = ActionKeys.generate()

    async def drive(smtp_port: int) -> tuple[list, list]:
        async with HttpReceiver() as receiver:
            receiver.handler = flaky_then(verifying(receiver, WebhookSigner([secret])), failures=3)
            config = {
                "channels": {
                    "hook": {"type": "webhook", "url": receiver.url(), "secrets": [secret]},
                    "mail": {
                        "type": "email",
                        "host": "127.0.0.1",
                        "port": smtp_port,
                        "sender": "tierwatch@example.com",
                    },
                },
                "routes": {
                    r: ["hook", "mail"]
                    for r in (
                        "learner_nudge",
                        "manager_outreach",
                        "hr_escalation",
                        "wellbeing",
                        "resolved",
                    )
                },
                "hr": {"default": "hr@example.com"},
                "wellbeing": {"default": "care@example.com"},
                "retry": {"attempts": 2, "base_s": 0.05, "max_s": 1, "later_s": [0.3, 0.3]},
            }
            (tmp_path / "dispatch.yaml").write_text(yaml.safe_dump(config))
            env = worker_env(broker.bootstrap, unique, tmp_path / "data")
            env["TIERWATCH_DISPATCH_FILE"] = str(tmp_path / "dispatch.yaml")
            env["TIERWATCH_ACTION_KEYS"] = keys
            env["TIERWATCH_PUBLIC_URL"] = "http://tierwatch.example.com"
            with worker(env, tmp_path / "worker.log") as proc:
                group = GroupWatcher(broker.bootstrap, f"{unique}-app", lambda: proc.poll() is None)
                async with Driver(broker.bootstrap, topics, 4) as driver, group:
                    await driver.play(iter(records), POLICY, group)
                alerts = await read_topic(broker.bootstrap, topics.alerts, 1, idle_s=2.0, max_s=30)
                expected = sum(1 for _ in alerts)
                for _ in range(100):  # until every transition's webhook arrived, or 10 s
                    ids = {orjson.loads(r.body)["id"] for r in receiver.requests if r.accepted}
                    if len(ids) >= expected:
                        break
                    await asyncio.sleep(0.1)
            return alerts, receiver.requests

    with smtp_server(recorder) as (_, smtp_port):
        try:
            alerts, requests = asyncio.run(drive(smtp_port))
        except DriverError:
            pytest.fail((tmp_path / "worker.log").read_text()[-3000:])
    transitions = {t.id: t for t in codec.transitions_of(alerts)}
    assert {t.route for t in transitions.values()} >= {
        "learner_nudge",
        "manager_outreach",
        "hr_escalation",
    }
    overdue = {o.id: o for o in map(codec.decode_alert, alerts) if isinstance(o, FollowUpOverdue)}
    assert sorted((o.learner_id, o.step) for o in overdue.values()) == [
        ("dana", "escalation"),
        ("dana", "reminder"),
        ("omar", "escalation"),
        ("omar", "reminder"),
    ]
    digests = {d.id: d for d in map(codec.decode_alert, alerts) if isinstance(d, TeamDigest)}
    assert digests  # Mia's weeks with someone at a tier (the outreach's channels by default)
    assert {d.manager_id for d in digests.values()} == {"m1"}
    accepted = [r for r in requests if r.accepted]
    assert [r.accepted for r in requests if r.accepted is not None] == [True] * len(accepted)
    bodies = [(r.headers["webhook-id"], orjson.loads(r.body)) for r in accepted]
    assert {body["id"] for _, body in bodies} == set(transitions) | set(overdue) | set(digests)
    assert all(wid.startswith(body["id"]) for wid, body in bodies)
    by_webhook_id = Counter(wid for wid, _ in bodies)
    assert set(by_webhook_id.values()) == {1}  # one webhook-id per message, delivered once
    deliveries = Counter((body["id"], body["role"]) for _, body in bodies)
    routes = {**{i: t.route for i, t in transitions.items()}, **{i: "" for i in overdue}}
    routes |= {i: "team_digest" for i in digests}
    roles = Counter((routes[tid], role) for tid, role in deliveries)
    assert roles[("learner_nudge", "learner")] >= 1
    assert roles[("hr_escalation", "hr")] >= 1
    assert roles[("hr_escalation", "manager")] >= 1
    assert roles[("team_digest", "manager")] == len(digests)  # once each
    for _, body in bodies:  # a digest links to Mia's team view
        if body["id"] in digests:
            token = body["links"]["team"].rsplit("/", 1)[1]
            assert ActionKeys([keys]).read_team(token, dt.datetime.now(dt.UTC)).manager_id == "m1"
    chased = sorted(
        (overdue[b["id"]].step, b["route"], b["role"]) for _, b in bodies if b["id"] in overdue
    )
    assert chased == [
        *[("escalation", "follow_up_overdue", role) for role in ("hr", "hr", "manager", "manager")],
        ("reminder", "follow_up_reminder", "manager"),
        ("reminder", "follow_up_reminder", "manager"),
    ]
    for _, body in bodies:  # the action link is bound to the arrival the follow-up chases
        if body["id"] in overdue:
            token = body["links"]["act"].rsplit("/", 1)[1]
            grant = ActionKeys([keys]).read(token, dt.datetime.now(dt.UTC))
            assert grant.transition_id == overdue[body["id"]].transition_id
            assert transitions[grant.transition_id].to_tier == 2
            assert grant.recipient == body["role"]
    mails = [email.message_from_bytes(e.content) for e in recorder.envelopes]
    to = Counter(m["To"] for m in mails)
    assert to["dana@example.com"] >= 1
    assert to["mia@example.com"] >= 2
    assert to["hr@example.com"] >= 1
    assert all(m.is_multipart() for m in mails)
    reminders = [m for m in mails if m["Subject"].startswith("Reminder: your check-in")]
    assert sorted(m["To"] for m in reminders) == ["mia@example.com"] * 2
    overdue_to_hr = [m for m in mails if m["Subject"].startswith("Follow-up overdue")]
    assert sorted(m["To"] for m in overdue_to_hr) == ["hr@example.com"] * 2


def test_an_erased_learner_gets_no_transition_or_message_afterwards(broker, unique, tmp_path):
    """Erin is nudged in week 4, then erased: her silent weeks 5 and 6 bring no transition
    and no message, while Finn, dipping the same way, still gets his."""
    records = ordered(
        [
            profile("erin").model_copy(update={"email": "erin@example.com"}),
            profile("finn").model_copy(update={"email": "finn@example.com"}),
            *weeks("erin", [6, 6, 6, 6, 2]),
            *weeks("finn", [6, 6, 6, 6, 2]),
        ]
    )
    topics = make_topics(broker.bootstrap, unique)
    secret = new_secret()

    async def drive() -> tuple[list, list]:
        async with HttpReceiver() as receiver:
            receiver.handler = verifying(receiver, WebhookSigner([secret]))
            config = {
                "channels": {
                    "hook": {"type": "webhook", "url": receiver.url(), "secrets": [secret]}
                },
                "routes": {
                    **{r: ["hook"] for r in ("learner_nudge", "manager_outreach", "hr_escalation")},
                    "team_digest": [],  # about learners' messages: no digests
                },
            }
            (tmp_path / "dispatch.yaml").write_text(yaml.safe_dump(config))
            env = worker_env(broker.bootstrap, unique, tmp_path / "data")
            env["TIERWATCH_DISPATCH_FILE"] = str(tmp_path / "dispatch.yaml")
            with worker(env, tmp_path / "worker.log") as proc:
                group = GroupWatcher(broker.bootstrap, f"{unique}-app", lambda: proc.poll() is None)
                async with Driver(broker.bootstrap, topics, 4) as driver, group:

                    async def erase_after_the_nudge(stats) -> None:
                        if stats.ticks == 37:  # Tuesday of week 5: week 4 evaluated
                            await driver.erase("erin")

                    await driver.play(
                        iter(records), POLICY, group, until=at(7, 2), on_tick=erase_after_the_nudge
                    )
                alerts = await read_topic(broker.bootstrap, topics.alerts, 3, idle_s=2.0, max_s=30)
                await asyncio.sleep(1.0)
            return alerts, receiver.requests

    try:
        alerts, requests = asyncio.run(drive())
    except DriverError:
        pytest.fail((tmp_path / "worker.log").read_text()[-3000:])
    moves = [(t.learner_id, t.from_tier, t.to_tier) for t in codec.transitions_of(alerts)]
    assert moves.count(("erin", 0, 1)) == 1
    assert [m for m in moves if m[0] == "erin"] == [("erin", 0, 1)]
    assert ("finn", 1, 2) in moves
    assert ("finn", 2, 3) in moves
    learners = [orjson.loads(r.body)["learner"]["id"] for r in requests if r.accepted]
    assert learners.count("erin") <= 1  # at most the nudge that went before the erasure
    # nudge, outreach, escalation to HR and the manager, and the reminder of the
    # outreach's follow-up (due Tue W7, not recorded: the manager reminded on Wed W7)
    assert learners.count("finn") == 5


def test_a_worker_killed_right_after_sending_sends_at_most_once_more(own_broker, unique, tmp_path):
    """The worker is killed (SIGKILL) the moment the receiver gets a nudge, and restarted:
    the receiver sees that webhook-id at most twice, and the delivery log records one
    delivery."""
    broker = own_broker
    from stream.broker import stop_process
    from stream.dispatch.ledger import DispatchState
    from stream.sim import demo

    records = ordered([profile("kim"), *weeks("kim", [6, 6, 6, 6, 2])])
    topics = make_topics(broker.bootstrap, unique)
    secret = new_secret()
    log = (tmp_path / "worker.log").open("wb")
    current: dict = {}

    async def drive() -> tuple[list, list]:
        first = asyncio.Event()
        async with HttpReceiver() as receiver:
            verify = verifying(receiver, WebhookSigner([secret]))

            async def kill_on_first(request: web.Request, body: bytes) -> web.StreamResponse:
                if not first.is_set():
                    current["proc"].kill()  # no chance to record the delivery
                    first.set()
                return await verify(request, body)

            receiver.handler = kill_on_first
            config = {
                "channels": {
                    "hook": {"type": "webhook", "url": receiver.url(), "secrets": [secret]}
                },
                "routes": {"learner_nudge": ["hook"]},
            }
            (tmp_path / "dispatch.yaml").write_text(yaml.safe_dump(config))
            env = worker_env(broker.bootstrap, unique, tmp_path / "data")
            env["TIERWATCH_DISPATCH_FILE"] = str(tmp_path / "dispatch.yaml")
            current["proc"] = demo.start_worker(env, log)
            group = GroupWatcher(broker.bootstrap, f"{unique}-app")
            async with Driver(broker.bootstrap, topics, 4) as driver, group:
                play = asyncio.create_task(driver.play(iter(records), POLICY, group))
                await asyncio.wait_for(first.wait(), 60)
                current["proc"].wait()
                current["proc"] = demo.start_worker(env, log)
                await play
            for _ in range(100):
                if (
                    len([r for r in receiver.requests if r.accepted]) >= 1
                    and len(receiver.requests) >= 2
                ):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)
            changelog = await read_topic(
                broker.bootstrap, f"{unique}-app-dispatch-changelog", 1, idle_s=1.0, max_s=20
            )
        return receiver.requests, changelog

    try:
        requests, changelog = asyncio.run(drive())
    except DriverError:
        pytest.fail((tmp_path / "worker.log").read_text()[-3000:])
    finally:
        if "proc" in current:
            stop_process(current["proc"], timeout=20)
        log.close()
    ids = Counter(r.headers.get("webhook-id") for r in requests)
    assert len(ids) == 1
    assert 1 <= next(iter(ids.values())) <= 2
    state = DispatchState.model_validate_json(changelog[-1])
    assert list(state.log.values()) == ["delivered"]


def test_exhausted_deliveries_land_on_the_dead_letter_topic_and_redrive_delivers_them(
    broker, unique, tmp_path
):
    """A receiver down for every attempt and retry round: the message is dead-lettered,
    nothing is lost; once the receiver is back, `tierwatch dlq redrive` delivers it."""
    from typer.testing import CliRunner

    from schemas.deadletter import DeadLetter
    from stream.cli import app

    records = ordered([profile("lou"), *weeks("lou", [6, 6, 6, 6, 2])])
    topics = make_topics(broker.bootstrap, unique)
    secret = new_secret()

    async def drive() -> tuple[list, list, str]:
        async with HttpReceiver() as receiver:
            down = {"on": True}
            verify = verifying(receiver, WebhookSigner([secret]))

            async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
                if down["on"]:
                    return web.Response(status=503)
                return await verify(request, body)

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
                tries_while_down = len(receiver.requests)
                down["on"] = False
                cli_env = {
                    "TIERWATCH_BROKER": broker.bootstrap,
                    "TIERWATCH_TOPIC_PREFIX": f"{unique}.",
                    "TIERWATCH_APP_ID": f"{unique}-app",
                }
                result = await asyncio.to_thread(
                    CliRunner().invoke, app, ["dlq", "redrive"], env=cli_env
                )
                for _ in range(100):
                    if any(r.accepted for r in receiver.requests):
                        break
                    await asyncio.sleep(0.1)
            return (
                letters,
                receiver.requests[tries_while_down:],
                result.output + str(tries_while_down),
            )

    try:
        letters, after, output = asyncio.run(drive())
    except DriverError:
        pytest.fail((tmp_path / "worker.log").read_text()[-3000:])
    (letter,) = [DeadLetter.model_validate_json(v) for v in letters]
    assert letter.reason == "dispatch_delivery_exhausted"
    assert output.endswith("4")  # 2 attempts, then 2 more in the single retry round
    assert [r.accepted for r in after] == [True]
