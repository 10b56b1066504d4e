"""`tierwatch whatif`'s engine: each policy gives exactly what `tierwatch replay --policy`
gives, transition for transition (learner, tiers, instant, week, reasons, ids), on a
simulated history and on one with voided, late, duplicate and out-of-window events,
interventions of every kind, feedback and bad lines; in one process and in two."""

from __future__ import annotations

import copy
import datetime as dt
import io
import random
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.clock import Tick
from schemas.events import LearningEvent
from schemas.history import to_line
from stream.core.keys import event_key
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.step import Counted, count_events, counts_only, step
from stream.sim.pilot import World, simulate_world
from stream.sim.simulate import DEFAULT_START, simulate
from stream.tools.replay import BadLine, Summary, replay_file
from stream.tools.whatif.engine import evaluate
from stream.tools.whatif.processes import evaluate_file
from tests.kit import POLICY, at, evaluated, event, policy_with, profile, weeks

# three policies that disagree: other dip thresholds and persistence, another timezone
# (other weeks, other midnights) and a narrower window of event times
POLICIES = [
    POLICY,
    policy_with(
        activity={"dip_below": 0.65, "major_drop": 0.6},
        tiers={"tier2_dip_weeks": 3, "tier3_dip_weeks": 4},
        follow_up={"days": 5, "exposed_days": 2},
    ),
    policy_with(
        timezone="America/New_York", weeks={"close_grace_hours": 30}, events={"max_age_days": 20}
    ),
]


def _lines(learners: int, weeks_: int, seed: int) -> list[bytes]:
    return [orjson.dumps(to_line(r)) for r in simulate(learners, weeks_, seed, policy=POLICY)]


def messy(learners: int, weeks_: int, seed: int) -> bytes:
    """A simulated history with what a real one has besides: every kind of intervention
    (feedback naming real transitions), voided events (of counted, late and unknown
    events), events sent again, events that come a week late, out-of-window and bad lines."""
    rng = random.Random(seed)
    lines = _lines(learners, weeks_, seed)
    found = io.BytesIO()
    path_free = b"\n".join(lines) + b"\n"
    replay_lines(path_free, POLICY, found)
    transitions = [orjson.loads(x) for x in found.getvalue().splitlines()]
    out: list[bytes] = []
    events: dict[str, list[dict[str, object]]] = {}
    for line in lines:
        out.append(line)
        record = orjson.loads(line)
        if record["type"] != "event":
            continue
        mine = events.setdefault(record["learner_id"], [])
        mine.append(record)
        roll = rng.random()
        if roll < 0.04:  # sent again
            out.append(line)
        elif roll < 0.07 and len(mine) > 20:  # an earlier event comes late (a week on)
            late = dict(rng.choice(mine[-20:]), id=f"late-{len(out)}")
            late["occurred_at"] = _shift(late["occurred_at"], -9)
            out.append(orjson.dumps(late))
        elif roll < 0.10:  # an event of theirs taken back: of this week or weeks ago
            target = rng.choice(mine[-60:])
            retracts: dict[str, object] = {"id": target["id"], "occurred_at": target["occurred_at"]}
            if target.get("score") is not None:
                retracts["score"] = target["score"]
            if target["kind"] == "completion":
                retracts["completed"] = target["object_id"]
            out.append(_voiding(record, retracts, len(out)))
        elif roll < 0.105:  # a voiding of an event never seen
            out.append(_voiding(record, {"id": "nobody", "occurred_at": record["occurred_at"]}, 0))
    kinds = ["conversation_held", "support_plan", "concern_raised", "resolved"]
    added: list[tuple[dt.datetime, bytes]] = []
    for n, t in enumerate(transitions):
        if n % 3 == 0:
            kind = kinds[n % 4] if n % 2 else rng.choice(["not_useful", "incorrectly_flagged"])
            at = _shift(t["at"], 2)
            item = {"type": "intervention", "learner_id": t["learner_id"], "kind": kind, "at": at,
                    "transition_id": t["id"], "id": f"i{n}"}  # fmt: skip
            if kind == "support_plan":
                item["on"] = at[:10]
            added.append((dt.datetime.fromisoformat(at), orjson.dumps(item)))
    out = _merged(out, sorted(added))
    out.insert(5, b"{not json")
    far = dict(orjson.loads(lines[-1]), id="far", occurred_at="2040-01-01T00:00:00Z")
    out.insert(len(out) // 2, orjson.dumps(far))
    return b"\n".join(out) + b"\n"


def _shift(instant: str, days: int) -> str:
    moved = dt.datetime.fromisoformat(instant) + dt.timedelta(days=days)
    return moved.isoformat()


def _voiding(record: dict[str, object], retracts: dict[str, object], n: int) -> bytes:
    void = {"type": "event", "id": f"void-{n}-{record['id']}", "learner_id": record["learner_id"],
            "occurred_at": record["occurred_at"], "kind": "voided", "object_id": "v",
            "source": "xapi", "retracts": retracts}  # fmt: skip
    return orjson.dumps(void)


def _merged(lines: list[bytes], added: list[tuple[dt.datetime, bytes]]) -> list[bytes]:
    """Each added line before the first line dated after it (records come in time order)."""
    out: list[bytes] = []
    pending = iter(added)
    nxt = next(pending, None)
    for line in lines:
        record = orjson.loads(line)
        stamp = record.get("occurred_at") or record.get("assigned_at") or record.get("at")
        while nxt is not None and stamp and dt.datetime.fromisoformat(stamp) > nxt[0]:
            out.append(nxt[1])
            nxt = next(pending, None)
        out.append(line)
    out.extend(line for _, line in ([nxt] if nxt else []))
    out.extend(line for _, line in pending)
    return out


def replay_lines(data: bytes, policy: Policy, out: io.BytesIO) -> tuple[Summary, list[str]]:
    """What `tierwatch replay` gives (its window of event times on)."""
    errors: list[BadLine] = []
    with _file(data) as path:
        summary = replay_file(path, policy, out, errors=errors, window=True)
    return summary, sorted(str(e) for e in errors)


class _file:
    def __init__(self, data: bytes) -> None:
        import tempfile

        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "history.jsonl"
        self.path.write_bytes(data)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *_: object) -> None:
        self.dir.cleanup()


