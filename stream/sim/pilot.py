"""The simulated organisation over time: who leaves, which assignments are done on time,
which conversations managers record, and a pilot team whose pilot changes completion and
leaving by known amounts (`tierwatch simulate --attrition` or `--pilot-team ...`).

`simulate_world` gives the history `stream.sim.simulate.simulate` gives (the same learners,
personas, activity and assessments, for the same seed), with four changes:

- **Teams** of `team_size` learners (`team-01`, `team-02`, ...; manager `M01`, ...). With a
  size that is a multiple of 20, every team has the same personas (learner i takes persona
  i % 20), so teams differ by chance alone.
- **Completion**: every assignment (routine, or a persona's own) is done on time with
  probability `on_time - disengaged_drop * d + effect` (capped to 0..1), where d is the
  learner's disengagement in the week it is due (1 - that week's activity factor of the
  persona, 0 for a steady week, 1 for a silent one) and `effect` is `effect_completion`
  for an assignment of the pilot team due within the pilot, else 0. On time: completed on
  a day drawn from the day after it was assigned to its due day. Otherwise it is completed
  late (1 to 10 days after its due day) with probability `late_share`, else never.
- **Leaving**: every week a learner is present, they leave voluntarily with probability
  `leave_rate * (1 + disengaged_rise * d) * (1 - effect_attrition if pilot else 1)` (d of
  that week; pilot: the pilot team, a week starting within the pilot), and else
  involuntarily with probability `involuntary_rate * (1 + disengaged_rise * d)`. The leaving
  day is a weekday of that week; the profile is sent again that day at 17:00 with `left_on`
  and `left_voluntarily`, and nothing of the learner comes after that day (activity,
  assignments, completions, conversations).
- **Conversations**: the simulator runs the core's `step` over the history as it writes it
  (`stream.core.timeline.Timeline`, as `tierwatch replay` does), so it knows each arrival
  at Tier 2 and its follow-up date. For an arrival of the pilot team within the pilot, the
  manager records a `conversation_held` on time (a day from the arrival to the follow-up
  date) with probability `talk_pilot`, else late; elsewhere on time with probability
  `talk_on_time`, late (1 to 14 days after the follow-up date) with `talk_late`, else
  never. Recorded at 14:00 of that day, `on` that day.

The effects are planted per assignment and per learner-week, on the whole pilot team
within the pilot (intention to treat: the pilot is the team's practice of timely
conversations, whoever needed one), so a report comparing the pilot team with the others
over the pilot's weeks should find: on-time completion of the assignments due within it
higher by `effect_completion` (absolute; exact while `on_time + effect_completion <= 1`),
and the weekly rate of voluntary leaving lower by the share `effect_attrition` (over k
weeks the share who leave is 1 - (1 - h)^k, about k * h for small h). With both effects 0
the pilot team differs from the others by chance alone. Every draw comes from a
`random.Random` seeded from (seed, learner, and the week, assignment or transition), so a
seed gives the same history, and the draws do not depend on the effects (an effect moves
the thresholds they are compared with, not the draws).
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from schemas.clock import Tick
from schemas.history import Record
from schemas.roster import Intervention, LearnerProfile
from schemas.transitions import TierTransition
from stream.core.policy import Policy
from stream.core.timeline import Timeline
from stream.sim.personas import DAY, HOUR, PERSONAS, story_of
from stream.sim.simulate import (
    _As,
    _checked,
    _Entry,
    _Ev,
    _Learner,
    _learner,
    _profile,
    _record,
    _week,
)

MAX_LATE_DAYS = 10  # a late completion comes 1..10 days after its due day
MAX_LATE_TALK_DAYS = 14  # a late conversation comes 1..14 days after the follow-up date


@dataclass(frozen=True, slots=True)
class World:
    """The knobs of the simulated organisation and of its pilot (see the module)."""

    team_size: int = 8
    pilot_team: str | None = None  # e.g. "team-01"
    pilot_from: dt.date | None = None  # a Monday: the pilot's first day
    pilot_weeks: int = 4
    effect_completion: float = 0.0  # added to P(on time) of the pilot's assignments
    effect_attrition: float = 0.0  # the share taken off the pilot's weekly voluntary hazard
    leave_rate: float = 0.003  # weekly voluntary hazard of an engaged learner
    involuntary_rate: float = 0.001  # weekly involuntary hazard of an engaged learner
    disengaged_rise: float = 4.0  # a hazard times 1 + this * d
    on_time: float = 0.75  # P(on time) of an engaged learner's assignment
    disengaged_drop: float = 0.5  # P(on time) minus this * d
    late_share: float = 0.6  # of the assignments not done on time, done late (else never)
    talk_pilot: float = 0.9  # P(a conversation on time), the pilot team within the pilot
    talk_on_time: float = 0.3  # elsewhere
    talk_late: float = 0.4  # elsewhere, late (else never)

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ValueError("; ".join(problems))

    def _problems(self) -> list[str]:
        out = []
        if self.team_size < 1:
            out.append(f"team_size must be at least 1, not {self.team_size}")
        if (self.pilot_team is None) != (self.pilot_from is None):
            out.append("a pilot needs both its team and its first day (pilot_from)")
        if self.pilot_from is not None and self.pilot_from.weekday() != 0:
            out.append(f"pilot_from must be a Monday, not {self.pilot_from}")
        if self.pilot_weeks < 1:
            out.append(f"pilot_weeks must be at least 1, not {self.pilot_weeks}")
        if not 0 <= self.effect_completion <= 1 - self.on_time:
            out.append(
                f"effect_completion must be in 0..{1 - self.on_time:g} (1 - on_time, so that "
                f"the planted effect is exact), not {self.effect_completion}"
            )
        rates = {
            "effect_attrition": self.effect_attrition,
            "on_time": self.on_time,
            "disengaged_drop": self.disengaged_drop,
            "late_share": self.late_share,
            "talk_pilot": self.talk_pilot,
            "talk_on_time": self.talk_on_time,
            "talk_late": self.talk_late,
        }
        out += [f"{name} must be in 0..1, not {v}" for name, v in rates.items() if not 0 <= v <= 1]
        if self.talk_on_time + self.talk_late > 1:
            out.append("talk_on_time + talk_late must be at most 1")
        if self.disengaged_drop > self.on_time:
            out.append("disengaged_drop must be at most on_time")
        highest = max(self.leave_rate, self.involuntary_rate) * (1 + self.disengaged_rise)
        if min(self.leave_rate, self.involuntary_rate, self.disengaged_rise) < 0 or highest > 1:
            out.append("leave_rate and involuntary_rate times 1 + disengaged_rise must be in 0..1")
        return out

    def piloted(self, team: str | None, day: dt.date) -> bool:
        """Whether `day` is within the pilot, for a learner of `team`."""
        if self.pilot_team is None or self.pilot_from is None or team != self.pilot_team:
            return False
        return self.pilot_from <= day < self.pilot_from + dt.timedelta(weeks=self.pilot_weeks)


class _Leave(NamedTuple):
    """A learner leaves: their profile again, with the leaving record, at a second of the week."""

    second: int
    profile: LearnerProfile
    left_on: dt.date


def disengagement(person: _Learner, week: int) -> float:
    """How far below their usual activity the learner's persona is in `week`: 0..1."""
    return max(0.0, 1.0 - person.story.factors.get(week, 1.0))


