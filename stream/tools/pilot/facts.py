"""What a pilot report needs of a history, per learner: their team, when they started,
their leaving record, their assignments and when each was first completed.

`Facts.add` takes one record at a time (pure); `read_facts` reads a history file with the
whatif engine's own parser and replay's window of event times, so a line replay skips
(bad, or an event dated outside the window) is skipped here too.

- **team**: the team on the learner's last profile (a leaving profile keeps the team);
  a profile without one is the team `(none)`.
- **first day**: the local day of the learner's first dated record (events, assignments,
  interventions; a profile has no date).
- **assignments**: the last record of each module (a module sent again replaces it, as
  the engine does; withdrawn: it no longer counts).
- **completed**: the local day of the first completion of a module that no voiding took
  back.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from schemas.events import LearningEvent
from schemas.history import Record
from schemas.roster import Assignment, LearnerProfile
from stream.core.bounds import LOOKAHEAD, HistoryWindow
from stream.core.policy import Policy
from stream.core.timeline import record_time
from stream.tools.replay import BadLine
from stream.tools.whatif.engine import Progress, parsed_lines

NO_TEAM = "(none)"


@dataclass
class Learner:
    """One learner as the pilot report sees them (see the module)."""

    team: str = NO_TEAM
    first_day: dt.date | None = None
    left_on: dt.date | None = None
    voluntary: bool | None = None
    assignments: dict[str, tuple[dt.date, str]] = field(default_factory=dict)  # module -> due, kind
    completions: dict[str, tuple[str, dt.date]] = field(
        default_factory=dict
    )  # event -> module, day

    def completed_days(self) -> dict[str, dt.date]:
        """Every completed module and its first day."""
        out: dict[str, dt.date] = {}
        for module, day in self.completions.values():
            if module not in out or day < out[module]:
                out[module] = day
        return out


@dataclass
class Facts:
    """The learners of a history, and its first and last days (local, the policy's zone)."""

    policy: Policy
    learners: dict[str, Learner] = field(default_factory=dict)
    first_day: dt.date | None = None
    last_day: dt.date | None = None

    def add(self, record: Record) -> None:
        """Take one record (one the engine takes: valid, within the window)."""
        learner = self.learners.get(record.learner_id)
        if learner is None:
            learner = self.learners[record.learner_id] = Learner()
        at = record_time(record)
        if at is not None:
            day = at.astimezone(self.policy.tz).date()
            if learner.first_day is None or day < learner.first_day:
                learner.first_day = day
            self.first_day = day if self.first_day is None else min(self.first_day, day)
            self.last_day = day if self.last_day is None else max(self.last_day, day)
        if isinstance(record, LearnerProfile):
            learner.team = record.team or NO_TEAM
            learner.left_on, learner.voluntary = record.left_on, record.left_voluntarily
        elif isinstance(record, Assignment):
            if record.withdrawn:
                learner.assignments.pop(record.module_id, None)
            else:
                learner.assignments[record.module_id] = (record.due, record.kind)
        elif isinstance(record, LearningEvent):
            if record.kind == "completion" and record.id not in learner.completions:
                day = record.occurred_at.astimezone(self.policy.tz).date()
                learner.completions[record.id] = (record.object_id, day)
            elif record.retracts is not None:
                learner.completions.pop(record.retracts.id, None)

    def teams(self) -> list[str]:
        """Every team with a learner, sorted."""
        return sorted({learner.team for learner in self.learners.values()})


def take(facts: Facts, records: Iterable[Record]) -> Facts:
    """Facts of records already judged (every event within the window)."""
    for record in records:
        facts.add(record)
    return facts


def read_facts(
    path: Path, policy: Policy, errors: list[BadLine], progress: Progress | None = None
) -> Facts:
    """The facts of a history file: its valid lines with events in replay's window of
    event times (a skipped line is appended to `errors`, as the engine judges it)."""
    facts = Facts(policy)
    window = HistoryWindow(policy)
    with path.open("rb") as source:
        numbered = parsed_lines(source, False, errors, progress)
        head = list(itertools.islice(numbered, LOOKAHEAD))
        window.look_ahead([r.occurred_at for _, r in head if isinstance(r, LearningEvent)])
        for _, record in itertools.chain(head, numbered):
            if isinstance(record, LearningEvent) and window.problem(record.occurred_at):
                continue
            facts.add(record)
    return facts
