"""The simulated organisation and its pilot (`stream.sim.pilot`): leaving records, managers'
conversations, drawn completions, and a pilot team whose planted effects a comparison with
the other teams recovers, measured from the history alone as a pilot report would.

The statistical tests are deterministic (a fixed seed); their tolerance is 4.5 standard
errors of the measured difference, derived from the sample (binomial for on-time
completion, Poisson for leavers per learner-week), and each first checks that the planted
effect is larger than that tolerance, so the sample can tell an effect from none.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import orjson
import pytest

from schemas import Assignment, Intervention, LearnerProfile, LearningEvent
from schemas.history import HISTORY_LINE, Record, to_line
from stream.core.outputs import Notice
from stream.core.timeline import record_time, run_history
from stream.sim.pilot import World, simulate_world
from stream.sim.simulate import DEFAULT_START, simulate, write_jsonl
from tests.kit import POLICY
from tests.test_cli import invoke

LEARNERS, WEEKS, TEAM = 3000, 10, 1000  # three teams alike (1000 is a multiple of 20)
PILOT_FROM = DEFAULT_START + dt.timedelta(weeks=4)  # weeks 4-7, around the personas' week 5
PILOT_WEEKS = 4
Z = 4.5  # standard errors of tolerance
EFFECT_COMPLETION, EFFECT_ATTRITION = 0.2, 0.5
LEAVE_RATE = 0.05  # a high weekly hazard, for a sample that can see the attrition effect


def world(completion: float, attrition: float) -> World:
    return World(
        team_size=TEAM, pilot_team="team-01", pilot_from=PILOT_FROM, pilot_weeks=PILOT_WEEKS,
        effect_completion=completion, effect_attrition=attrition, leave_rate=LEAVE_RATE,
    )  # fmt: skip


@cache
def history(completion: float, attrition: float, seed: int = 11) -> tuple[Record, ...]:
    return tuple(simulate_world(LEARNERS, WEEKS, seed, world(completion, attrition)))


def in_pilot(day: dt.date) -> bool:
    return PILOT_FROM <= day < PILOT_FROM + dt.timedelta(weeks=PILOT_WEEKS)


@dataclass
class Rate:
    """A measured rate: successes over trials, with its standard error."""

    hits: int
    trials: int
    poisson: bool = False

    @property
    def value(self) -> float:
        return self.hits / self.trials

    @property
    def se(self) -> float:
        if self.poisson:  # events per unit of exposure
            return math.sqrt(max(self.hits, 1)) / self.trials
        p = self.value
        return math.sqrt(max(p * (1 - p), 0.25 / self.trials) / self.trials)


def measure(records: tuple[Record, ...]) -> dict[str, tuple[Rate, Rate]]:
    """Per group (pilot, comparison): on-time completion of the assignments due within the
    pilot (learners still there on the due day), and voluntary leavers within the pilot's
    weeks per learner-week at risk."""
    team: dict[str, str] = {}
    left: dict[str, tuple[dt.date, bool]] = {}
    first: dict[str, dt.date] = {}
    due: dict[tuple[str, str], dt.date] = {}
    done: dict[tuple[str, str], dt.date] = {}
    for r in records:
        when = record_time(r)
        if when is not None:
            first.setdefault(r.learner_id, when.astimezone(POLICY.tz).date())
        if isinstance(r, LearnerProfile):
            team[r.learner_id] = r.team or ""
            if r.left_on is not None and r.left_voluntarily is not None:
                left[r.learner_id] = (r.left_on, r.left_voluntarily)
        elif isinstance(r, Assignment):
            due[(r.learner_id, r.module_id)] = r.due
        elif isinstance(r, LearningEvent) and r.kind == "completion":
            done.setdefault((r.learner_id, r.object_id), r.occurred_at.astimezone(POLICY.tz).date())
    group = {lid: "pilot" if t == "team-01" else "comparison" for lid, t in team.items()}
    completion = {g: [0, 0] for g in ("pilot", "comparison")}
    for (lid, module), day in due.items():
        if not in_pilot(day) or (lid in left and left[lid][0] <= day):
            continue
        completion[group[lid]][1] += 1
        finished = done.get((lid, module))
        completion[group[lid]][0] += finished is not None and finished <= day
    leaving = {g: [0, 0] for g in ("pilot", "comparison")}
    for week in range(PILOT_WEEKS):
        monday = PILOT_FROM + dt.timedelta(weeks=week)
        sunday = monday + dt.timedelta(days=6)
        for lid, g in group.items():
            gone = left.get(lid)
            if (gone is not None and gone[0] < monday) or first.get(lid, sunday) > sunday:
                continue  # gone before the week, or not started by its end
            leaving[g][1] += 1
            leaving[g][0] += gone is not None and gone[1] and monday <= gone[0] <= sunday
    return {
        g: (Rate(*completion[g]), Rate(*leaving[g], poisson=True)) for g in ("pilot", "comparison")
    }


def test_a_planted_effect_is_recovered_by_comparing_the_pilot_team_with_the_others():
    """Effects 0.2 (completion) and 0.5 (attrition): during the pilot the pilot team's
    on-time completion is 0.2 higher, and its voluntary leaving half, the comparison's."""
    rates = measure(history(EFFECT_COMPLETION, EFFECT_ATTRITION))
    (done_p, left_p), (done_c, left_c) = rates["pilot"], rates["comparison"]
    tolerance = Z * math.hypot(done_p.se, done_c.se)
    assert tolerance < EFFECT_COMPLETION  # the sample can tell the effect from none
    assert abs((done_p.value - done_c.value) - EFFECT_COMPLETION) < tolerance
    expected = (1 - EFFECT_ATTRITION) * left_c.value
    tolerance = Z * math.hypot(left_p.se, (1 - EFFECT_ATTRITION) * left_c.se)
    assert tolerance < EFFECT_ATTRITION * left_c.value
    assert abs(left_p.value - expected) < tolerance
    assert left_p.hits > 30 and done_p.trials > 500  # noqa: PT018 (one claim: a real sample)


