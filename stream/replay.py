"""Offline replay: a history file through the same step function, with midnight ticks."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

import orjson
from pydantic import ValidationError

from schemas.history import HISTORY_LINE
from schemas.transitions import TierTransition
from stream.core.policy import Policy
from stream.core.timeline import Record, Timeline, record_time, run_history


class BadLine(Exception):
    """A history line that is not a valid record (line number, field, message)."""

    def __init__(self, number: int, where: str, message: str) -> None:
        super().__init__(f"line {number}: {where}: {message}")
        self.number = number


@dataclass
class Summary:
    """What a replay did: learners per tier, transitions per week and tier, skipped lines."""

    records: int = 0
    skipped: int = 0
    late_events: int = 0
    duplicates: int = 0
    transitions: int = 0
    after_until: int = 0
    unknown_roles: Counter[str] = field(default_factory=Counter)
    learners_by_tier: Counter[int] = field(default_factory=Counter)
    by_week_and_tier: Counter[tuple[str, int]] = field(default_factory=Counter)

    def count(self, transition: TierTransition) -> None:
        self.transitions += 1
        week = transition.week or _iso_week(transition.at)
        self.by_week_and_tier[(week, transition.to_tier)] += 1

    def render(self) -> str:
        lines = [
            f"replayed {self.records} records, skipped {self.skipped} bad lines, "
            f"{self.duplicates} duplicate and {self.late_events} late events",
            "learners by tier: "
            + ", ".join(f"tier {t}: {self.learners_by_tier.get(t, 0)}" for t in range(4)),
            f"transitions: {self.transitions}",
        ]
        if self.after_until:
            lines.append(f"{self.after_until} records after --until were not replayed")
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


def read_history(lines: Iterable[bytes], strict: bool, errors: list[BadLine]) -> Iterator[Record]:
    """Parse history lines; bad ones are appended to `errors` (or raised when strict)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield HISTORY_LINE.validate_json(line)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(line)"
            bad = BadLine(number, where, err["msg"])
            if strict:
                raise bad from None
            errors.append(bad)


def replay(
    records: Iterable[Record], policy: Policy, out: IO[bytes], until: dt.datetime | None = None
) -> Summary:
    """Replay records, write each transition as a JSON line to `out`, and summarise."""
    summary = Summary()
    timeline = Timeline(policy)

    def counted() -> Iterator[Record]:
        for record in records:
            at = record_time(record)
            if until is not None and at is not None and at > until:
                summary.after_until += 1
                continue
            summary.records += 1
            yield record

    for item in run_history(counted(), policy, until, timeline):
        if isinstance(item, TierTransition):
            out.write(orjson.dumps(item.model_dump(mode="json")) + b"\n")
            summary.count(item)
        elif item.code == "duplicate":
            summary.duplicates += 1
        elif item.code == "late_event":
            summary.late_events += 1
        elif item.code == "unknown_role":
            summary.unknown_roles[item.detail] += 1
    summary.learners_by_tier = Counter(s.tier for s in timeline.states.values())
    return summary