def _assert_as_replay(data: bytes, workers: int) -> Summary:
    with _file(data) as path:
        results = evaluate_file(path, POLICIES, [None] * len(POLICIES), workers=workers)
    for policy, result in zip(POLICIES, results, strict=True):
        expected = io.BytesIO()
        summary, errors = replay_lines(data, policy, expected)
        assert [f.line + b"\n" for f in result.found] == expected.getvalue().splitlines(True)
        assert sorted(str(e) for e in result.errors) == errors
        mine = result.summary
        assert (mine.records, mine.late_events, mine.duplicates, mine.transitions) == (
            summary.records, summary.late_events, summary.duplicates, summary.transitions,
        )  # fmt: skip
        assert mine.learners_by_tier == summary.learners_by_tier
        assert mine.by_week_and_tier == summary.by_week_and_tier
        if workers == 1:  # replay's own merge of shares does not add these up
            assert mine.retractions == summary.retractions
    return summary


def test_plain_simulated_history_gives_replays_transitions_for_every_policy():
    """Three policies over a simulated history: each one's transitions are replay's."""
    data = b"\n".join(_lines(120, 14, seed=5)) + b"\n"
    _assert_as_replay(data, workers=1)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_messy_history_gives_replays_transitions_for_every_policy(workers):
    """Voided, late, repeated and out-of-window events, interventions of every kind and a
    bad line: each policy's transitions, notices and bad lines are replay's."""
    data = messy(160, 16, seed=11)
    for kind in (b'"kind":"voided"', b'"not_useful"', b'"resolved"', b'"concern_raised"'):
        assert kind in data
    summary = _assert_as_replay(data, workers=workers)
    assert summary.late_events > 0
    assert summary.retractions["retracted (baseline)"] > 0


def test_policies_disagree_on_this_history():
    """The comparison is not vacuous: the policies give different transitions."""
    data = messy(160, 16, seed=11)
    results = evaluate(data.splitlines(), POLICIES, [None] * len(POLICIES))
    lines = [[f.line for f in r.found] for r in results]
    assert all(lines)
    assert lines[0] != lines[1]
    assert lines[0] != lines[2]


def test_feedback_is_kept_for_each_policy():
    """Feedback interventions (not_useful, incorrectly_flagged) are handed to the report."""
    data = messy(60, 12, seed=2)
    results = evaluate(data.splitlines(), POLICIES[:1], [None])
    assert {i.kind for i in results[0].feedback} <= {"not_useful", "incorrectly_flagged"}
    assert results[0].feedback


