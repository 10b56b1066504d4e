"""The pilot's measures, per learner and period (pure): what `stats.compare` resamples.

The pilot runs `weeks` weeks from `start` (its first day); **before** is the same number
of weeks just before it. The pilot group is the learners of the pilot team, the
comparison group those of the comparison teams (`facts`: the team of a learner's last
profile).

- **Completion on time**: the assignments (every kind: milestones, compliance modules,
  certifications) due within a period, of a learner still on the roster on the due day
  (no leaving record, or a last day on or after it), not withdrawn; on time when first
  completed on or before the due day. Per learner: on time, and due.
- **Voluntary attrition**: per ISO week of a period, a learner is at risk when they had
  started by its Sunday (their first record) and had not left before its Monday; a
  voluntary leaver counts in the week of their last day. Per learner: voluntary leavers
  (0 or 1), and weeks at risk.
- **On-time interventions**: the Tier 2 arrivals (from below, with a follow-up date)
  within a period, and how each was answered, as the core's step says when the history
  is replayed (`Talk`: on_time, late, never; left when the learner left first; open when
  the history ends with it waiting). Per learner: answered on time, and arrivals answered
  (on_time + late + never: a leaver's or a still open one says nothing about timeliness).
- **Time to first intervention**: days from an arrival's local day to the day of the
  conversation that answered it (on time or late).
- **Escalations**: arrivals at Tier 3 (from below) within a period.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from schemas.transitions import TierTransition
from stream.tools.pilot.facts import Facts, Learner
from stream.tools.whatif.engine import Talk

Group = Literal["pilot", "comparison"]
PERIODS = ("before", "during")
Row = tuple[float, float, float, float]  # numerator, denominator: before, then during


@dataclass(frozen=True)
class Pilot:
    """The pilot: its team and weeks, and the teams it is compared with."""

    team: str
    start: dt.date
    weeks: int
    compare: tuple[str, ...]

    @property
    def before(self) -> dt.date:
        return self.start - dt.timedelta(weeks=self.weeks)

    @property
    def end(self) -> dt.date:
        """The first day after the pilot."""
        return self.start + dt.timedelta(weeks=self.weeks)

    def period(self, day: dt.date) -> int | None:
        """0 before, 1 during, None outside both."""
        if self.before <= day < self.start:
            return 0
        if self.start <= day < self.end:
            return 1
        return None

    def group(self, team: str) -> Group | None:
        if team == self.team:
            return "pilot"
        return "comparison" if team in self.compare else None

    def mondays(self, period: int) -> list[dt.date]:
        first = self.before if period == 0 else self.start
        return [first + dt.timedelta(weeks=w) for w in range(self.weeks)]


def grouped(facts: Facts, pilot: Pilot) -> dict[Group, dict[str, Learner]]:
    """The learners of each group, by id."""
    out: dict[Group, dict[str, Learner]] = {"pilot": {}, "comparison": {}}
    for learner_id, learner in facts.learners.items():
        group = pilot.group(learner.team)
        if group is not None:
            out[group][learner_id] = learner
    return out


def completion_row(learner: Learner, pilot: Pilot) -> Row:
    """(on time, due) before, then during (see the module)."""
    sums = [0.0, 0.0, 0.0, 0.0]
    done = learner.completed_days()
    for module, (due, _kind) in learner.assignments.items():
        period = pilot.period(due)
        if period is None or (learner.left_on is not None and learner.left_on < due):
            continue
        sums[2 * period + 1] += 1
        finished = done.get(module)
        if finished is not None and finished <= due:
            sums[2 * period] += 1
    return sums[0], sums[1], sums[2], sums[3]


def attrition_row(learner: Learner, pilot: Pilot) -> Row:
    """(voluntary leavers, weeks at risk) before, then during (see the module)."""
    sums = [0.0, 0.0, 0.0, 0.0]
    for period in (0, 1):
        for monday in pilot.mondays(period):
            sunday = monday + dt.timedelta(days=6)
            started = learner.first_day is not None and learner.first_day <= sunday
            if not started or (learner.left_on is not None and learner.left_on < monday):
                continue
            sums[2 * period + 1] += 1
            last = learner.left_on
            if learner.voluntary and last is not None and monday <= last <= sunday:
                sums[2 * period] += 1
    return sums[0], sums[1], sums[2], sums[3]


@dataclass
class Arrival:
    """A Tier 2 arrival and how it was answered."""

    learner_id: str
    at: dt.datetime
    day: dt.date  # its local day
    outcome: str = "open"
    talked: dt.date | None = None  # the conversation's day (on_time, late)

    @property
    def days(self) -> int | None:
        return None if self.talked is None else (self.talked - self.day).days


def arrivals(
    transitions: Iterable[tuple[int, TierTransition]], talks: Iterable[Talk], tz: dt.tzinfo
) -> list[Arrival]:
    """Each Tier 2 arrival (the input number that caused it, the transition) paired with
    the learner's next `conversation` notice: the step that ends an arrival's wait gives
    it after the step's transitions, and an arrival waits for one answer at most."""
    found: list[tuple[int, int, object]] = [(n, 0, t) for n, t in transitions]
    found += [(talk.number, 1, talk) for talk in talks]
    found.sort(key=lambda x: (x[0], x[1]))
    waiting: dict[str, Arrival] = {}
    out: list[Arrival] = []
    for _, _, item in found:
        if isinstance(item, TierTransition):
            if item.from_tier < 2 <= item.to_tier and item.follow_up_due is not None:
                arrival = Arrival(item.learner_id, item.at, item.at.astimezone(tz).date())
                waiting[item.learner_id] = arrival
                out.append(arrival)
        elif isinstance(item, Talk):
            answered = waiting.pop(item.learner_id, None)
            if answered is not None:
                answered.outcome, answered.talked = item.outcome, item.day
    return out


