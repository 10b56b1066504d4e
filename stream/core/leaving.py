"""A learner who left: not evaluated after their leaving day.

A profile may carry a leaving record (`LearnerProfile.left_on`, `left_voluntarily`: HR
data, used only here and never in a message). The learner is evaluated as usual up to and
including `left_on`; from the day after, nothing about them is judged:

- the first tick on a later day ends the learner's evaluation (`stream.core.tiers.left`):
  an open episode falls to Tier 0 with the reason `left` (dispatch tells no one: the
  learner is gone, and the record is HR's), the follow-up and a conversation awaited are
  dropped, the weeks not yet evaluated never are, and the evidence so far is spent, as a
  `resolved` spends it;
- later ticks find nothing to do (`stream.core.due.quiet_until` never wakes them);
- events, assignments and interventions dated after `left_on` change nothing (a notice,
  `after_leaving`).

A profile sent again without a leaving record (a correction, a rehire) lets evaluation go
on from the week after `left_on`, with a fresh baseline.

`voluntary` is here only for the reports that measure attrition; the engine never looks
at it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from stream.core.state import LearnerState
from stream.core.weeks import add_days, day_start


def left_on(state: LearnerState) -> dt.date | None:
    """The learner's last day, if their profile records a leaving."""
    profile = state.profile
    return profile.left_on if profile is not None else None


def gone_on(state: LearnerState, day: dt.date) -> bool:
    """Whether `day` is after the learner's leaving day: nothing on it is judged."""
    last = left_on(state)
    return last is not None and day > last


def leaving_instant(last: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The instant evaluation stops: midnight at the start of the day after `last`."""
    return day_start(add_days(last, 1), tz)


def ended(state: LearnerState, tz: ZoneInfo) -> bool:
    """Whether the learner's evaluation was ended by a tick after their leaving day (the
    evidence is spent up to the leaving instant)."""
    last = left_on(state)
    if last is None or state.evidence_from is None:
        return False
    return state.evidence_from >= leaving_instant(last, tz)
