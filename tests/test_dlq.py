"""`tierwatch dlq list` and `dlq redrive`: dead letters back out of the broker.

The broker tests put three dead letters on a fresh dead-letter topic, as the pipeline
writes them: one from the events topic (garbage, refused on arrival) and two from dispatch
(deliveries it gave up on: `payload` names the delivery, parked in the learner's dispatch
state, and never holds the rendered message).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest
import structlog
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from schemas.deadletter import DeadLetter
from schemas.dispatch import ParkedDelivery, PendingDelivery, RedriveRequest
from stream import codec
from stream.cli import app
from stream.errors import InvalidRecord
from stream.tools.dlq import NO_BROKER, Letter, Message, decode, plan_redrive
from stream.topics import Topics
from tests.streaming import make_topics, read_topic

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """The CLI configures structlog onto the runner's stderr; put the old set-up back after."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def pending(learner: str, transition: str, round_: int = 3) -> PendingDelivery:
    return PendingDelivery(
        learner_id=learner, role="manager", id=transition, route="manager_outreach",
        channel="webhook", recipient="https://notify.example/hook", subject="A conversation",
        text="Hello", round=round_, due_at=NOW,
    )  # fmt: skip


def input_letter(topics: Topics) -> bytes:
    error = InvalidRecord("not_json", "(message): Invalid JSON: expected value at line 1")
    return codec.dead_letter(topics.events, 2, 17, b"ana", b"{not json", error, NOW)


def dispatch_letter(topics: Topics, p: PendingDelivery, reason: str = "delivery_exhausted"):
    """A dispatch dead letter as the dispatch agent writes it: the parked delivery's name."""
    error = InvalidRecord(f"dispatch_{reason}", f"webhook to manager: {reason}: HTTP 503")
    parked = ParkedDelivery(id=p.id, channel=p.channel, role=p.role, route=p.route, round=p.round)
    value = parked.model_dump_json().encode()
    key = p.learner_id.encode()
    return codec.dead_letter(topics.retry, -1, -1, key, value, error, NOW, redrivable=True)


def legacy_dispatch_letter(topics: Topics, p: PendingDelivery) -> bytes:
    """A dispatch dead letter written before scrubbing: the rendered delivery itself."""
    return DeadLetter(
        topic=topics.retry, partition=-1, offset=-1, key=p.learner_id,
        reason="dispatch_delivery_exhausted", detail="webhook to manager: HTTP 503",
        payload=p.model_dump_json(), at=NOW,
    ).model_dump_json().encode()  # fmt: skip


