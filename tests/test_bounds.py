"""`event_time_problem`: the policy's window of event times around the receiving clock."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from schemas.limits import EARLIEST, LATEST
from stream.core.bounds import HistoryWindow, event_time_problem, too_far_ahead, too_old
from tests.kit import POLICY, policy_with

RECEIVED = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)


def test_the_default_window_is_an_hour_ahead_and_400_days_back():
    """Inside the window: None; an hour and a second ahead, or 401 days back: a problem."""
    assert event_time_problem(RECEIVED + HOUR, RECEIVED, POLICY) is None
    assert event_time_problem(RECEIVED - 400 * DAY, RECEIVED, POLICY) is None
    ahead = event_time_problem(RECEIVED + HOUR + dt.timedelta(seconds=1), RECEIVED, POLICY)
    old = event_time_problem(RECEIVED - 401 * DAY, RECEIVED, POLICY)
    assert ahead is not None
    assert ahead.reason == "event_in_the_future"
    assert old is not None
    assert old.reason == "event_too_old"


def test_a_problem_names_the_field_the_distance_and_the_setting():
    """The sentence says occurred_at, how far off it is, and which setting it breaks."""
    far = dt.datetime(9999, 6, 1, tzinfo=dt.UTC)
    ahead = too_far_ahead(far, RECEIVED, POLICY)
    assert ahead is not None
    assert ahead.detail.startswith("occurred_at is about 7972 years after the event was received")
    assert "events.max_skew_minutes: 60" in ahead.detail
    old = too_old(RECEIVED - 401 * DAY, RECEIVED, POLICY)
    assert old is not None
    assert (
        old.detail
        == "occurred_at is 401 days before the event was received (events.max_age_days: 400)"
    )
    minutes = too_far_ahead(RECEIVED + 90 * dt.timedelta(minutes=1), RECEIVED, POLICY)
    assert minutes is not None
    assert "90 minutes after" in minutes.detail


def test_the_window_is_the_policys():
    """A policy with no skew and a 30-day age refuses what the default takes."""
    strict = policy_with(events={"max_skew_minutes": 0, "max_age_days": 30})
    assert event_time_problem(RECEIVED + dt.timedelta(seconds=1), RECEIVED, strict) is not None
    assert event_time_problem(RECEIVED - 31 * DAY, RECEIVED, strict) is not None
    assert event_time_problem(RECEIVED, RECEIVED, strict) is None


OFFSETS = st.timedeltas(-dt.timedelta(hours=23, minutes=59), dt.timedelta(hours=23, minutes=59))


@given(
    st.datetimes(EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None)),
    st.datetimes(EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None)),
    OFFSETS,
)
def test_never_raises_for_any_two_instants(occurred, received, offset):
    """Any two instants a record can hold, any offsets: a verdict, never an exception."""
    zone = dt.timezone(dt.timedelta(minutes=offset // dt.timedelta(minutes=1)))
    at = occurred.replace(tzinfo=dt.UTC).astimezone(zone)
    problem = event_time_problem(at, received.replace(tzinfo=dt.UTC), POLICY)
    assert problem is None or problem.detail.startswith("occurred_at is ")


def test_a_history_keeps_its_own_clock():
    """Replay's window: events within 400 days (and the skew) of the newest event so far
    are taken and move the clock; a year-9999 or year-1900 one is refused, the clock stays."""
    window = HistoryWindow(POLICY)
    window.look_ahead([RECEIVED, RECEIVED + DAY])
    assert window.problem(RECEIVED) is None
    assert window.problem(RECEIVED + 300 * DAY) is None  # a quiet spell: the clock moves
    future = window.problem(dt.datetime(9999, 6, 1, tzinfo=dt.UTC))
    past = window.problem(dt.datetime(1900, 1, 1, tzinfo=dt.UTC))
    assert future is not None
    assert future.reason == "event_in_the_future"
    assert past is not None
    assert past.reason == "event_too_old"
    assert "history's newest event so far" in past.detail
    assert window.newest == RECEIVED + 300 * DAY
    assert window.problem(RECEIVED - 90 * DAY) is None  # late, but inside the window


def test_a_far_off_first_line_does_not_set_a_historys_clock():
    """The clock starts at the first event near the median of the first ones: a year-1
    first line (and a year-9999 second) is refused, the rest of the history is taken."""
    first = [dt.datetime(1, 1, 2, tzinfo=dt.UTC), dt.datetime(9999, 1, 1, tzinfo=dt.UTC)]
    sparse = [RECEIVED - 500 * DAY + 100 * i * DAY for i in range(8)]  # 700 days, in order
    window = HistoryWindow(POLICY)
    window.look_ahead(first + sparse)
    assert [window.problem(at) is None for at in first + sparse] == [False, False] + [True] * 8
