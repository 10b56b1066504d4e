"""A voiding that comes right after the event it voids, while the event's week is open,
leaves the learner as if the event had never been sent: the same transitions, the same
reasons, from every later evaluation (checked with hypothesis over generated histories)."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from schemas import LearningEvent
from tests.kit import ordered, run
from tests.test_properties import histories
from tests.test_step_retraction import void


@settings(max_examples=200, deadline=None)
@given(histories(), st.data())
def test_an_event_voided_at_once_is_as_if_never_sent(history, data):
    records, last = history
    events = [r for r in records if isinstance(r, LearningEvent)]
    target = data.draw(st.sampled_from(events))
    voiding = void(target, target.occurred_at, score=target.score)
    timeline = ordered(records)  # the voiding comes next, before a record of the same instant
    timeline.insert(timeline.index(target) + 1, voiding)
    sent = run(timeline, last)
    assume(all(t.at != target.occurred_at for t in sent))  # emitted at once: it stays
    never = run([r for r in records if r is not target], last)
    assert [t.model_dump(exclude={"id"}) for t in sent] == [
        t.model_dump(exclude={"id"}) for t in never
    ]
