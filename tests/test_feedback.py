"""`tierwatch feedback`: manager feedback counted per reason code, beside how often each
code fired.

Two learners, eight weeks (x = the week that raised the transition):

    week            0   1   2   3   4   5   6   7
    ana events      6   6   6   6   2   1   0   6    0->1 major_dip (wk 4), 1->2 repeated_dip,
                                                     2->3 disengagement
    ben events      7   7   7   7   2   7   7   7    0->1 missed_assignment (c1 due wk 2),
    (sales_rep)                                      1->2 exposed_major_dip + major_dip +
                                                     missed_assignment (wk 4), falls, ...
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import structlog
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from schemas.roster import Intervention
from schemas.transitions import TierTransition
from stream import codec
from stream.cli import app
from stream.tools.feedback import Row, render, tally
from tests.kit import assignment, at, day, intervention, profile, run, weeks
from tests.streaming import make_topics


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """The CLI configures structlog onto the runner's stderr; put the old set-up back after."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def team() -> list[TierTransition]:
    return run(
        [
            profile("ana"),
            profile("ben", "sales_rep"),
            *weeks("ana", [6, 6, 6, 6, 2, 1, 0, 6]),
            *weeks("ben", [7, 7, 7, 7, 2, 7, 7, 7]),
            assignment("ben", "c1", "milestone", day(2, 0), at(0)),  # counts for 30 days
        ],
        8,
    )


def move(transitions: list[TierTransition], learner: str, to_tier: int) -> TierTransition:
    return next(t for t in transitions if t.learner_id == learner and t.to_tier == to_tier)


def feedback(kind: str, transition_id: str | None, week: int = 6) -> Intervention:
    fields = {"learner_id": "ana", "kind": kind, "at": at(week), "transition_id": transition_id}
    return Intervention.model_validate(fields)


def team_feedback(ts: list[TierTransition]) -> list[Intervention]:
    ana_1, ben_1, ben_2 = move(ts, "ana", 1), move(ts, "ben", 1), move(ts, "ben", 2)
    return [
        feedback("not_useful", ana_1.id),
        feedback("not_useful", ana_1.id),  # the same record again (at-least-once): counts once
        feedback("not_useful", ben_1.id, week=7),
        feedback("incorrectly_flagged", ben_2.id),
        feedback("incorrectly_flagged", "no-such-transition"),
        feedback("not_useful", None),
        intervention("ana", "conversation_held", at(6)),  # not feedback: not counted
    ]


def test_feedback_counts_once_per_reason_code_of_the_transition_it_names():
    """Each piece of feedback counts for every code of its transition; rows sort by feedback,
    then by how many transitions carried the code; unknown transitions are counted apart."""
    ts = team()
    result = tally(team_feedback(ts), [*ts, ts[0]])  # a repeated transition counts once
    assert result.rows[:3] == [
        Row("major_dip", not_useful=1, incorrectly_flagged=1, transitions=3),
        Row("missed_assignment", not_useful=1, incorrectly_flagged=1, transitions=2),
        Row("exposed_major_dip", not_useful=0, incorrectly_flagged=1, transitions=2),
    ]
    assert {r.code: r.total for r in result.rows[3:]} == {
        "quiet_weeks": 0,
        "disengagement": 0,
        "repeated_dip": 0,
    }
    assert result.unknown == {"incorrectly_flagged": 1, "not_useful": 1}
    assert result.feedback == 5


def test_the_same_feedback_from_a_link_clicked_twice_counts_once():
    """A form posted twice (or a button clicked twice) records the same id at another
    instant: one piece of feedback."""
    ts = team()
    ana_1 = move(ts, "ana", 1)
    first = feedback("not_useful", ana_1.id).model_copy(update={"id": "act:abc:not_useful:"})
    again = first.model_copy(update={"at": at(7)})
    assert tally([first, again], ts).feedback == 1


def test_the_table_shows_counts_transitions_and_the_unknown_line():
    """The rendered table has a header, one row a code and a line for unknown transitions."""
    ts = team()
    lines = render(tally(team_feedback(ts), ts))
    assert lines[0].split() == [
        "reason",
        "code",
        "not_useful",
        "incorrectly_flagged",
        "total",
        "transitions",
    ]
    assert lines[2].split() == ["major_dip", "1", "1", "2", "3"]
    assert "(no known transition)" in lines[-2]
    assert lines[-2].split()[-4:] == ["1", "1", "2", "-"]
    assert lines[-1].startswith("5 pieces of feedback")


def test_no_transitions_and_no_feedback_says_so():
    """An empty pipeline gives a sentence, not an empty table."""
    assert render(tally([], [])) == ["no transitions and no feedback yet"]


@pytest.mark.broker
def test_the_command_reads_alerts_and_interventions_from_the_broker(broker, unique):
    """`tierwatch feedback` tallies CloudEvents on the alerts topic and JSON interventions."""
    ts = team()
    topics = make_topics(broker.bootstrap, unique)

    async def fill() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            for t in ts:
                value = codec.encode_transition(t, "tierwatch/test")
                await producer.send_and_wait(topics.alerts, value, key=t.learner_id.encode())
            for item in team_feedback(ts):
                value = codec.encode_record(item)
                await producer.send_and_wait(
                    topics.interventions, value, key=item.learner_id.encode()
                )
            await producer.send_and_wait(topics.interventions, b"{not json", key=b"ana")
        finally:
            await producer.stop()

    asyncio.run(fill())
    env = {
        "TIERWATCH_BROKER": broker.bootstrap,
        "TIERWATCH_TOPIC_PREFIX": f"{unique}.",
        "TIERWATCH_APP_ID": f"{unique}-app",
    }
    result = CliRunner().invoke(app, ["feedback"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[2].split() == ["major_dip", "1", "1", "2", "3"]
    assert "(no known transition)" in result.stdout
    assert "5 pieces of feedback" in result.stdout
    assert "(1 unreadable records skipped)" in result.stdout
