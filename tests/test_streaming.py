"""The pipeline on the embedded broker: streaming equals replay; bad records never stop it."""

from __future__ import annotations

import asyncio
import io
import urllib.request

import orjson
import pytest

from schemas.deadletter import DeadLetter
from stream import codec
from stream.broker import stop_process
from stream.logs import Pseudonymizer
from stream.sim.driver import Driver, DriverError, GroupWatcher
from stream.tools.replay import replay
from tests.kit import POLICY, assignment, at, day, event, intervention, ordered, profile, weeks
from tests.streaming import make_topics, read_topic, worker, worker_env

pytestmark = pytest.mark.broker


def team_history() -> list:
    """A small team that reaches every tier: dips, missed work, a concern, a steady peer."""
    records = [
        profile("steady", "back_office"),
        profile("dipper"),
        profile("silent", "team_lead"),
        profile("rep", "sales_rep"),
        profile("officer", "compliance_officer"),
        *weeks("steady", [6] * 8),
        *weeks("dipper", [6, 6, 6, 6, 3, 6, 6, 6]),
        *weeks("silent", [5, 5, 5, 5]),
        *weeks("rep", [7, 7, 7, 7, 7, 2, 7, 7]),
        *weeks("officer", [4] * 8),
        assignment("officer", "k1", "compliance", day(3, 2), at(0)),
        assignment("rep", "c1", "certification", day(2, 0), at(0)),
        assignment("rep", "c2", "certification", day(3, 0), at(0)),
        event("rep", at(4, 1), "completion", object_id="c1"),
        event("dipper", at(2, 3, 15), "assessment", score=0.9, object_id="q"),
        event("dipper", at(3, 3, 15), "assessment", score=0.85, object_id="q"),
        event("dipper", at(4, 3, 15), "assessment", score=0.5, object_id="q"),
        intervention("steady", "concern_raised", at(5, 2)),
    ]
    return ordered(records)


def expected_transitions(records: list) -> dict[str, object]:
    buf = io.BytesIO()
    replay(iter(records), POLICY, buf)
    return {t.id: t for t in map(codec.decode_transition_json, buf.getvalue().splitlines())}


def test_streamed_history_gives_exactly_the_replayed_transitions(broker, unique, tmp_path):
    """The same history through Kafka and a worker process equals `tierwatch replay`."""
    records = team_history()
    expected = expected_transitions(records)
    assert {t.to_tier for t in expected.values()} >= {1, 2, 3}
    topics = make_topics(broker.bootstrap, unique)
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")

    async def drive(alive) -> list[bytes]:
        group = GroupWatcher(broker.bootstrap, f"{unique}-app", alive)
        async with Driver(broker.bootstrap, topics, 4) as driver, group:
            await driver.play(iter(records), POLICY, group)
        return await read_topic(broker.bootstrap, topics.alerts, len(expected), max_s=30)

    with worker(env, tmp_path / "worker.log") as proc:
        try:
            values = asyncio.run(drive(lambda: proc.poll() is None))
        except DriverError:
            pytest.fail((tmp_path / "worker.log").read_text()[-3000:])
    streamed = {}
    for t in codec.transitions_of(values):
        streamed[t.id] = t  # at-least-once: a repeat carries the same id

    def brief(ts):
        return sorted((t.learner_id, str(t.at), t.from_tier, t.to_tier) for t in ts.values())

    assert brief(streamed) == brief(expected)
    assert streamed == expected


def test_malformed_records_go_to_the_dead_letter_topic_and_the_worker_goes_on(
    broker, unique, tmp_path
):
    """Garbage, a wrong field and a key mismatch are dead-lettered; later records still count."""
    from aiokafka import AIOKafkaProducer

    topics = make_topics(broker.bootstrap, unique)
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")
    good = ordered([*weeks("g", [6, 6, 6, 6, 1])])
    bad_fields = orjson.dumps({"id": "x", "learner_id": "g", "kind": "dance"})
    mismatch = codec.encode_record(event("someone-else", at(0)))

    async def drive() -> tuple[list[bytes], list[bytes]]:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topics.events, b"{not json", key=b"g")
            await producer.send_and_wait(topics.events, bad_fields, key=b"g")
            await producer.send_and_wait(topics.events, mismatch, key=b"g")
            await producer.send_and_wait(topics.clock, b'{"now": "yesterday"}', partition=0)
        finally:
            await producer.stop()
        group = GroupWatcher(broker.bootstrap, f"{unique}-app")
        async with Driver(broker.bootstrap, topics, 4) as driver, group:
            await driver.play(iter(good), POLICY, group)
        letters = await read_topic(broker.bootstrap, topics.deadletter, 4)
        alerts = await read_topic(broker.bootstrap, topics.alerts, 1)
        return letters, alerts

    with worker(env, tmp_path / "worker.log"):
        letters, alerts = asyncio.run(drive())
    reasons = sorted(DeadLetter.model_validate_json(v).reason for v in letters)
    assert reasons == ["invalid_fields", "invalid_tick", "key_mismatch", "not_json"]
    by_reason = {letter.reason: letter for letter in map(DeadLetter.model_validate_json, letters)}
    assert by_reason["not_json"].payload == "{not json"
    assert by_reason["not_json"].topic == topics.events
    assert by_reason["not_json"].key == "g"
    assert "kind" in by_reason["invalid_fields"].detail
    assert by_reason["invalid_tick"].topic == topics.clock
    transitions = codec.transitions_of(alerts)
    assert [(t.learner_id, t.to_tier) for t in transitions] == [("g", 1)]


