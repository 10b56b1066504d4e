"""The learner agent's batch: one read and one write per learner, the same states and
transitions as one record at a time, and a failed step that does not corrupt the state."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from faust.streams import current_event

from schemas.history import Record
from schemas.teams import TeamUpdate
from stream.core import team
from stream.core.state import LearnerState
from stream.core.step import Output, step
from stream.core.wakeups import WakeIndex
from stream.metrics import Metrics
from stream.settings import Settings
from stream.topics import Topics
from stream.worker.agents import batch as batch_module
from stream.worker.agents.batch import Batch, Intake, acting_for
from stream.worker.pipeline import Pipeline
from stream.worker.progress import Progress
from tests.kit import POLICY, assignment, at, event, profile


@dataclass
class Message:
    partition: int


@dataclass
class Event:
    message: Message


class CountingTable(dict[str, bytes]):
    """A dict that counts writes and remembers the event each write was made for."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, int | None]] = []

    def __setitem__(self, key: str, value: bytes) -> None:
        event = current_event()
        self.writes.append((key, event.message.partition if event else None))
        super().__setitem__(key, value)


@dataclass
class FakePipeline:
    policy: Any = POLICY
    table: CountingTable = field(default_factory=CountingTable)
    sent: list[Output] = field(default_factory=list)
    metrics: Metrics = field(default_factory=lambda: Metrics.create(parts=("worker",)))
    wakeups: WakeIndex = field(default_factory=lambda: WakeIndex(POLICY))
    settings: Settings = field(default_factory=Settings)
    progress: Progress = field(default_factory=Progress)
    topics: Topics = field(default_factory=lambda: Topics.named(""))
    intake: Any = None
    app: Any = None

    teams: list[TeamUpdate] = field(default_factory=list)

    async def emit(self, outputs: list[Output]) -> None:
        self.sent.extend(outputs)

    async def emit_team(self, learner_id: str, before: Any, after: Any) -> None:
        self.teams.extend(team.updates(learner_id, before, after, self.policy))

    def store(self, state: LearnerState, unchanged: bytes | None = None) -> bool:
        return Pipeline.store(self, state, unchanged)  # type: ignore[arg-type]

    def pseudonym(self, learner_id: str) -> str:
        return "p-" + learner_id


def history() -> list[Record]:
    records: list[Record] = [profile("ann"), profile("bob")]
    for day in range(5):
        records.append(event("ann", at(0, day), "assessment", score=0.9))
        records.append(event("bob", at(0, day)))
    records.append(event("ann", at(0, 5), "assessment", score=0.2))  # a fall: a transition
    return records


def one_at_a_time(records: list[Record]) -> tuple[dict[str, bytes], list[Output]]:
    """The reference: step and store after every record."""
    table: dict[str, bytes] = {}
    outputs: list[Output] = []
    for record in records:
        raw = table.get(record.learner_id)
        state = LearnerState.model_validate_json(raw) if raw else None
        state, out = step(state, record, POLICY)
        outputs.extend(out)
        table[record.learner_id] = state.model_dump_json(exclude_defaults=True).encode()
    return table, outputs


def run_batch(pipeline: FakePipeline, records: list[Record]) -> int:
    batch = Batch(pipeline)  # type: ignore[arg-type]

    async def go() -> int:
        for n, record in enumerate(records):
            await batch.apply(record, Event(Message(partition=n % 3)))
        return batch.flush()

    return asyncio.run(go())


def test_a_batch_writes_each_learner_once_with_the_same_result() -> None:
    records = history()
    expected_table, expected_outputs = one_at_a_time(records)
    pipeline = FakePipeline()
    written = run_batch(pipeline, records)
    assert written == 2
    assert pipeline.metrics.worker.states_written._value.get() == 2
    assert sorted(key for key, _ in pipeline.table.writes) == ["ann", "bob"]
    assert dict(pipeline.table) == expected_table
    assert pipeline.sent == expected_outputs
    assert any(not hasattr(out, "code") for out in pipeline.sent)  # the fall moved a tier


