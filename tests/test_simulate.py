"""The simulator: deterministic, ordered, valid histories whose personas behave as intended.

With 8 weeks the story week of every persona is week 4 (2026-W06, from Monday 2026-02-02),
after a steady baseline in weeks 0-3; new hires start on the Wednesday of week 2.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from functools import cache

import orjson
import pytest

from schemas import Intervention, LearnerProfile, LearningEvent, TierTransition
from schemas.history import HISTORY_LINE, Record, to_line
from stream.core.timeline import record_time, run_history
from stream.policyfile import load_policy
from stream.sim.simulate import DEFAULT_START, PERSONAS, persona_of, role_of, simulate, write_jsonl
from tests.kit import policy_with

POLICY = load_policy()
LEARNERS, WEEKS = 40, 8
SEEDS = (1, 7, 2026)


@cache
def history(seed: int, learners: int = LEARNERS, weeks: int = WEEKS) -> tuple[Record, ...]:
    return tuple(simulate(learners, weeks, seed))


@cache
def replay(seed: int) -> dict[str, list[TierTransition]]:
    """The transitions of the simulated history, by learner."""
    by_learner: dict[str, list[TierTransition]] = defaultdict(list)
    for out in run_history(history(seed), POLICY):
        if isinstance(out, TierTransition):
            by_learner[out.learner_id].append(out)
    return by_learner


def runs(seed: int, persona: str) -> list[list[TierTransition]]:
    """The transitions of each learner of a persona, one list per learner."""
    ids = [f"L{i + 1:04d}" for i in range(LEARNERS) if persona_of(i, LEARNERS) == persona]
    return [replay(seed).get(learner, []) for learner in ids]


def lines(records: tuple[Record, ...] | list[Record]) -> list[str]:
    out = io.StringIO()
    write_jsonl(records, out)
    return out.getvalue().splitlines()


def reason_codes(transitions: list[TierTransition]) -> set[str]:
    return {r.code for t in transitions for r in t.reasons}


def test_same_seed_same_bytes_other_seed_other_history():
    """The same arguments give byte-identical output; another seed gives another history."""
    first = io.StringIO()
    second = io.StringIO()
    count = write_jsonl(simulate(LEARNERS, WEEKS, 1), first)
    assert write_jsonl(simulate(LEARNERS, WEEKS, 1), second) == count == len(history(1))
    assert first.getvalue() == second.getvalue()
    assert lines(history(1)) != lines(history(2))


def test_adding_learners_keeps_existing_histories():
    """A learner's records do not depend on the number of learners; a steady one's not on weeks."""
    small = [r for r in simulate(10, 6, 3) if not isinstance(r, LearnerProfile)]
    large = simulate(20, 6, 3)
    mine = [r for r in large if r.learner_id <= "L0010" and not isinstance(r, LearnerProfile)]
    assert lines(small) == lines(mine)
    cutoff = dt.datetime.combine(DEFAULT_START + dt.timedelta(weeks=3), dt.time(), dt.UTC)
    steady = {f"L{i + 1:04d}" for i in range(10) if persona_of(i, 10) == "steady"}
    shorter = [r for r in simulate(10, 3, 3) if r.learner_id in steady]
    early = [r for r in small if r.learner_id in steady and (record_time(r) or cutoff) < cutoff]
    assert lines([r for r in shorter if not isinstance(r, LearnerProfile)]) == lines(early)


def test_profiles_first_then_time_order_within_the_weeks():
    """Every learner has one profile, all first; then times never decrease and stay in range."""
    records = history(1)
    profiles = [r for r in records[:LEARNERS] if isinstance(r, LearnerProfile)]
    assert [p.learner_id for p in profiles] == [f"L{i:04d}" for i in range(1, LEARNERS + 1)]
    times = [record_time(r) for r in records[LEARNERS:]]
    assert None not in times
    assert times == sorted(times)
    begin = dt.datetime.combine(DEFAULT_START, dt.time(), dt.UTC)
    assert begin <= times[0]
    assert times[-1] < begin + dt.timedelta(weeks=WEEKS)


def test_times_are_aware_in_the_policy_timezone():
    """With a Berlin policy, times are Berlin times in business hours, across the DST switch."""
    berlin = policy_with(timezone="Europe/Berlin")
    start = dt.date(2026, 3, 16)  # the clocks go forward on Sunday 2026-03-29
    dated = [r for r in simulate(20, 4, 5, start, berlin) if isinstance(r, LearningEvent)]
    assert {r.occurred_at.tzinfo for r in dated} == {berlin.tz}
    assert all(8 <= r.occurred_at.hour < 18 for r in dated)
    assert {r.occurred_at.utcoffset() for r in dated} == {
        dt.timedelta(hours=1),
        dt.timedelta(hours=2),
    }
    instants = [r.occurred_at.astimezone(dt.UTC) for r in dated]
    assert instants == sorted(instants)


def test_arguments_are_checked_at_once():
    """A start that is not a Monday, or negative sizes, raise ValueError before any iteration."""
    with pytest.raises(ValueError, match="Monday"):
        simulate(5, 2, 1, start=dt.date(2026, 1, 6))
    with pytest.raises(ValueError, match="learners"):
        simulate(-1, 2, 1)
    with pytest.raises(ValueError, match="weeks"):
        simulate(5, -2, 1)


def test_ids_are_unique_and_stable():
    """Event ids are unique in a history and name the seed and the learner."""
    ids = [r.id for r in history(1) if isinstance(r, LearningEvent)]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("sim-1-L") for i in ids)
    assert ids == [r.id for r in history(1, LEARNERS, WEEKS) if isinstance(r, LearningEvent)]


def test_every_line_validates_and_round_trips():
    """Each written line validates against its schema and dumps back to the same line."""
    for line in lines(history(7)):
        parsed = HISTORY_LINE.validate_json(line)
        assert orjson.loads(orjson.dumps(to_line(parsed))) == orjson.loads(line)


def test_records_carry_realistic_values():
    """Events equal their validated selves, come from the simulator, mostly on weekdays."""
    events = [r for r in history(1) if isinstance(r, LearningEvent)]
    assert all(LearningEvent.model_validate(e.model_dump()) == e for e in events[:500])
    assert {e.source for e in events} == {"simulator"}
    assert {e.kind for e in events} == {"session", "view", "progress", "completion", "assessment"}
    assert all(0 <= e.score <= 1 for e in events if e.score is not None)
    assert all(e.duration_s for e in events if e.kind == "session")
    assert sum(e.occurred_at.weekday() < 5 for e in events) > 0.85 * len(events)


def test_every_persona_and_role_appears_with_40_learners():
    """40 learners show all ten personas and five roles; the sales persona is a sales rep."""
    assert {persona_of(i, LEARNERS) for i in range(LEARNERS)} == set(PERSONAS)
    roles = {role_of(i, LEARNERS) for i in range(LEARNERS)}
    assert roles == {"default", "sales_rep", "back_office", "compliance_officer", "team_lead"}
    for i in range(LEARNERS):
        if persona_of(i, LEARNERS) == "sales_rep_missing_certifications":
            assert role_of(i, LEARNERS) == "sales_rep"
    with pytest.raises(ValueError, match="learner index"):
        persona_of(LEARNERS, LEARNERS)


def test_new_hires_have_no_records_before_they_start():
    """A new hire's first record is on the Wednesday of week 2 or later; then they are active."""
    start = DEFAULT_START + dt.timedelta(weeks=WEEKS // 3, days=2)
    hires = {f"L{i + 1:04d}" for i in range(LEARNERS) if persona_of(i, LEARNERS) == "new_hire"}
    dated = [r for r in history(1) if r.learner_id in hires and record_time(r) is not None]
    assert {r.learner_id for r in dated} == hires
    assert min(record_time(r).date() for r in dated) >= start


@pytest.mark.parametrize("seed", SEEDS)
def test_replay_reaches_every_tier(seed):
    """Replaying 40 learners over 8 weeks reaches tiers 1, 2 and 3."""
    reached = {t.to_tier for out in replay(seed).values() for t in out}
    assert {1, 2, 3} <= reached


@pytest.mark.parametrize("seed", SEEDS)
def test_steady_learners_and_new_hires_stay_at_tier_0(seed):
    """Steady learners and new hires are never flagged."""
    for persona in ("steady", "new_hire"):
        assert all(out == [] for out in runs(seed, persona))


@pytest.mark.parametrize("seed", SEEDS)
def test_dips_nudge_and_resolve(seed):
    """
    week          0 1 2 3 4    5    6
    one-week dip  n n n n 60%  n    n      -> Tier 1 on Tue W5, back to 0 on Tue W6
    recovery      n n n n 30%  n+2  n      -> Tier 1, then back to 0 a week later
    """
    for persona in ("one_week_dip", "recovery_after_nudge"):
        for out in runs(seed, persona):
            assert [(t.from_tier, t.to_tier) for t in out] == [(0, 1), (1, 0)]
            assert [t.week for t in out] == ["2026-W06", "2026-W07"]


@pytest.mark.parametrize("seed", SEEDS)
def test_decline_and_silence_escalate(seed):
    """Two weeks down reach Tier 2 (repeated_dip); silence from week 4 reaches Tier 3."""
    for out in runs(seed, "two_week_decline"):
        assert [t.to_tier for t in out] == [1, 2, 1, 0]
        assert "repeated_dip" in reason_codes(out)
    for out in runs(seed, "silent"):
        assert [t.to_tier for t in out] == [1, 2, 3]
        assert "disengagement" in reason_codes(out)


@pytest.mark.parametrize("seed", SEEDS)
def test_missed_modules_escalate(seed):
    """A compliance module never done, or two certifications missed by a sales rep: Tier 3."""
    for persona in ("missed_compliance", "sales_rep_missing_certifications"):
        for out in runs(seed, persona):
            rising = [t.to_tier for t in out if t.to_tier > t.from_tier]
            assert rising[-2:] == [2, 3]
            assert "missed_assignments" in reason_codes(out)
            third = next(t for t in out if t.to_tier == 3)
            assert {r.code for r in third.reasons} & {"compliance_overdue", "follow_up_unresolved"}


@pytest.mark.parametrize("seed", SEEDS)
def test_assessment_fall_nudges(seed):
    """A score falling by more than 0.15 gives a Tier 1 nudge for an assessment fall."""
    for out in runs(seed, "assessment_fall"):
        assert out
        assert max(t.to_tier for t in out) == 1
        assert out[0].reasons[0].code == "assessment_fall"


@pytest.mark.parametrize("seed", SEEDS)
def test_a_raised_concern_goes_to_wellbeing_and_its_note_stays_private(seed):
    """The concern goes to Tier 3 via wellbeing, is resolved later, and its note is nowhere."""
    for out in runs(seed, "concern_raised"):
        concern = next(t for t in out if t.to_tier == 3)
        assert concern.route == "wellbeing"
        assert out[-1].to_tier == 0
        assert out[-1].reasons[0].code == "resolved"
    notes = {r.note for r in history(seed) if isinstance(r, Intervention) and r.note}
    assert notes
    dumped = "".join(t.model_dump_json() for out in replay(seed).values() for t in out)
    assert not any(note in dumped for note in notes)


def test_short_runs_are_plain_activity():
    """With fewer than six weeks nobody has a story: a replay flags no one."""
    out = run_history(simulate(LEARNERS, 5, 1), POLICY)
    assert [o for o in out if isinstance(o, TierTransition)] == []
