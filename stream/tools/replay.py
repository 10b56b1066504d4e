"""Offline replay: a history file through the same step function, with midnight ticks.

Transitions are written as JSON lines to `out`; overdue follow-ups (reminders and their
escalations, `stream.core.reminders`) are counted in the summary and written as JSON
lines to `follow_ups` only when one is given, so the transitions output is as before."""

from __future__ import annotations

import datetime as dt
import gc
import heapq
import itertools
import multiprocessing
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson
from pydantic import ValidationError

from schemas.clock import Tick
from schemas.events import LearningEvent
from schemas.history import HISTORY_LINE, Record
from schemas.reminders import FollowUpOverdue
from schemas.transitions import TierTransition
from stream.core.bounds import LOOKAHEAD, HistoryWindow
from stream.core.keys import event_key
from stream.core.policy import Policy
from stream.core.step import Notice
from stream.core.timeline import Timeline, record_time, schedule_timed
from stream.errors import TierwatchError


class BadLine(TierwatchError):
    """A history line that is not a valid record (line number, field, message)."""

    def __init__(self, number: int, where: str, message: str) -> None:
        super().__init__(f"line {number}: {where}: {message}")
        self.number = number
        self.where = where
        self.message = message

    def __reduce__(self) -> tuple[type[BadLine], tuple[int, str, str]]:
        return BadLine, (self.number, self.where, self.message)  # from a replay process


PER_LEARNER_COUNTERS = (
    "unknown_roles", "retractions", "follow_ups", "learners_by_tier", "by_week_and_tier",
)  # fmt: skip


@dataclass
class Summary:
    """What a replay did: learners per tier, transitions per week and tier, skipped lines."""

    records: int = 0
    skipped: int = 0
    late_events: int = 0
    duplicates: int = 0
    transitions: int = 0
    after_until: int = 0
    after_leaving: int = 0  # records dated after their learner's leaving day
    unknown_roles: Counter[str] = field(default_factory=Counter)
    retractions: Counter[str] = field(default_factory=Counter)  # voided events, by outcome
    follow_ups: Counter[str] = field(default_factory=Counter)  # overdue follow-ups, by step
    learners_by_tier: Counter[int] = field(default_factory=Counter)
    by_week_and_tier: Counter[tuple[str, int]] = field(default_factory=Counter)

    @classmethod
    def merged(cls, parts: list[Summary]) -> Summary:
        """The summary of all shares of a replay: each read every record (their counts are
        the first share's), and stepped its own learners (those are added up)."""
        first = parts[0]
        total = cls(records=first.records, skipped=first.skipped, after_until=first.after_until)
        for part in parts:
            total.late_events += part.late_events
            total.duplicates += part.duplicates
            total.transitions += part.transitions
            total.after_leaving += part.after_leaving
            for name in PER_LEARNER_COUNTERS:
                getattr(total, name).update(getattr(part, name))
        return total

    def count(self, transition: TierTransition) -> None:
        self.transitions += 1
        week = transition.week or _iso_week(transition.at)
        self.by_week_and_tier[(week, transition.to_tier)] += 1

    def notice(self, notice: Notice) -> None:
        if notice.code == "duplicate":
            self.duplicates += 1
        elif notice.code == "late_event":
            self.late_events += 1
        elif notice.code == "unknown_role":
            self.unknown_roles[notice.detail] += 1
        elif notice.code in ("retracted", "not_retracted"):
            self.retractions[f"{notice.code} ({notice.detail})"] += 1
        elif notice.code == "after_leaving":
            self.after_leaving += 1

    def render(self) -> str:
        lines = [
            f"replayed {self.records} records, skipped {self.skipped} bad lines, "
            f"{self.duplicates} duplicate and {self.late_events} late events",
            "learners by tier: "
            + ", ".join(f"tier {t}: {self.learners_by_tier.get(t, 0)}" for t in range(4)),
            f"transitions: {self.transitions}",
        ]
        if self.follow_ups:
            lines.append(
                f"overdue follow-ups: {self.follow_ups['reminder']} managers reminded, "
                f"{self.follow_ups['escalation']} escalated to HR"
            )
        if self.retractions:
            taken = ", ".join(f"{n} {what}" for what, n in sorted(self.retractions.items()))
            lines.append(f"voided events: {taken}")
        if self.after_until:
            lines.append(f"{self.after_until} records after --until were not replayed")
        if self.after_leaving:
            lines.append(
                f"{self.after_leaving} records dated after their learner's leaving day "
                "changed nothing"
            )
        if self.unknown_roles:
            roles = ", ".join(f"{r} ({n})" for r, n in sorted(self.unknown_roles.items()))
            lines.append(f"warning: roles not in the policy, the default role used: {roles}")
        weeks = sorted({w for w, _ in self.by_week_and_tier})
        if weeks:
            lines.append("week       to tier 0  1  2  3")
            for week in weeks:
                row = " ".join(f"{self.by_week_and_tier.get((week, t), 0):>2}" for t in range(4))
                lines.append(f"{week}          {row}")
        return "\n".join(lines)