def test_leader_ticks_with_the_wall_clock_notice_an_overdue_module(broker, unique, tmp_path):
    """In production mode the leader's timer ticks every partition: a compliance module
    two days overdue for a compliance officer raises Tier 3 with no event arriving."""
    import datetime as dt

    from schemas import Assignment, Intervention, LearnerProfile

    topics = make_topics(broker.bootstrap, unique)
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")
    env.update(
        {
            "TIERWATCH_CLOCK": "wall",
            "TIERWATCH_TICK_INTERVAL_S": "1",
            "TIERWATCH_LOG_LEVEL": "info",
            "TIERWATCH_LOG_FORMAT": "json",
            "TIERWATCH_PSEUDONYM_KEY": "test-key",
        }
    )
    now = dt.datetime.now(dt.UTC)
    records = [
        LearnerProfile(learner_id="officer", role="compliance_officer"),
        Assignment(
            learner_id="officer",
            module_id="aml-2026",
            kind="compliance",
            due=(now - dt.timedelta(days=2)).date(),
            assigned_at=now - dt.timedelta(days=20),
        ),
    ]

    async def drive() -> list[bytes]:
        async with Driver(broker.bootstrap, topics, 4) as driver:
            for record in records:
                await driver.send(record)
            await driver.settle()
            values = await read_topic(broker.bootstrap, topics.alerts, 1, idle_s=1.0, max_s=60)
            feedback = Intervention(
                learner_id="officer",
                kind="not_useful",
                at=now,
                transition_id=codec.transitions_of(values)[0].id,
            )
            await driver.send(feedback)
            await driver.settle()
            await asyncio.sleep(1.0)
        return values

    with worker(env, tmp_path / "worker.log"):
        values = asyncio.run(drive())
        web = f"http://127.0.0.1:{env['TIERWATCH_WEB_PORT']}"
        ready = urllib.request.urlopen(f"{web}/readyz", timeout=5)
        exposition = urllib.request.urlopen(f"{web}/metrics", timeout=5).read().decode()
    assert ready.status == 200
    assert (
        'tierwatch_transitions_total{from_tier="0",route="hr_escalation",to_tier="3"} 1.0'
        in exposition
    )
    assert 'tierwatch_events_processed_total{topic="assignments"} 1.0' in exposition
    assert 'tierwatch_learners_by_tier{tier="3"} 1.0' in exposition
    feedback = 'tierwatch_feedback_total{code="compliance_sensitive_overdue",kind="not_useful"} 1.0'
    assert feedback in exposition
    assert "officer" not in exposition
    transitions = codec.transitions_of(values)
    assert [(t.learner_id, t.from_tier, t.to_tier) for t in transitions] == [("officer", 0, 3)]
    log = (tmp_path / "worker.log").read_text()
    logged = [orjson.loads(line) for line in log.splitlines() if line.startswith("{")]
    sink = [e for e in logged if e.get("event") == "tier_transition"]
    assert [(e["learner"], e["to_tier"]) for e in sink] == [
        (Pseudonymizer("test-key")("officer"), 3)
    ]
    assert "officer" not in log
    assert transitions[0].reasons[0].code == "compliance_sensitive_overdue"
    assert transitions[0].at >= now


def test_a_restarted_worker_recovers_its_state_and_streaming_still_equals_replay(
    own_broker, unique, tmp_path
):
    """A simulated team; the worker is stopped after four weeks and a new one takes over
    from the changelog and the committed offsets: the transitions still equal replay's."""
    broker = own_broker
    from stream.sim import demo
    from stream.sim.simulate import simulate

    records = list(simulate(24, 8, seed=5, policy=POLICY))
    expected = expected_transitions(records)
    assert {t.to_tier for t in expected.values()} >= {1, 2, 3}
    topics = make_topics(broker.bootstrap, unique)
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")
    log = (tmp_path / "worker.log").open("wb")
    current = {"proc": demo.start_worker(env, log)}

    def restart_after_four_weeks(stats) -> None:
        if stats.ticks == 28:
            stop_process(current["proc"], timeout=20)
            current["proc"] = demo.start_worker(env, log)

    async def drive() -> list[bytes]:
        group = GroupWatcher(
            broker.bootstrap, f"{unique}-app", lambda: current["proc"].poll() is None
        )
        async with Driver(broker.bootstrap, topics, 4) as driver, group:
            await driver.play(
                iter(records), POLICY, group, on_tick=restart_after_four_weeks, tick_timeout=120
            )
        return await read_topic(broker.bootstrap, topics.alerts, len(expected), max_s=30)

    try:
        values = asyncio.run(drive())
    except DriverError:
        pytest.fail((tmp_path / "worker.log").read_text()[-3000:])
    finally:
        stop_process(current["proc"], timeout=20)
        log.close()
    streamed = {t.id: t for t in codec.transitions_of(values)}
    assert streamed == expected