ANSWERED = ("on_time", "late", "never")


@dataclass
class Interventions:
    """On-time interventions, time to the first, and escalations, per group and period."""

    rows: dict[Group, dict[str, list[float]]] = field(default_factory=dict)  # learner -> row
    outcomes: Counter[tuple[Group, int, str]] = field(default_factory=Counter)
    days: dict[tuple[Group, int], list[int]] = field(default_factory=dict)
    escalations: Counter[tuple[Group, int]] = field(default_factory=Counter)

    def row_list(self, group: Group) -> list[Row]:
        return [(r[0], r[1], r[2], r[3]) for r in self.rows.get(group, {}).values()]


def interventions(
    found: list[Arrival],
    transitions: Iterable[TierTransition],
    groups: dict[Group, dict[str, Learner]],
    pilot: Pilot,
    tz: dt.tzinfo,
) -> Interventions:
    """Per group and period: arrivals by outcome, per-learner rows (on time, answered),
    days to the conversation, and Tier 3 arrivals (see the module)."""
    team_of = {lid: g for g, members in groups.items() for lid in members}
    out = Interventions(rows={g: {lid: [0.0] * 4 for lid in groups[g]} for g in groups})
    for arrival in found:
        group, period = team_of.get(arrival.learner_id), pilot.period(arrival.day)
        if group is None or period is None:
            continue
        out.outcomes[group, period, arrival.outcome] += 1
        if arrival.outcome in ANSWERED:
            row = out.rows[group][arrival.learner_id]
            row[2 * period + 1] += 1
            row[2 * period] += arrival.outcome == "on_time"
        if arrival.days is not None:
            out.days.setdefault((group, period), []).append(arrival.days)
    for t in transitions:
        group = team_of.get(t.learner_id)
        period = pilot.period(t.at.astimezone(tz).date())
        if group is not None and period is not None and t.from_tier < 3 <= t.to_tier:
            out.escalations[group, period] += 1
    return out