def _iso_week(at: dt.datetime) -> str:
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


_validate_json = HISTORY_LINE.validator.validate_json  # the TypeAdapter's, minus a wrapper


def read_history(
    lines: Iterable[bytes],
    strict: bool,
    errors: list[BadLine],
    window: HistoryWindow | None = None,
) -> Iterator[Record]:
    """Parse history lines; bad ones are appended to `errors` (or raised when strict).
    With a `window`, an event outside the policy's window of event times around the
    history's own clock (see `stream.core.bounds.HistoryWindow`) is a bad line too."""
    numbered = enumerate(lines, start=1)
    if window is not None:  # the clock is set from the first lines, then they are judged
        head = list(_parsed(itertools.islice(numbered, LOOKAHEAD), strict, errors))
        window.look_ahead([r.occurred_at for _, r in head if isinstance(r, LearningEvent)])
        for number, record in head:
            if _taken(number, record, window, strict, errors):
                yield record
    problem = window.problem if window is not None else None
    for number, line in numbered:  # inline: this loop runs once a line of every replay
        if not line.strip():
            continue
        try:
            record = _validate_json(line)
        except ValidationError as exc:
            bad = bad_line(number, exc)
            if strict:
                raise bad from None
            errors.append(bad)
            continue
        if (
            problem is None
            or not isinstance(record, LearningEvent)
            or (refused := problem(record.occurred_at)) is None
        ):
            yield record
        else:
            _refuse(BadLine(number, "occurred_at", refused.detail), strict, errors)


def _parsed(
    numbered: Iterable[tuple[int, bytes]], strict: bool, errors: list[BadLine]
) -> Iterator[tuple[int, Record]]:
    for number, line in numbered:
        if not line.strip():
            continue
        try:
            yield number, _validate_json(line)
        except ValidationError as exc:
            _refuse(bad_line(number, exc), strict, errors)


def _taken(
    number: int, record: Record, window: HistoryWindow, strict: bool, errors: list[BadLine]
) -> bool:
    if not isinstance(record, LearningEvent):
        return True
    refused = window.problem(record.occurred_at)
    if refused is not None:
        _refuse(BadLine(number, "occurred_at", refused.detail), strict, errors)
    return refused is None


def bad_line(number: int, exc: ValidationError) -> BadLine:
    """The bad line a validation error makes: its first problem's field and message."""
    err = exc.errors()[0]
    return BadLine(number, ".".join(str(p) for p in err["loc"]) or "(line)", err["msg"])


def _refuse(bad: BadLine, strict: bool, errors: list[BadLine]) -> None:
    if strict:
        raise bad
    errors.append(bad)


def replay(
    records: Iterable[Record],
    policy: Policy,
    out: IO[bytes],
    until: dt.datetime | None = None,
    follow_ups: IO[bytes] | None = None,
) -> Summary:
    """Replay records, write each transition as a JSON line to `out` (and each overdue
    follow-up to `follow_ups`, if given), and summarise."""
    summary = Summary()
    for _, _, line, overdue in sweep(records, policy, until, summary):
        if not overdue:
            out.write(line)
        elif follow_ups is not None:
            follow_ups.write(line)
    return summary


Share = tuple[int, int]  # (index, count): the learners `in_share` of index among count


def in_share(learner_id: str, share: Share) -> bool:
    """Whether a learner is in a share: the stable hash of their id (`event_key`) modulo
    the count is its index. A hash, not the order of first records: a simulated history
    cycles through its personas in that order, and a share of every other learner would
    take every other persona (one process of two had about a tenth more work)."""
    index, count = share
    return count == 1 or event_key(learner_id) % count == index


# (input number, learner rank, a transition or an overdue follow-up as a JSON line, and
# whether it is an overdue follow-up)
Line = tuple[int, int, bytes, bool]


