"""One history through several policies at once, each giving what `tierwatch replay` gives.

The history is read and validated once; every policy then runs the core's own `step`
over it (its own `Timeline`: states, wake-up index), so each policy's transitions are
replay's, transition for transition. What is shared between the policies:

- reading: one parse of every line (pydantic, as replay), the bad lines judged once, the
  window of event times once per `events` section;
- in a lane (`_Lane`: the policies with one timezone, week-close grace, window and
  `until`), the midnight ticks, the ranks and input numbers, and the pending runs of
  events that can only count in their week (`step.counts_only`, most of a history), each
  event reduced once to what counting it needs (`step.Counted`).

What is not shared, because it depends on the policy: everything a tier decision reads
(each policy's states, weeks' buckets included: a fall or a voiding reaching into the
baseline differs by policy).

A lane keeps a learner's counting-only events pending and each policy applies the run in
one call (`Timeline.feed_counted`), just before the first tick that closes one of their
weeks, before the learner's next other record, or at the end. Nothing reads a week's
count before it closes, so the states, the transitions and their order are the ones of
stepping every event at once (`tests/test_whatif_engine.py` compares them with replay).
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson
from pydantic import ValidationError

from schemas.events import LearningEvent
from schemas.history import HISTORY_LINE, Record
from schemas.reminders import FollowUpOverdue
from schemas.roster import FEEDBACK_KINDS, Intervention, LearnerProfile
from schemas.transitions import TierTransition
from stream.core.bounds import LOOKAHEAD, HistoryWindow
from stream.core.keys import event_key
from stream.core.policy import Events, Policy
from stream.core.step import Counted, Notice, Output, counts_only
from stream.core.timeline import TickSchedule, Timeline, record_time
from stream.core.today import clock_at
from stream.core.weeks import local_date, week_of_date
from stream.tools.replay import BadLine, Share, Summary, bad_line, in_share

Progress = Callable[[int], None]  # bytes read since the last call


class Found(NamedTuple):
    """A transition one policy gave: the input that caused it and the learner's rank (the
    order of replay's output), the transition, and the learner's place in the organisation
    when it happened (the profile's role, manager and team). A share's process hands it to
    the parent pickled: the model is rebuilt without being validated again."""

    number: int
    rank: int
    transition: TierTransition
    role: str
    manager: str | None
    team: str | None

    @property
    def line(self) -> bytes:
        """The transition as replay writes it (a JSON line without its newline)."""
        return orjson.dumps(self.transition.model_dump(mode="json"))


class Talk(NamedTuple):
    """How a Tier 2 arrival was answered (the `conversation` notice, `stream.core.timeliness`):
    the input it came with, the learner, the outcome, and for on_time or late the day of
    the conversation (the intervention's `on`, else its local day)."""

    number: int
    learner_id: str
    outcome: str
    day: dt.date | None


@dataclass
class PolicyResult:
    """What one policy did over the history (one share of the learners, or all)."""

    summary: Summary = field(default_factory=Summary)
    found: list[Found] = field(default_factory=list)
    errors: list[BadLine] = field(default_factory=list)
    feedback: list[Intervention] = field(default_factory=list)
    talks: list[Talk] = field(default_factory=list)


class _Run:
    """One policy: its own timeline (states, wake-up index) and what it gave."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.timeline = Timeline(policy)
        self.result = PolicyResult()

    def outputs(
        self, number: int, rank: dict[str, int], produced: list[Output], cause: object = None
    ) -> None:
        summary = self.result.summary
        for output in produced:
            if isinstance(output, FollowUpOverdue):  # counted as replay counts them
                summary.follow_ups[output.step] += 1
                continue
            if not isinstance(output, TierTransition):
                summary.notice(output)
                if output.code == "conversation":
                    day = None
                    if isinstance(cause, Intervention) and output.detail in ("on_time", "late"):
                        day = cause.on or local_date(cause.at, self.policy.tz)
                    self.result.talks.append(Talk(number, output.learner_id, output.detail, day))
                continue
            summary.count(output)
            profile = self.timeline.states[output.learner_id].profile
            role, manager, team = (
                (profile.role, profile.manager_id, profile.team)
                if profile is not None
                else ("default", None, None)
            )
            self.result.found.append(
                Found(number, rank[output.learner_id], output, role, manager, team)
            )


class _Lane:
    """The policies that see one sequence of inputs: one timezone and week-close grace (the
    same ticks, weeks and week closes), one window of event times and one `until`. The
    lane schedules the ticks and keeps the counting-only events pending per learner once
    for all of them (replay's sweep, `stream.tools.replay.sweep`); each policy steps its
    own states."""

    def __init__(self, policy: Policy, until: dt.datetime | None, share: Share) -> None:
        self.policy = policy  # the first: its calendar is every policy's of the lane
        self.until = until
        self.share = share
        self.runs: list[_Run] = []
        self.ticks = TickSchedule(policy, until)
        self.records = self.after_until = 0
        self.ranks: dict[str, int] = {}
        self.mine: dict[str, bool] = {}  # a learner's `in_share`, worked out once
        self.number = 0  # replay's input number: records and ticks, in schedule order
        self.known: set[str] = set()  # learners with a state
        # learners with a leaving record: their events are stepped one by one (the tick
        # that ends a leaver's evaluation is no week close, so none may be pending then)
        self.leavers: set[str] = set()
        self.pending: dict[str, list[Counted]] = {}
        self.earliest: dict[str, int] = {}  # a learner's earliest pending week
        self.heap: list[tuple[int, str]] = []  # (week, learner): stale entries are skipped

    def record(self, record: Record, at: dt.datetime | None, event: LearningEvent | None) -> None:
        """One record the lane's window took (`event`: the record, when it is an event)."""
        if self.until is not None and at is not None and at > self.until:
            self.after_until += 1
            return
        self.records += 1
        if at is not None:
            for now in self.ticks.before(at):
                self.tick(now)
        number = self.number
        self.number += 1
        learner_id = record.learner_id
        own = self.mine.get(learner_id)
        if own is None:
            own = self.mine[learner_id] = in_share(learner_id, self.share)
            self.ranks[learner_id] = len(self.ranks)
        if not own:
            return  # what follows only for the share's learners
        if (
            event is not None
            and learner_id in self.known
            and learner_id not in self.leavers
            and counts_only(event)
        ):
            self._hold(learner_id, _counted(event, self.policy))
            return
        self.known.add(learner_id)
        if isinstance(record, LearnerProfile) and record.left_on is not None:
            self.leavers.add(learner_id)
        self._flush(learner_id)
        feedback = isinstance(record, Intervention) and record.kind in FEEDBACK_KINDS
        for run in self.runs:
            if feedback:
                run.result.feedback.append(record)  # type: ignore[arg-type]  # checked above
            run.outputs(number, self.ranks, run.timeline.feed(record), record)

    def tick(self, now: dt.datetime) -> None:
        closed = clock_at(now, self.policy).closed
        heap, earliest = self.heap, self.earliest
        while heap and heap[0][0] <= closed:
            week, learner_id = heapq.heappop(heap)
            if earliest.get(learner_id) == week:
                self._flush(learner_id)
        number = self.number
        self.number += 1
        for run in self.runs:
            run.outputs(number, self.ranks, run.timeline.tick(now))

    def finish(self) -> None:
        for now in self.ticks.rest():
            self.tick(now)
        for learner_id in list(self.pending):
            self._flush(learner_id)
        for run in self.runs:
            summary = run.result.summary
            summary.records, summary.after_until = self.records, self.after_until
            summary.learners_by_tier = Counter(s.tier for s in run.timeline.states.values())

    def _hold(self, learner_id: str, counted: Counted) -> None:
        held = self.pending.get(learner_id)
        if held is None:
            self.pending[learner_id] = [counted]
        else:
            held.append(counted)
            if counted.week >= self.earliest[learner_id]:
                return
        self.earliest[learner_id] = counted.week
        heapq.heappush(self.heap, (counted.week, learner_id))

    def _flush(self, learner_id: str) -> None:
        held = self.pending.pop(learner_id, None)
        if held is None:
            return
        del self.earliest[learner_id]
        for run in self.runs:
            summary = run.result.summary
            for output in run.timeline.feed_counted(learner_id, held):
                if isinstance(output, Notice):  # counting gives notices only
                    summary.notice(output)


_validate_json = HISTORY_LINE.validator.validate_json


def parsed_lines(
    lines: Iterable[bytes], strict: bool, errors: list[BadLine], progress: Progress | None = None
) -> Iterator[tuple[int, Record]]:
    """Each valid line with its number; a bad one is appended to `errors` (raised when
    strict), as replay judges it."""
    read = 0
    for number, line in enumerate(lines, start=1):
        read += len(line)
        if progress is not None and read >= 1 << 22:
            progress(read)
            read = 0
        if not line.strip():
            continue
        try:
            yield number, _validate_json(line)
        except ValidationError as exc:
            bad = bad_line(number, exc)
            if strict:
                raise bad from None
            errors.append(bad)
    if progress is not None and read:
        progress(read)


def _lane_key(policy: Policy, until: dt.datetime | None) -> tuple[object, ...]:
    """What makes two policies see one sequence of inputs (see `_Lane`)."""
    return policy.timezone, policy.weeks.close_grace_hours, policy.events, until


def evaluate(
    lines: Iterable[bytes],
    policies: list[Policy],
    until: list[dt.datetime | None],
    strict: bool = False,
    share: Share = (0, 1),
    progress: Progress | None = None,
) -> list[PolicyResult]:
    """Every policy over the history's lines (its `until`: see `tierwatch replay`), for the
    learners of one share; each result holds what replay of that policy gives (its
    transitions in `found`, in replay's order)."""
    lanes: dict[tuple[object, ...], _Lane] = {}
    runs = []
    for policy, end in zip(policies, until, strict=True):
        key = _lane_key(policy, end)
        lane = lanes.get(key) or lanes.setdefault(key, _Lane(policy, end, share))
        lane.runs.append(_Run(policy))
        runs.append(lane.runs[-1])
    windows: dict[Events, tuple[HistoryWindow, list[_Lane]]] = {}
    for lane in lanes.values():
        group = windows.setdefault(lane.policy.events, (HistoryWindow(lane.policy), []))
        group[1].append(lane)
    errors: list[BadLine] = []
    numbered = parsed_lines(lines, strict, errors, progress)
    head = list(itertools.islice(numbered, LOOKAHEAD))
    times = [r.occurred_at for _, r in head if isinstance(r, LearningEvent)]
    for window, _ in windows.values():
        window.look_ahead(times)
    groups = list(windows.values())
    for number, record in itertools.chain(head, numbered):
        _take(number, record, groups, strict)
    for lane in lanes.values():
        lane.finish()
    for run in runs:
        run.result.errors = sorted([*errors, *run.result.errors], key=lambda bad: bad.number)
    return [run.result for run in runs]


def _take(
    number: int,
    record: Record,
    groups: list[tuple[HistoryWindow, list[_Lane]]],
    strict: bool,
) -> None:
    """One valid record through every lane whose window takes it."""
    if not isinstance(record, LearningEvent):
        at = record_time(record)
        for _, lanes in groups:
            for lane in lanes:
                lane.record(record, at, None)
        return
    at = record.occurred_at
    for window, lanes in groups:
        refused = window.problem(at)
        if refused is not None:
            bad = BadLine(number, "occurred_at", refused.detail)
            if strict:
                raise bad
            for lane in lanes:
                for run in lane.runs:
                    run.result.errors.append(bad)
            continue
        for lane in lanes:
            lane.record(record, at, record)


def _counted(event: LearningEvent, policy: Policy) -> Counted:
    """An event that only counts, reduced to what counting it needs (`step.Counted`) in
    the policy's timezone: only for the learners of the lane's share."""
    local = event.occurred_at.astimezone(policy.tz)
    weekday = local.weekday() if event.acted_by is None else None
    day = local.date()
    return Counted(event_key(event.id), week_of_date(day), weekday, day, event.kind)
