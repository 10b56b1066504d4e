"""What a learning-ops analyst reads off each policy's transitions: counts per ISO week,
tier and role; who would be told (dispatch's own routing and nudge limit); learners
flagged; time from the first signal to Tier 2; manager feedback per rule; and where the
policies disagree. Every number here comes from the transitions and the history, and
each table is written whole to CSV (`stream.tools.whatif.report`)."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.roster import Intervention
from schemas.transitions import TierTransition
from stream.core.policy import Policy
from stream.core.weeks import week_label, week_of
from stream.dispatch.config import DispatchConfig
from stream.dispatch.ledger import DispatchState
from stream.dispatch.plan import recipients
from stream.tools.feedback import tally
from stream.tools.replay import Summary
from stream.tools.whatif.engine import PolicyResult

NO_MANAGER = "(no manager on the profile)"


@dataclass(frozen=True)
class Seen:
    """A transition with the learner's role, manager and team when it happened."""

    transition: TierTransition
    role: str
    manager: str | None
    team: str | None
    week: str  # the ISO week it counts in: the week that closed, else its instant's


@dataclass
class Episode:
    """From a rise out of Tier 0 (the first signal) to the first arrival at Tier 2 or
    higher, if one came before the learner was back at Tier 0."""

    learner_id: str
    started: dt.datetime
    tier2: dt.datetime | None = None

    @property
    def days(self) -> float | None:
        if self.tier2 is None:
            return None
        return round((self.tier2 - self.started).total_seconds() / 86400, 3)


@dataclass
class PolicyFigures:
    """Everything the report says about one policy."""

    name: str
    source: str
    summary: Summary
    bad_lines: int
    seen: list[Seen]
    by_week: Counter[tuple[str, str, int, str]] = field(default_factory=Counter)
    messages: Counter[tuple[str, str]] = field(default_factory=Counter)  # (week, role)
    manager_weeks: Counter[tuple[str, str]] = field(default_factory=Counter)  # (manager, week)
    skipped_nudges: int = 0
    flagged_by_week: dict[str, set[str]] = field(default_factory=dict)
    highest: dict[str, int] = field(default_factory=dict)  # learner -> highest tier reached
    episodes: list[Episode] = field(default_factory=list)
    feedback_rows: list[tuple[str, int, int, int]] = field(default_factory=list)
    feedback_total: int = 0
    feedback_unknown: dict[str, int] = field(default_factory=dict)

    @property
    def worst_manager_week(self) -> tuple[str, str, int] | None:
        """(manager, week, messages) of the heaviest week any manager had, if any."""
        named = [(n, m, w) for (m, w), n in self.manager_weeks.items() if m != NO_MANAGER]
        if not named:
            return None
        n, manager, week = max(named, key=lambda x: (x[0], x[2], x[1]))
        return manager, week, n

    def tier2_days(self) -> list[float]:
        return [e.days for e in self.episodes if e.days is not None]


def figures(
    name: str,
    source: str,
    policy: Policy,
    result: PolicyResult,
    dispatch: DispatchConfig,
) -> PolicyFigures:
    """The figures of one policy's result."""
    seen = []
    for f in result.found:
        t = f.transition
        week = t.week or week_label(week_of(t.at, policy.tz))
        seen.append(Seen(t, f.role, f.manager, f.team, week))
    out = PolicyFigures(name, source, result.summary, len(result.errors), seen)
    for item in seen:
        t = item.transition
        direction = "up" if t.to_tier > t.from_tier else "down"
        out.by_week[item.week, item.role, t.to_tier, direction] += 1
        if direction == "up":
            out.flagged_by_week.setdefault(item.week, set()).add(t.learner_id)
            out.highest[t.learner_id] = max(out.highest.get(t.learner_id, 0), t.to_tier)
    _dispatch(out, dispatch)
    out.episodes = episodes(t.transition for t in seen)
    _feedback(out, result.feedback)
    return out


def _dispatch(out: PolicyFigures, config: DispatchConfig) -> None:
    """Who would be told of each transition, as dispatch decides it (`plan.recipients`,
    with each learner's ledger kept as the dispatcher keeps it, every message delivered):
    one message a recipient, whatever the number of channels a route uses."""
    ledgers: dict[str, DispatchState] = defaultdict(DispatchState)
    for item in out.seen:
        t = item.transition
        ledger = ledgers[t.learner_id]
        roles, why = recipients(t, ledger.told_at(t.at), ledger.last_nudge, t.at, config)
        if why is not None and t.route == "learner_nudge":
            out.skipped_nudges += 1
        for role in roles:
            ledger.delivered(role, t.route, t.at.date(), t.at)
            out.messages[item.week, role] += 1
            if role == "manager":
                out.manager_weeks[item.manager or NO_MANAGER, item.week] += 1
        ledger.moved(t.from_tier, t.to_tier, t.at)


def episodes(transitions: Iterable[TierTransition]) -> list[Episode]:
    """Each learner's episodes, in the order their first signals came (see `Episode`)."""
    open_: dict[str, Episode] = {}
    done: list[Episode] = []
    for t in transitions:
        episode = open_.get(t.learner_id)
        if t.from_tier == 0 and t.to_tier > 0 and episode is None:
            episode = open_[t.learner_id] = Episode(t.learner_id, t.at)
            done.append(episode)
        if episode is not None and t.to_tier >= 2 and episode.tier2 is None:
            episode.tier2 = t.at
        if t.to_tier == 0:
            open_.pop(t.learner_id, None)
    return done


def _feedback(out: PolicyFigures, feedback: list[Intervention]) -> None:
    result = tally(feedback, (s.transition for s in out.seen))
    out.feedback_total = result.feedback
    out.feedback_unknown = result.unknown
    out.feedback_rows = [
        (r.code, r.transitions, r.not_useful, r.incorrectly_flagged) for r in result.rows
    ]


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile (inclusive method) of at least two values; one value is itself."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return round(statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1], 3)


Key = tuple[str, int, int, dt.datetime]  # learner, from tier, to tier, at


@dataclass
class Difference:
    """The transitions of two policies that the other does not have."""

    first: str
    second: str
    only_first: list[Seen]
    only_second: list[Seen]

    def learners(self) -> list[str]:
        """Learners with differences, most differences first (then by id)."""
        count = Counter(s.transition.learner_id for s in [*self.only_first, *self.only_second])
        return sorted(count, key=lambda learner: (-count[learner], learner))


def _key(seen: Seen) -> Key:
    t = seen.transition
    return t.learner_id, t.from_tier, t.to_tier, t.at


def difference(first: PolicyFigures, second: PolicyFigures) -> Difference:
    """Transitions (learner, from, to, instant) one policy gives and the other does not."""
    mine = Counter(_key(s) for s in first.seen)
    theirs = Counter(_key(s) for s in second.seen)
    only_first = _only(first.seen, theirs)
    only_second = _only(second.seen, mine)
    return Difference(first.name, second.name, only_first, only_second)


def _only(seen: list[Seen], other: Counter[Key]) -> list[Seen]:
    left = Counter(other)
    out = []
    for s in seen:
        key = _key(s)
        if left[key] > 0:
            left[key] -= 1
        else:
            out.append(s)
    return out
