"""Which learners a tick must evaluate, found without looking at the others.

A timeline (replay, and the tests that stand in for the stream) ticks at every midnight;
most days nothing is due for most learners (see `stream.core.due`), and stepping them is
a no-op. The agenda keeps, per learner, the instant their quiet ends (`quiet_until` after
their last evaluation) in a heap, and the learners whose records since then may end it
sooner. A tick takes those two groups only, in the order the learners first came, which is
the order a tick over everyone would have produced their transitions in.

After an event the quiet end is kept unless the event changed what `quiet_until` reads
and could bring nearer: the first week to evaluate, the follow-up or the tier (an event
otherwise only completes assignments, which takes deadline days away). Any other record
makes the learner due at the next tick, as `QuietIndex.recorded` does for the worker.
`Timeline.feed` applies this rule (inline: it runs once a record) and calls `add`.
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass, field

from stream.core.due import quiet_until
from stream.core.policy import Policy
from stream.core.state import LearnerState


@dataclass
class Agenda:
    """The learners a timeline's next tick must step (see the module docstring)."""

    policy: Policy
    ranks: dict[str, int] = field(default_factory=dict)  # order of first record
    until: dict[str, float] = field(default_factory=dict)  # end of quiet, POSIX seconds
    heap: list[tuple[float, int, str]] = field(default_factory=list)
    due: set[str] = field(default_factory=set)  # stepped at the next tick whatever the time

    def add(self, learner_id: str) -> None:
        """A learner due at the next tick: new (ranked after those before), or with a
        record since their last tick that may end their quiet sooner."""
        self.ranks.setdefault(learner_id, len(self.ranks))
        self.due.add(learner_id)

    def take(self, now: dt.datetime) -> list[str]:
        """The learners a tick at `now` must step, in order of first record; the caller
        steps each and then calls `stepped`."""
        seconds = now.timestamp()
        heap, until, due = self.heap, self.until, self.due
        while heap and heap[0][0] <= seconds:
            ends, _, learner_id = heapq.heappop(heap)
            if until.get(learner_id) == ends:  # else an older entry, since replaced
                del until[learner_id]
                due.add(learner_id)
        taken = sorted(due, key=self.ranks.__getitem__)
        due.clear()
        return taken

    def stepped(self, learner_id: str, state: LearnerState, now: dt.datetime) -> None:
        """A tick at `now` stepped the learner: quiet until `quiet_until` (or a record)."""
        ends = quiet_until(state, now, self.policy)
        if ends is None:
            self.until.pop(learner_id, None)
            return
        seconds = ends.timestamp()
        self.until[learner_id] = seconds
        heapq.heappush(self.heap, (seconds, self.ranks[learner_id], learner_id))