def produce(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, value in values:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(send())


def invoke(*args: str, env: dict[str, str | None]):
    return CliRunner().invoke(app, list(args), env=env)


@pytest.fixture
def filled(broker, unique):
    """A fresh set of topics whose dead-letter topic holds one input and two dispatch letters."""
    topics = make_topics(broker.bootstrap, unique)
    produce(
        broker.bootstrap,
        topics.deadletter,
        [
            (b"ana", input_letter(topics)),
            (b"ben", dispatch_letter(topics, pending("ben", "tr-ben-1"))),
            (b"cai", dispatch_letter(topics, pending("cai", "tr-cai-1"), "failed")),
        ],
    )
    env: dict[str, str | None] = {
        "TIERWATCH_BROKER": broker.bootstrap,
        "TIERWATCH_TOPIC_PREFIX": f"{unique}.",
        "TIERWATCH_APP_ID": f"{unique}-app",
    }
    return topics, env


@pytest.mark.broker
def test_list_shows_every_dead_letter_with_its_reason_and_a_count(filled):
    """`dlq list` prints one line a dead letter (source topic, reason) and counts by reason."""
    topics, env = filled
    result = invoke("dlq", "list", env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert any(topics.events in line and "not_json" in line for line in lines)
    assert any(topics.retry in line and "dispatch_delivery_exhausted" in line for line in lines)
    assert any(topics.retry in line and "dispatch_failed" in line for line in lines)
    assert lines[-1] == (
        "3 dead letters: 1 dispatch_delivery_exhausted, 1 dispatch_failed, 1 not_json"
    )


@pytest.mark.broker
def test_list_filters_by_reason_and_limits(filled):
    """`--reason` keeps one reason; `--limit` shows the latest N and says how many there are."""
    _, env = filled
    only = invoke("dlq", "list", "--reason", "not_json", env=env)
    assert only.stdout.splitlines()[-1] == "1 dead letter: 1 not_json"
    latest = invoke("dlq", "list", "--limit", "1", env=env)
    assert "(the latest 1 of 3; --limit to see more)" in latest.stdout


@pytest.mark.broker
def test_redrive_republishes_dispatch_letters_once_and_never_input_letters(broker, filled):
    """Redrive sends a request for each of the two parked dispatch deliveries to the retry
    topic (keyed by learner), says the input one cannot be redriven, and a second redrive
    sends nothing."""
    topics, env = filled
    dry = invoke("dlq", "redrive", "--dry-run", env=env)
    assert "would redrive 2 dispatch dead letters" in dry.stdout

    first = invoke("dlq", "redrive", env=env)
    assert first.exit_code == 0, first.output
    assert f"redrove 2 dispatch dead letters to {topics.retry}" in first.stdout
    assert "1 input or HTTP dead letters: invalid when they arrived" in first.stdout

    values = asyncio.run(read_topic(broker.bootstrap, topics.retry, 2, idle_s=0.5, max_s=10))
    redriven = sorted(map(RedriveRequest.model_validate_json, values), key=lambda p: p.id)
    assert redriven == [
        RedriveRequest(learner_id="ben", id="tr-ben-1", channel="webhook", role="manager"),
        RedriveRequest(learner_id="cai", id="tr-cai-1", channel="webhook", role="manager"),
    ]

    second = invoke("dlq", "redrive", env=env)
    assert second.exit_code == 0, second.output
    assert "redrove 0 dispatch dead letters" in second.stdout
    again = asyncio.run(read_topic(broker.bootstrap, topics.retry, idle_s=0.5, max_s=10))
    assert len(again) == 2


@pytest.mark.broker
def test_a_missing_topic_is_a_sentence_not_a_traceback(broker, unique):
    """Listing under a prefix no worker ever used says the topic does not exist (exit 1)."""
    env = {"TIERWATCH_BROKER": broker.bootstrap, "TIERWATCH_TOPIC_PREFIX": f"{unique}.none."}
    result = invoke("dlq", "list", env=env)
    assert result.exit_code == 1
    assert "does not exist on the broker" in result.stderr


@pytest.mark.parametrize("command", [["dlq", "list"], ["dlq", "redrive"], ["feedback"]])
def test_without_a_broker_the_commands_exit_2_with_a_sentence(command):
    """The dead letters live in a running broker: without TIERWATCH_BROKER, exit 2 and say so."""
    result = invoke(*command, env={"TIERWATCH_BROKER": None})
    assert result.exit_code == 2
    assert NO_BROKER in " ".join(result.stderr.split())


def test_a_reason_filter_holds_a_partition_back_rather_than_pass_a_letter_over():
    """With `--reason`, redrive stops a partition before a redrivable letter of another
    reason (committing only what it handled), so a later redrive still reaches it:

        partition 0:  @0 input   @1 exhausted   @2 failed   @3 exhausted
        --reason dispatch_delivery_exhausted  ->  skip @0, redrive @1, hold at @2; commit 2
    """
    topics = Topics.named("x.")
    values = [
        input_letter(topics),
        dispatch_letter(topics, pending("a", "t1")),
        dispatch_letter(topics, pending("b", "t2"), "failed"),
        dispatch_letter(topics, pending("c", "t3")),
    ]
    letters = decode(Message(0, i, None, v) for i, v in enumerate(values))
    plan = plan_redrive(letters, NOW, "dispatch_delivery_exhausted")
    assert [p.id for _, p in plan.deliveries] == ["t1"]
    assert plan.deliveries[0][1] == RedriveRequest(
        learner_id="a", id="t1", channel="webhook", role="manager"
    )
    assert plan.held == {0: Letter(0, 2, letters[2].letter)}
    assert plan.commit == {0: 2}
    assert dict(plan.cannot) == {}  # the input letter is of another reason: passed over
    assert plan.other_reasons == 1


def test_unrendered_dispatch_letters_and_garbage_cannot_be_redriven():
    """A dispatch letter without a rendered delivery (a missing recipient) and an unreadable
    record are counted as not redrivable, and redrive moves past them."""
    topics = Topics.named("x.")
    error = InvalidRecord("dispatch_missing_recipient", "email to manager: no manager email")
    unrendered = codec.dead_letter(topics.retry, -1, -1, b"a", b"tr-1", error, NOW)
    letters = decode([Message(1, 5, None, unrendered), Message(1, 6, None, b"\x00garbage")])
    plan = plan_redrive(letters, NOW)
    assert plan.deliveries == []
    assert dict(plan.cannot) == {"unrendered": 1, "unreadable": 1}
    assert plan.commit == {1: 7}


def test_a_letter_from_before_scrubbing_is_redriven_with_its_delivery():
    """A dispatch letter that holds the rendered delivery (written before dead letters were
    scrubbed) is re-published as it is: round 0, due now, reason redrive."""
    letters = decode(
        [Message(0, 0, None, legacy_dispatch_letter(Topics.named("x."), pending("a", "t1")))]
    )
    (found,) = [p for _, p in plan_redrive(letters, NOW).deliveries]
    assert isinstance(found, PendingDelivery)
    assert (found.id, found.learner_id, found.round, found.due_at, found.reason) == (
        "t1", "a", 0, NOW, "redrive",
    )  # fmt: skip


def test_a_dispatch_letter_never_holds_the_rendered_message():
    """What dispatch dead-letters names the delivery; the recipient, subject and text of the
    message are nowhere in it, and it is marked redrivable."""
    p = pending("ana", "tr-1").model_copy(
        update={"recipient": "ana.lind@example.com", "text": "Ana, your activity fell"}
    )
    letter = DeadLetter.model_validate_json(dispatch_letter(Topics.named("x."), p))
    assert letter.redrivable
    assert ParkedDelivery.model_validate_json(letter.payload).id == "tr-1"
    assert "ana.lind" not in letter.model_dump_json()
    assert "activity fell" not in letter.model_dump_json()


def test_a_scrubbed_delivery_is_never_redriven():
    """A rendered delivery that went through scrubbing (its recipient and text removed) is
    not something to send: it counts as unrendered."""
    error = InvalidRecord("dispatch_failed", "webhook to manager: failed")
    value = pending("ana", "tr-1").model_dump_json().encode()
    letter = codec.dead_letter("x.retry", -1, -1, b"ana", value, error, NOW)
    assert "https://notify.example/hook" not in letter.decode()
    plan = plan_redrive(decode([Message(0, 0, None, letter)]), NOW)
    assert plan.deliveries == []
    assert dict(plan.cannot) == {"unrendered": 1}


@pytest.mark.broker
def test_the_dead_letter_topic_is_created_with_a_retention(broker, unique):
    """Dead letters stay keyed by learner id: the topic deletes them after
    TIERWATCH_DEADLETTER_RETENTION_DAYS (30 by default), so none outlives that by much."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    topics = make_topics(broker.bootstrap, unique)

    async def describe() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            resource = ConfigResource(ConfigResourceType.TOPIC, topics.deadletter)
            (response,) = await admin.describe_configs([resource])
        finally:
            await admin.close()
        (entry,) = response.resources
        return {name: value for name, value, *_ in entry[4]}

    configs = asyncio.run(describe())
    assert configs["cleanup.policy"] == "delete"
    assert configs["retention.ms"] == str(30 * 86_400_000)
