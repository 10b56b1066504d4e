"""`stream.tools.pilot.measures` and `facts`: what counts as due, on time, at risk and a
voluntary leaver in each period; Tier 2 arrivals paired with how the core says they were
answered, replayed through the whatif engine.

The pilot below runs weeks 4-5 of the test calendar (2026-02-02 to 2026-02-15); before
is weeks 2-3.

    week      2        3        4 (pilot)   5 (pilot)   6
    L1        a1 due   a2 due   a3 due      a4 due      a5 due
              on time  late     on time     never       (outside)
"""

from __future__ import annotations

import datetime as dt

import orjson

from schemas.history import to_line
from stream.tools.pilot.facts import Facts, take
from stream.tools.pilot.measures import (
    Pilot,
    arrivals,
    attrition_row,
    completion_row,
    grouped,
    interventions,
)
from stream.tools.whatif.engine import evaluate
from tests.kit import POLICY, UTC, assignment, at, day, event, intervention, profile, weeks

PILOT = Pilot(team="t1", start=day(4), weeks=2, compare=("t2",))


def _completion(learner: str, module: str, when: dt.datetime, **fields: object):
    return event(learner, when, kind="completion", object_id=module, **fields)


def _facts(records) -> Facts:
    return take(Facts(POLICY), records)


def test_completion_counts_assignments_due_in_each_period_and_those_on_time():
    """On time = first completed on or before the due day; late and never are not."""
    records = [profile("L1")]
    for n, (week, done_week) in enumerate([(2, 2), (3, 4), (4, 4), (5, None), (6, 6)], 1):
        records.append(assignment("L1", f"a{n}", "milestone", day(week, 4), at(week - 1)))
        if done_week is not None:
            records.append(_completion("L1", f"a{n}", at(done_week, 4 if done_week == week else 1)))
    learner = _facts(records).learners["L1"]
    assert completion_row(learner, PILOT) == (1, 2, 1, 2)


def test_a_voided_completion_a_withdrawn_assignment_and_a_leaver():
    """A voided completion is not one; a withdrawn assignment and one due after the
    learner's last day are not due."""
    done = _completion("L1", "a1", at(4, 1), id="c1")
    void = event("L1", at(4, 2), kind="voided", object_id="x", retracts={"id": "c1",
                 "occurred_at": done.occurred_at.isoformat()})  # fmt: skip
    records = [
        profile("L1", left_on=day(5, 2), left_voluntarily=True),
        assignment("L1", "a1", "milestone", day(4, 4), at(3)),
        done, void,
        assignment("L1", "a2", "milestone", day(4, 4), at(3)),
        assignment("L1", "a2", "milestone", day(4, 4), at(3)).model_copy(
            update={"withdrawn": True}
        ),
        assignment("L1", "a3", "milestone", day(5, 2), at(4)),  # due on the last day: due
        assignment("L1", "a4", "milestone", day(5, 3), at(4)),  # due after it: not
    ]  # fmt: skip
    learner = _facts(records).learners["L1"]
    assert completion_row(learner, PILOT) == (0, 0, 0, 2)


def test_weeks_at_risk_start_with_the_first_record_and_end_with_the_last_day():
    """Started in week 3 (before: 1 week at risk), left voluntarily in week 5 (during: 2
    weeks at risk, 1 leaver); an involuntary leaving is at risk but no voluntary leaver."""
    records = [profile("L1", left_on=day(5, 1), left_voluntarily=True), *weeks("L1", [3], start=3)]
    assert attrition_row(_facts(records).learners["L1"], PILOT) == (0, 1, 1, 2)
    other = [profile("L2", left_on=day(4, 1), left_voluntarily=False), *weeks("L2", [3], start=0)]
    assert attrition_row(_facts(other).learners["L2"], PILOT) == (0, 2, 0, 1)


def test_groups_are_the_teams_of_the_last_profiles():
    """A learner moved to the pilot team counts in it; a team not compared counts nowhere."""
    records = [
        profile("L1"), profile("L1").model_copy(update={"team": "t2"}),
        profile("L2").model_copy(update={"team": "t3"}), profile("L3"),
    ]  # fmt: skip
    groups = grouped(_facts(records), PILOT)
    assert set(groups["pilot"]) == {"L3"}
    assert set(groups["comparison"]) == {"L1"}


def _dip(learner: str, silent: int = 2) -> list:
    """Steady weeks 0-2, then `silent` weeks of silence from week 3: Tier 1 at week 3's
    close, Tier 2 at week 4's (Tuesday 2026-02-10, in the pilot) with a follow-up a week
    later, Tier 3 at week 5's with a third."""
    counts = [8, 8, 8, *[0] * silent, *[8] * (7 - silent)]
    return [profile(learner), *weeks(learner, counts)]


def test_arrivals_are_paired_with_the_cores_answers():
    """Replayed through the engine: a conversation within the follow-up is on time (the
    days from the arrival counted), one after it late, none before recovering never."""
    on_time = intervention("L1", "conversation_held", at(5, 3, 14))
    late = intervention("L2", "conversation_held", at(6, 2, 14))  # escalated: still waiting
    records = [*_dip("L1"), *_dip("L2", silent=3), *_dip("L3"), on_time, late]
    records.sort(key=lambda r: getattr(r, "occurred_at", None) or getattr(r, "at", None)
                 or dt.datetime.min.replace(tzinfo=UTC))  # fmt: skip
    lines = [orjson.dumps(to_line(r)) for r in records]
    result = evaluate(lines, [POLICY], [None])[0]
    found = [(f.number, _transition(f.line)) for f in result.found]
    paired = {a.learner_id: (a.outcome, a.day, a.days) for a in arrivals(found, result.talks, UTC)}
    arrived = day(5, 1)
    assert paired == {
        "L1": ("on_time", arrived, (day(5, 3) - arrived).days),
        "L2": ("late", arrived, (day(6, 2) - arrived).days),
        "L3": ("never", arrived, None),
    }
    facts = _facts(records)
    for lid, team in (("L1", "t1"), ("L2", "t2"), ("L3", "t2")):
        facts.learners[lid].team = team
    pilot = Pilot(team="t1", start=day(5), weeks=2, compare=("t2",))
    found_all = arrivals(found, result.talks, UTC)
    measured = interventions(found_all, [t for _, t in found], grouped(facts, pilot), pilot, UTC)
    assert measured.outcomes == {("pilot", 1, "on_time"): 1, ("comparison", 1, "late"): 1,
                                 ("comparison", 1, "never"): 1}  # fmt: skip
    assert measured.row_list("pilot") == [(0, 0, 1, 1)]
    assert sorted(measured.row_list("comparison")) == [(0, 0, 0, 1), (0, 0, 0, 1)]
    assert measured.days == {("pilot", 1): [2], ("comparison", 1): [8]}
    assert measured.escalations == {("comparison", 1): 1}


def _transition(line: bytes):
    from schemas.transitions import TierTransition

    return TierTransition.model_validate_json(line)