def test_without_an_effect_the_pilot_team_differs_by_chance_alone():
    """Effects 0: the pilot team's completion and leaving during the pilot are the others'
    within the tolerance, though its managers talk on time far more often."""
    rates = measure(history(0.0, 0.0))
    (done_p, left_p), (done_c, left_c) = rates["pilot"], rates["comparison"]
    assert abs(done_p.value - done_c.value) < Z * math.hypot(done_p.se, done_c.se)
    assert abs(left_p.value - left_c.value) < Z * math.hypot(left_p.se, left_c.se)


def test_the_pilot_teams_managers_talk_on_time_within_the_pilot():
    """Replayed, the Tier 2 arrivals of the pilot team get a conversation on time far more
    often (talk_pilot 0.9 within the pilot) than the other teams' (talk_on_time 0.3)."""
    outcomes: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    for out in run_history(history(0.0, 0.0), POLICY):
        if isinstance(out, Notice) and out.code == "conversation":
            outcomes[out.team == "team-01"][out.detail] += 1
    pilot, others = outcomes[True], outcomes[False]
    share_pilot = pilot["on_time"] / sum(pilot.values())
    share_others = others["on_time"] / sum(others.values())
    assert sum(pilot.values()) > 100
    assert share_pilot > share_others + 0.2


def test_the_same_seed_gives_the_same_history_and_the_effects_touch_only_the_pilot():
    """Byte-identical for a seed; another seed differs; the comparison teams' records are
    the same whatever the effects (an effect moves a threshold, never a draw)."""
    small = World(
        team_size=40, pilot_team="team-01", pilot_from=PILOT_FROM, effect_completion=0.1,
        effect_attrition=0.3,
    )  # fmt: skip

    def text(w: World, seed: int) -> str:
        out = io.StringIO()
        write_jsonl(simulate_world(120, 8, seed, w), out)
        return out.getvalue()

    assert text(small, 3) == text(small, 3)
    assert text(small, 3) != text(small, 4)

    def comparison(records: tuple[Record, ...]) -> list[bytes]:
        return [orjson.dumps(to_line(r)) for r in records if not in_pilot_team(r.learner_id)]

    with_effect = history(EFFECT_COMPLETION, EFFECT_ATTRITION)
    without = history(0.0, 0.0)
    assert comparison(with_effect) == comparison(without)
    assert with_effect != without  # the pilot team's did change


