"""The transition log, the alerts topic's one reader, as Faust runs it
(`agent.test_context()`, `tests/faust_kit.py`): each transition, overdue follow-up and
digest is logged (learners by pseudonym) and handed to dispatch in order; an unreadable
record is logged and skipped."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

from structlog.testing import capture_logs

from schemas.teams import Manager, TeamRow
from stream import codec
from stream.core import team
from stream.worker.agents import transition_log
from tests.faust_kit import agent_of, driving, worker
from tests.kit import POLICY
from tests.test_codec import overdue, transition

SOURCE = "/tierwatch/test"


def alerts() -> list[bytes]:
    """A transition, its overdue follow-up and a manager's digest, as the worker sends them."""
    t = transition()
    rows = [TeamRow(learner_id=t.learner_id, tier=t.to_tier)]
    digest = team.digest("m1", Manager(name="Mia"), rows, t.at, POLICY)
    assert digest is not None
    return [
        codec.encode_transition(t, SOURCE),
        codec.encode_follow_up(overdue(), SOURCE),
        codec.encode_digest(digest, SOURCE),
    ]


async def test_each_alert_is_logged_then_handed_to_dispatch_in_order(tmp_path: Path) -> None:
    """Dispatch (`then`) gets each readable record as it came, after it is logged; the
    learner is logged by pseudonym only; an unreadable record is logged and skipped."""
    pipeline = worker(tmp_path)
    then = mock.AsyncMock()
    transition_log.register(pipeline, then)
    values = alerts()
    with capture_logs() as logs:
        async with driving(agent_of(pipeline, "transition-log")) as agent:
            await agent.put(values[0], b"a")
            await agent.put(b"{not a cloudevent", b"a")
            for value in values[1:]:
                await agent.put(value, b"a")
    assert [call.args[0] for call in then.await_args_list] == values
    assert [entry["event"] for entry in logs] == [
        "tier_transition", "unreadable_transition", "follow_up_overdue", "team_digest",
    ]  # fmt: skip
    learner = transition().learner_id
    assert [e["learner"] for e in logs if "learner" in e] == [pipeline.pseudonym(learner)] * 2


async def test_without_dispatch_the_log_alone(tmp_path: Path) -> None:
    """Dispatch off (no `then`): every alert is still logged."""
    pipeline = worker(tmp_path)
    transition_log.register(pipeline)
    with capture_logs() as logs:
        async with driving(agent_of(pipeline, "transition-log")) as agent:
            for value in alerts():
                await agent.put(value, b"a")
    assert [entry["event"] for entry in logs] == [
        "tier_transition", "follow_up_overdue", "team_digest",
    ]  # fmt: skip