def test_strict_stops_at_the_first_bad_line():
    """--strict: the first bad line raises, as replay's does."""
    data = messy(20, 8, seed=1)
    with pytest.raises(BadLine, match="line 6"):
        evaluate(data.splitlines(), POLICIES, [None] * 3, strict=True)


def test_counting_a_run_of_events_equals_stepping_each():
    """`count_events` over a run (repeats, someone else's actions) = `step` one by one."""
    again = event("L1", at(1, 2), id="e-again")
    records = [*weeks("L1", [3, 4, 2, 5]), again, again, event("L1", at(2, 3), acted_by="other")]
    assert all(counts_only(r) for r in records)
    first, rest = records[0], records[1:]
    one, _ = step(None, first, POLICY)
    by_step = LearnerState.model_validate(one.model_dump())
    notices = []
    for r in rest:
        by_step, out = step(by_step, r, POLICY)
        notices += [n.code for n in out]
    counted = count_events(one, _counted(rest))
    assert one == by_step
    assert [n.code for n in counted] == notices == ["duplicate"]


def _counted(records: list[LearningEvent]) -> list[Counted]:
    return [
        Counted(
            event_key(r.id),
            _week(r.occurred_at),
            None if r.acted_by else r.occurred_at.weekday(),
            r.occurred_at.astimezone(POLICY.tz).date(),
            r.kind,
        )
        for r in records
    ]


def test_counting_events_after_a_leavers_last_day_equals_stepping_each():
    """A leaver's events after `left_on`, counted in a run: `after_leaving`, as `step` gives."""
    records = weeks("L1", [3, 4, 2, 5])
    state, _ = step(None, profile("L1", left_on=at(2, 0).date(), left_voluntarily=True), POLICY)
    for r in records[:3]:
        state, _ = step(state, r, POLICY)
    by_step = LearnerState.model_validate(state.model_dump())
    notices = []
    for r in records[3:]:
        by_step, out = step(by_step, r, POLICY)
        notices += [(n.code, n.detail) for n in out]
    counted = count_events(state, _counted(records[3:]))
    assert state == by_step
    assert [(n.code, n.detail) for n in counted] == notices
    assert ("after_leaving", "event session") in notices


def test_a_simulated_pilot_with_leavers_gives_replays_transitions():
    """Leavers (profiles again with `left_on`) and conversations: each policy is replay."""
    world = World(team_size=40, pilot_team="team-01", pilot_from=DEFAULT_START
                  + dt.timedelta(weeks=4), leave_rate=0.05)  # fmt: skip
    lines = [orjson.dumps(to_line(r)) for r in simulate_world(120, 10, 3, world, policy=POLICY)]
    data = b"\n".join(lines) + b"\n"
    assert b'"left_on"' in data
    assert b"conversation_held" in data
    _assert_as_replay(data, workers=1)


def _week(at: dt.datetime) -> int:
    from stream.core.weeks import week_of

    return week_of(at, POLICY.tz)


@settings(max_examples=60, deadline=None)
@given(
    prefix=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 6)), max_size=25),
    evaluated_to=st.integers(-1, 4),
    voided=st.lists(st.integers(0, 30), max_size=4),
    run=st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 6), st.integers(0, 6), st.booleans()),
        max_size=30,
    ),
)
def test_counting_any_run_equals_stepping_each(prefix, evaluated_to, voided, run):
    """Whatever came before (weeks evaluated, events voided), a run of counting-only
    events (repeated, late, voided, someone else's) counts as stepping each one does."""
    state, _ = step(None, profile("L1"), POLICY)
    for n, (week, weekday) in enumerate(prefix):
        state, _ = step(state, event("L1", at(week, weekday), id=f"p{n}"), POLICY)
    if evaluated_to >= 0 and state.first_week is not None:
        state, _ = step(state, Tick(now=evaluated(evaluated_to), partition=0), POLICY)
    for n in voided:
        target = {"id": f"r{n}", "occurred_at": at(2).isoformat()}
        void = event("L1", at(2), "voided", retracts=target, object_id="v")
        state, _ = step(state, void, POLICY)
    events = [
        event("L1", at(week, weekday), id=f"r{n}", **({"acted_by": "other"} if other else {}))
        for n, week, weekday, other in run
    ]
    by_step = copy.deepcopy(state)
    codes = []
    for e in events:
        by_step, out = step(by_step, e, POLICY)
        codes += [o.code for o in out]
    notices = count_events(state, _counted(events))
    assert [n.code for n in notices] == codes
    assert state == by_step