def test_the_write_names_the_learners_latest_event_partition() -> None:
    records = history()
    pipeline = FakePipeline()
    run_batch(pipeline, records)
    last = {r.learner_id: n % 3 for n, r in enumerate(records)}
    assert dict(pipeline.table.writes) == last


def test_a_second_batch_starts_from_the_stored_state_and_skips_unchanged() -> None:
    records = history()
    pipeline = FakePipeline()
    run_batch(pipeline, records[:6])
    run_batch(pipeline, records[6:])
    expected_table, _ = one_at_a_time(records)
    assert dict(pipeline.table) == expected_table
    duplicate = records[3]  # an event already counted changes nothing: no write
    before = len(pipeline.table.writes)
    assert run_batch(pipeline, [duplicate]) == 0
    assert len(pipeline.table.writes) == before


def test_a_failed_step_leaves_the_state_as_the_records_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = history()
    poisoned = records[4]

    def failing(state: LearnerState | None, item: Record, policy: Any) -> Any:
        result = step(state, item, policy)  # updates the state in place, then fails
        if item is poisoned:
            raise RuntimeError("boom")
        return result

    monkeypatch.setattr(batch_module, "step", failing)
    pipeline = FakePipeline()
    batch = Batch(pipeline)  # type: ignore[arg-type]

    async def go() -> None:
        for record in records:
            try:
                await batch.apply(record, Event(Message(0)))
            except RuntimeError:
                assert record is poisoned
        batch.flush()

    asyncio.run(go())
    expected, _ = one_at_a_time([r for r in records if r is not poisoned])
    assert dict(pipeline.table) == expected


def test_a_forgotten_learner_is_not_written_back() -> None:
    pipeline = FakePipeline()
    batch = Batch(pipeline)  # type: ignore[arg-type]

    async def go() -> int:
        for record in history():
            await batch.apply(record, Event(Message(0)))
        batch.forget("ann")
        return batch.flush()

    assert asyncio.run(go()) == 1
    assert list(pipeline.table) == ["bob"]


def test_acting_for_sets_and_restores_the_current_event() -> None:
    outer, inner = Event(Message(1)), Event(Message(2))
    with acting_for(outer):
        with acting_for(inner):
            assert current_event() is inner
        assert current_event() is outer


def test_a_batch_keeps_the_wake_up_index_true() -> None:
    pipeline = FakePipeline()
    run_batch(pipeline, history())
    assert pipeline.wakeups.take(at(0, 6, 23)) == ["ann", "bob"]  # new: due at once
    for key, raw in pipeline.table.items():
        pipeline.wakeups.stepped(key, LearnerState.model_validate_json(raw), at(0, 6, 23))
    run_batch(pipeline, [event("ann", at(1, 0)), event("bob", at(1, 0))])
    assert pipeline.wakeups.take(at(1, 0, 5)) == []  # events: asleep till week 0 is closed
    due = at(1, 0).date()
    run_batch(pipeline, [assignment("bob", "m9", "compliance", due, at(1, 0))])
    assert pipeline.wakeups.take(at(1, 0, 5)) == ["bob"]  # an assignment: due at once


@dataclass
class TopicMessage:
    topic: str
    partition: int
    offset: int


@dataclass
class InputEvent:
    message: TopicMessage


class ManualStream:
    def __init__(self) -> None:
        self.acked: list[int] = []

    async def ack(self, event: InputEvent) -> None:
        self.acked.append(event.message.offset)


def intake_for(batch_max: int, within_s: float) -> tuple[Intake, FakePipeline, ManualStream]:
    pipeline = FakePipeline(settings=Settings(batch_max=batch_max, batch_within_s=within_s))
    stream = ManualStream()
    return Intake(pipeline, stream), pipeline, stream  # type: ignore[arg-type]