def leavers(records: Iterable[Record]) -> dict[str, tuple[dt.date, bool]]:
    return {
        r.learner_id: (r.left_on, bool(r.left_voluntarily))
        for r in records
        if isinstance(r, LearnerProfile) and r.left_on is not None
    }


def in_pilot_team(learner_id: str) -> bool:
    return int(learner_id[1:]) - 1 < TEAM  # L0001..L1000: team-01


def test_a_world_history_is_valid_ordered_and_nothing_follows_a_leaving():
    """Every line validates; dated records never go back in time; no record of a learner
    is dated after their leaving day; conversations are `conversation_held` with their day;
    leavers are voluntary and involuntary."""
    seen = list(simulate_world(200, 8, 5, World(team_size=20, leave_rate=0.05)))
    for record in seen:
        assert HISTORY_LINE.validate_json(orjson.dumps(to_line(record)))
    times = [t for t in map(record_time, seen) if t is not None]
    assert times == sorted(times)
    gone = leavers(seen)
    assert {voluntary for _, voluntary in gone.values()} == {True, False}
    for record in seen:
        when = record_time(record)
        if when is not None and record.learner_id in gone:
            assert when.astimezone(POLICY.tz).date() <= gone[record.learner_id][0]
    talks = [r for r in seen if isinstance(r, Intervention) and r.id and "-talk-" in r.id]
    assert talks
    assert {t.kind for t in talks} == {"conversation_held"}
    assert all(t.on == t.at.astimezone(POLICY.tz).date() for t in talks)


def test_the_default_history_is_the_simulators_without_knobs():
    """Without the knobs `simulate` is unchanged: no leaving record, no drawn completion."""
    plain = list(simulate(40, 8, 7))
    assert not [r for r in plain if isinstance(r, LearnerProfile) and r.left_on is not None]
    assert {r.team for r in plain if isinstance(r, LearnerProfile)} == {
        f"team-0{n}" for n in range(1, 6)
    }


@pytest.mark.parametrize(
    ("knobs", "says"),
    [
        ({"pilot_team": "team-01"}, "both its team and its first day"),
        ({"pilot_team": "team-01", "pilot_from": dt.date(2026, 2, 3)}, "must be a Monday"),
        ({"effect_completion": 0.3}, "effect_completion must be in 0..0.25"),
        ({"effect_attrition": 1.5}, "effect_attrition must be in 0..1"),
        ({"leave_rate": 0.5}, "times 1 + disengaged_rise"),
    ],
)
def test_knobs_out_of_range_are_refused_with_a_sentence(knobs: dict, says: str) -> None:
    """Each knob out of range: a ValueError that names it."""
    with pytest.raises(ValueError, match=re.escape(says)):
        World(**knobs)


def test_the_command_line_knobs_are_the_worlds(tmp_path):
    """`tierwatch simulate --pilot-team ... --effect-...` writes what `simulate_world` gives
    for the same World; a knob out of range exits 2 with its sentence."""
    out = tmp_path / "pilot.jsonl"
    args = "simulate --learners 80 --weeks 8 --seed 4 --team-size 40 --pilot-team team-02"
    args += " --pilot-from 2026-02-02 --pilot-weeks 3 --effect-completion 0.1"
    args += " --effect-attrition 0.4 --leave-rate 0.02"
    result = invoke(*args.split(), "--out", out)
    assert result.exit_code == 0, result.output
    expected = io.StringIO()
    chosen = World(
        team_size=40, pilot_team="team-02", pilot_from=dt.date(2026, 2, 2), pilot_weeks=3,
        effect_completion=0.1, effect_attrition=0.4, leave_rate=0.02,
    )  # fmt: skip
    write_jsonl(simulate_world(80, 8, 4, chosen), expected)
    assert out.read_text() == expected.getvalue()
    refused = invoke("simulate", "--effect-attrition", "2")
    assert refused.exit_code == 2
    assert "effect_attrition must be in 0..1" in refused.stderr
