"""The nudge limit counts in the transitions' time, retries included: a nudge delivered by
a retry on a later day of the wall clock counts on its transition's day, as planning
compares it with the next transition's (backfilled or simulated transitions do not follow
the wall clock)."""

from __future__ import annotations

import datetime as dt

from schemas.dispatch import PendingDelivery
from stream.dispatch.ledger import DispatchState
from tests.test_dispatch_plan import MONDAY_NOON, planned, transitions_for

WALL_CLOCK = dt.datetime(2026, 12, 6, 22, 0, tzinfo=dt.UTC)  # months after the transitions


def pending(**fields: object) -> PendingDelivery:
    values: dict[str, object] = {
        "learner_id": "a", "role": "learner", "id": "t1", "route": "learner_nudge",
        "channel": "mail", "recipient": "a@example.com", "subject": "s", "text": "t",
        "round": 0, "due_at": MONDAY_NOON,
    }  # fmt: skip
    return PendingDelivery.model_validate({**values, **fields})


def test_a_retried_nudge_counts_on_its_transition_s_day():
    """Round 3 of a nudge, due months later by the wall clock: the next nudge, 8 days after
    the first in the transitions' time, is sent (it was skipped, the limit counted from the
    retry's day)."""
    first = pending(at=MONDAY_NOON)
    retried = first.model_copy(update={"round": 3, "due_at": WALL_CLOCK})
    state = DispatchState()
    state.delivered("learner", "learner_nudge", DispatchState.nudge_day(retried), MONDAY_NOON)
    assert state.last_nudge == MONDAY_NOON.date()
    nudge = transitions_for([6, 6, 6, 6, 4])[0]
    later = MONDAY_NOON + dt.timedelta(days=8)
    assert planned(nudge, last_nudge=state.last_nudge, now=later).messages


def test_a_delivery_queued_by_an_earlier_release_counts_on_its_due_day():
    """No transition time (written before the field existed): its due day stands in."""
    assert DispatchState.nudge_day(pending(due_at=WALL_CLOCK)) == WALL_CLOCK.date()


def test_a_late_retry_of_an_older_nudge_does_not_move_the_last_nudge_back():
    """The nudge of day 1 is retried while day 3's is delivered; day 1's arriving later
    leaves the last nudge at day 3 (a day-9 nudge is still within 7 days of it)."""
    state = DispatchState()
    day3 = MONDAY_NOON + dt.timedelta(days=2)
    state.delivered("learner", "learner_nudge", day3.date(), day3)
    state.delivered("learner", "learner_nudge", MONDAY_NOON.date(), MONDAY_NOON)
    assert state.last_nudge == day3.date()