def test_the_intake_stores_then_acknowledges_when_full() -> None:
    intake, pipeline, stream = intake_for(batch_max=3, within_s=60)
    topic = Topics.named("").events

    async def go() -> list[bool]:
        due = []
        for n, record in enumerate(history()[:3]):
            event = InputEvent(TopicMessage(topic, 0, n))
            await intake.batch.apply(record, event)
            intake.add(event)
            due.append(intake.due())
        await intake.flush()
        return due

    assert asyncio.run(go()) == [False, False, True]
    assert stream.acked == [0, 1, 2]
    assert set(pipeline.table) == {"ann", "bob"}
    assert pipeline.progress.reached(0, {topic: 3})
    assert not intake.due()


def test_the_intake_is_due_when_a_tick_waits_a_rebalance_runs_or_the_oldest_waited() -> None:
    intake, pipeline, _ = intake_for(batch_max=100, within_s=60)
    topic = Topics.named("").events
    intake.add(InputEvent(TopicMessage(topic, 0, 0)))
    assert not intake.due()

    async def tick_waits() -> bool:
        waiter = asyncio.create_task(pipeline.progress.wait(0, {topic: 1}, 5))
        await asyncio.sleep(0)
        due = intake.due()
        await intake.flush()
        return due and await waiter

    assert asyncio.run(tick_waits())
    rebalancing, pipeline, _ = intake_for(batch_max=100, within_s=60)
    rebalancing.add(InputEvent(TopicMessage(topic, 0, 0)))
    pipeline.app = SimpleNamespace(rebalancing=False, should_stop=False)
    assert not rebalancing.due()
    pipeline.app = SimpleNamespace(rebalancing=True, should_stop=False)
    assert rebalancing.due()  # Faust waits for every record in flight to be acknowledged
    pipeline.app = SimpleNamespace(rebalancing=False, should_stop=True)
    assert rebalancing.due()  # and so it does when the app stops
    late, _, _ = intake_for(batch_max=100, within_s=0.001)
    late.add(InputEvent(TopicMessage(topic, 0, 0)))
    time.sleep(0.01)
    assert late.due()


def test_a_learner_processed_but_not_stored_is_loaded_from_the_batch() -> None:
    intake, pipeline, _ = intake_for(batch_max=100, within_s=60)
    pipeline.intake = intake

    async def go() -> None:
        await intake.batch.apply(profile("cy", "sales_rep"), InputEvent(TopicMessage("t", 0, 0)))

    asyncio.run(go())
    assert "cy" not in pipeline.table
    loaded = Pipeline.load(pipeline, "cy")  # type: ignore[arg-type]
    assert loaded is not None
    assert loaded.profile is not None
    assert loaded.profile.role == "sales_rep"


def test_a_failed_send_leaves_the_state_as_if_the_record_never_came() -> None:
    records = history()

    class Failing(FakePipeline):
        async def emit(self, outputs: list[Output]) -> None:
            if any(not hasattr(out, "code") for out in outputs):  # a transition
                raise ConnectionError("broker gone")

    pipeline = Failing()
    batch = Batch(pipeline)  # type: ignore[arg-type]

    async def go() -> None:
        for record in records:
            with contextlib.suppress(ConnectionError):
                await batch.apply(record, Event(Message(0)))
        batch.flush()

    asyncio.run(go())
    expected, _ = one_at_a_time(records[:-1])  # the last record (the fall) failed to send
    assert dict(pipeline.table) == expected


def test_a_step_that_changes_a_learners_row_sends_it_to_their_manager() -> None:
    """A profile naming a manager puts the learner in that manager's view; an event in
    an open week changes no row and sends nothing; a move sends the removal first."""
    pipeline = FakePipeline()
    first = profile("ann").model_copy(update={"manager_id": "m1"})
    records = [
        first,
        event("ann", at(0, 1), "assessment", score=0.9),
        first.model_copy(update={"manager_id": "m2"}),
    ]
    run_batch(pipeline, records)
    assert [(u.manager_id, u.row is None) for u in pipeline.teams] == [
        ("m1", False), ("m1", True), ("m2", False),
    ]  # fmt: skip