def sweep(
    records: Iterable[Record],
    policy: Policy,
    until: dt.datetime | None,
    summary: Summary,
    share: Share = (0, 1),
) -> Iterator[Line]:
    """Replay (see `run_history`) the learners of one share; every share reads all records,
    so ticks fall between the same records. Each transition comes with the number of the
    input that caused it and the learner's rank (order of first record): sorting the lines
    of all shares by both gives the order of a replay of everyone."""
    timeline = Timeline(policy)
    ranks: dict[str, int] = {}
    mine: dict[str, bool] = {}  # a learner's `in_share`, worked out once
    timed = _counted(records, until, summary)
    for number, item in enumerate(schedule_timed(timed, policy, until)):
        if isinstance(item, Tick):
            produced = timeline.tick(item.now)
        else:
            learner_id = item.learner_id
            own = mine.get(learner_id)
            if own is None:
                own = mine[learner_id] = in_share(learner_id, share)
                ranks[learner_id] = len(ranks)
            if not own:
                continue
            produced = timeline.feed(item)
        for output in produced:
            if isinstance(output, TierTransition):
                summary.count(output)
                line = orjson.dumps(output.model_dump(mode="json")) + b"\n"
                yield number, ranks[output.learner_id], line, False
            elif isinstance(output, FollowUpOverdue):
                summary.follow_ups[output.step] += 1
                line = orjson.dumps(output.model_dump(mode="json")) + b"\n"
                yield number, ranks[output.learner_id], line, True
            else:
                summary.notice(output)
    summary.learners_by_tier = Counter(s.tier for s in timeline.states.values())


def _counted(
    records: Iterable[Record], until: dt.datetime | None, summary: Summary
) -> Iterator[tuple[Record, dt.datetime | None]]:
    """The records up to `until`, each with its time, counted."""
    for record in records:
        at = record_time(record)
        if until is not None and at is not None and at > until:
            summary.after_until += 1
            continue
        summary.records += 1
        yield record, at


BATCH_GC = (200_000, 100, 1000)  # `few_collections`: gc.set_threshold's three numbers


@contextmanager
def few_collections() -> Iterator[None]:
    """Fewer garbage collections while a history is replayed: the young generation once
    every 200,000 allocations net, not 700, the older ones next to never. A replay makes
    millions of short-lived values without cycles (records, counted events, week rows)
    and learner states that live to its end, so a collection frees next to nothing, and
    the default thresholds spent about a tenth of a whatif's time finding that (CPU of
    one share of simulate(2000, 52) through three policies, 14.2 s -> 12.2 s). Memory is
    unchanged. Processes forked inside inherit it; the thresholds are restored after."""
    before = gc.get_threshold()
    gc.set_threshold(*BATCH_GC)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def replay_file(
    path: Path,
    policy: Policy,
    out: IO[bytes],
    until: dt.datetime | None = None,
    strict: bool = False,
    errors: list[BadLine] | None = None,
    workers: int = 1,
    window: bool = False,
    follow_ups: IO[bytes] | None = None,
) -> Summary:
    """Replay a history file as `replay` does, in `workers` processes that each replay a
    share of the learners (learners are independent): the same lines, in the same order,
    and the same summary as one process. Bad lines are appended to `errors`. With
    `window`, events outside the policy's window of event times are bad lines too (see
    `read_history`)."""
    errors = [] if errors is None else errors
    if workers <= 1:
        times = HistoryWindow(policy) if window else None
        with few_collections(), path.open("rb") as source:
            records = read_history(source, strict, errors, times)
            return replay(records, policy, out, until, follow_ups)
    context = multiprocessing.get_context()  # fork on Linux: the children start at once
    jobs = [(path, policy, until, strict, (index, workers), window) for index in range(workers)]
    with few_collections(), context.Pool(workers) as pool:
        parts = pool.map(_replay_share, jobs)
    for _, _, line, overdue in heapq.merge(*(lines for _, lines, _ in parts), key=_order):
        if not overdue:
            out.write(line)
        elif follow_ups is not None:
            follow_ups.write(line)
    errors.extend(parts[0][2])
    return Summary.merged([summary for summary, _, _ in parts])


def _order(line: Line) -> tuple[int, int]:
    return line[0], line[1]


def _replay_share(
    job: tuple[Path, Policy, dt.datetime | None, bool, Share, bool],
) -> tuple[Summary, list[Line], list[BadLine]]:
    """One process of `replay_file`: every line read (and checked), one share replayed."""
    path, policy, until, strict, share, window = job
    summary, errors = Summary(), list[BadLine]()
    times = HistoryWindow(policy) if window else None
    with few_collections(), path.open("rb") as source:
        records = read_history(source, strict, errors, times)
        lines = list(sweep(records, policy, until, summary, share))
    return summary, lines, errors