@dataclass(slots=True)
class _Run:
    """One simulation's moving parts: the people, what is planned, and the engine."""

    world: World
    seed: int
    start: dt.date
    weeks: int
    policy: Policy
    people: list[_Learner]
    profiles: dict[str, LearnerProfile]
    timeline: Timeline
    gone: dict[str, dt.date] = field(default_factory=dict)  # learner -> leaving day
    done: dict[tuple[int, int], list[_Ev]] = field(default_factory=dict)  # (learner, week)
    talks: list[tuple[dt.datetime, int, Intervention]] = field(default_factory=list)  # a heap
    count: int = 0

    def monday(self, week: int) -> dt.date:
        return self.start + dt.timedelta(weeks=week)

    def leaving(self, person: _Learner, week: int) -> _Leave | None:
        """Whether the learner leaves in `week`, and when (see the module)."""
        rng = random.Random(f"leave|{self.seed}|{person.index}|{week}")
        u_voluntary, u_other, u_day = rng.random(), rng.random(), rng.random()
        profile = self.profiles[person.learner_id]
        rise = 1.0 + self.world.disengaged_rise * disengagement(person, week)
        voluntary = self.world.leave_rate * rise
        if self.world.piloted(profile.team, self.monday(week)):
            voluntary *= 1.0 - self.world.effect_attrition
        if u_voluntary < voluntary:
            left_voluntarily = True
        elif u_other < self.world.involuntary_rate * rise:
            left_voluntarily = False
        else:
            return None
        weekday = int(u_day * 5)
        last = self.monday(week) + dt.timedelta(days=weekday)
        update = {"left_on": last, "left_voluntarily": left_voluntarily}
        return _Leave(weekday * DAY + 17 * HOUR, profile.model_copy(update=update), last)

    def plan_completion(self, person: _Learner, entry: _As, week: int) -> None:
        """Draw when an assignment is completed (on time, late, never) and plan its event."""
        rng = random.Random(f"done|{self.seed}|{person.learner_id}|{entry.module}")
        assigned = self.monday(week) + dt.timedelta(days=entry.second // DAY)
        due_week = (entry.due - self.start).days // 7
        d = disengagement(person, due_week)
        chance = self.world.on_time - self.world.disengaged_drop * d
        if self.world.piloted(self.profiles[person.learner_id].team, entry.due):
            chance += self.world.effect_completion
        u, u_day, u_late = rng.random(), rng.random(), rng.random()
        if u < chance:
            span = max(1, (entry.due - assigned).days)  # from the day after it was assigned
            day = assigned + dt.timedelta(days=1 + int(u_day * span))
        elif u_late < self.world.late_share:
            day = entry.due + dt.timedelta(days=1 + int(u_day * MAX_LATE_DAYS))
        else:
            return
        at_week = (day - self.start).days // 7
        if at_week >= self.weeks:
            return
        second = (day - self.monday(at_week)).days * DAY + 9 * HOUR + int(rng.random() * 8 * HOUR)
        planned = self.done.setdefault((person.index, at_week), [])
        n = 1000 + len(planned)  # the week's own events are numbered from 0
        planned.append(
            _Ev(second, person.learner_id, at_week, n, "completion", entry.module, None, True, None)
        )

    def arrived(self, transition: TierTransition) -> None:
        """A Tier 2 arrival: the manager's conversation, planned (see the module)."""
        due = transition.follow_up_due
        if due is None or not transition.from_tier < 2 <= transition.to_tier:
            return
        lid = transition.learner_id
        rng = random.Random(f"talk|{self.seed}|{lid}|{transition.id}")
        u, u_day = rng.random(), rng.random()
        arrival = transition.at.astimezone(self.policy.tz).date()
        span = max(0, (due - arrival).days)
        on_time = arrival + dt.timedelta(days=int(u_day * (span + 1)))
        late = due + dt.timedelta(days=1 + int(u_day * MAX_LATE_TALK_DAYS))
        if self.world.piloted(self.profiles[lid].team, arrival):
            day = on_time if u < self.world.talk_pilot else late
        elif u < self.world.talk_on_time:
            day = on_time
        elif u < self.world.talk_on_time + self.world.talk_late:
            day = late
        else:
            return
        at = dt.datetime.combine(day, dt.time(14), tzinfo=self.policy.tz)
        talk = Intervention.model_construct(
            id=f"sim-{self.seed}-{lid}-talk-{transition.id}", learner_id=lid,
            kind="conversation_held", at=at, note=None, transition_id=None, on=day,
        )  # fmt: skip
        self.count += 1
        heapq.heappush(self.talks, (at, self.count, talk))

    def feed(self, record: Record | None, now: dt.datetime | None = None) -> None:
        """Step the engine with a record, or (None) a tick at `now`; plan conversations."""
        item = record if record is not None else Tick(partition=0, now=now)
        for out in self.timeline.feed(item):
            if isinstance(out, TierTransition):
                self.arrived(out)


def _entries(run: _Run, person: _Learner, week: int) -> list[_Entry | _Leave]:
    """A learner's week: activity, assignments (their completions planned), the completions
    planned for it, and a leaving (nothing of the learner after its day)."""
    entries: list[_Entry | _Leave] = [*_week(person, week, run.seed, run.start, scripted=False)]
    leave = run.leaving(person, week) if week >= person.story.start else None
    cut = (leave.second // DAY + 1) * DAY if leave is not None else 7 * DAY
    entries = [e for e in entries if e.second < cut]
    for entry in entries:
        if isinstance(entry, _As):  # planned before this week's are taken: it may be one
            run.plan_completion(person, entry, week)
    entries.extend(e for e in run.done.pop((person.index, week), []) if e.second < cut)
    if leave is not None:
        entries.append(leave)
        run.gone[person.learner_id] = leave.left_on
    return entries


def simulate_world(
    learners: int,
    weeks: int,
    seed: int,
    world: World,
    start: dt.date | None = None,
    policy: Policy | None = None,
) -> Iterator[Record]:
    """The history of `learners` learners over `weeks` weeks in the organisation `world`
    (see the module), lazily: profiles first, then dated records in non-decreasing time."""
    first, rules = _checked(learners, weeks, start, policy)
    stories = {persona: story_of(persona, weeks) for persona in PERSONAS}
    people = [_learner(index, seed, stories) for index in range(learners)]
    profiles = {p.learner_id: _profile(p, world.team_size) for p in people}
    run = _Run(world, seed, first, weeks, rules, people, profiles, Timeline(rules))
    return _generate(run)


def _generate(run: _Run) -> Iterator[Record]:
    for profile in run.profiles.values():
        run.feed(profile)
        yield profile
    tz = run.policy.tz
    tick = dt.datetime.combine(run.start, dt.time(0), tzinfo=tz)
    for week in range(run.weeks):
        origin = dt.datetime.combine(run.monday(week), dt.time(0), tzinfo=tz)
        end = origin + dt.timedelta(weeks=1)
        batch: list[_Entry | _Leave] = []
        for person in run.people:
            if person.learner_id not in run.gone:
                batch.extend(_entries(run, person, week))
        batch.sort(key=_second)
        timed = [(origin + dt.timedelta(seconds=e.second), e) for e in batch]
        n = 0
        while True:  # the week's records, conversations and midnight ticks, in time order
            record_at = timed[n][0] if n < len(timed) else None
            talk_at = run.talks[0][0] if run.talks and run.talks[0][0] < end else None
            at = min((t for t in (record_at, talk_at) if t is not None), default=None)
            if tick < end and (at is None or tick <= at):  # a tick at a record's instant first
                run.feed(None, tick)
                tick += dt.timedelta(days=1)
            elif talk_at is not None and (record_at is None or talk_at < record_at):
                _, _, talk = heapq.heappop(run.talks)
                left = run.gone.get(talk.learner_id)
                if left is None or talk.on is None or talk.on <= left:
                    run.feed(talk)
                    yield talk
            elif record_at is not None:
                record = _as_record(timed[n][1], origin, run.seed)
                n += 1
                run.feed(record)
                yield record
            else:
                break


def _second(entry: _Entry | _Leave) -> int:
    return entry.second


def _as_record(entry: _Entry | _Leave, origin: dt.datetime, seed: int) -> Record:
    return entry.profile if isinstance(entry, _Leave) else _record(entry, origin, seed)
