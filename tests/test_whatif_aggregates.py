"""The what-if figures of one policy: who would be told (dispatch's routing and nudge
limit), the worst manager-week, episodes from the first signal to Tier 2, feedback rates
only where there is feedback, and the transitions two policies disagree on.

One learner, L1 (manager m1), over two weeks:

    day        Mon 5   Wed 7    Mon 12   Tue 13   Wed 14   Mon 19
    tier       0 -> 1  1 -> 2   2 -> 0   0 -> 1   1 -> 0   0 -> 1
    told       learner manager  learner  learner  learner  nobody: a nudge 6 days after
                                manager  (8 days           the last one (nudge limit 7)
                                         after)
"""

from __future__ import annotations

import datetime as dt

from schemas.roster import Intervention
from schemas.transitions import TierTransition
from stream.dispatch.config import DispatchConfig
from stream.tools.replay import Summary
from stream.tools.whatif.aggregates import difference, episodes, figures, quantile
from stream.tools.whatif.engine import Found, PolicyResult
from stream.tools.whatif.report import tables
from tests.kit import POLICY

ROUTES = {(0, 1): "learner_nudge", (1, 2): "manager_outreach", (2, 3): "hr_escalation"}


def move(n: int, learner: str, a: int, b: int, day: int, code: str = "major_dip") -> TierTransition:
    route = ROUTES.get((a, b), "resolved" if b < a else "learner_nudge")
    return TierTransition.model_validate(
        {"id": f"t{n}", "learner_id": learner, "from_tier": a, "to_tier": b,
         "at": dt.datetime(2026, 1, day, 0, 0, tzinfo=dt.UTC),
         "factors": {"severity": "major", "persistence_weeks": 1},
         "reasons": [{"code": code, "text": f"{code} text"}], "route": route}
    )  # fmt: skip


def result(moves: list[TierTransition], feedback: list[Intervention] = ()) -> PolicyResult:
    found = [Found(i, 0, t, "sales_rep", "m1", "t1") for i, t in enumerate(moves)]
    return PolicyResult(Summary(records=10), found, [], list(feedback))


STORY = [move(1, "L1", 0, 1, 5), move(2, "L1", 1, 2, 7), move(3, "L1", 2, 0, 12),
         move(4, "L1", 0, 1, 13), move(5, "L1", 1, 0, 14), move(6, "L1", 0, 1, 19)]  # fmt: skip


def test_messages_follow_dispatchs_routing_and_nudge_limit():
    """Each fall tells whoever its episode told; the nudge of the 19th comes 6 days after
    the last one and is held back."""
    f = figures("p", "p.yaml", POLICY, result(STORY), DispatchConfig())
    by_role = {}
    for (_, role), n in f.messages.items():
        by_role[role] = by_role.get(role, 0) + n
    assert by_role == {"learner": 4, "manager": 2}
    assert f.skipped_nudges == 1
    assert f.manager_weeks == {("m1", "2026-W02"): 1, ("m1", "2026-W03"): 1}


def test_the_worst_manager_week_is_the_heaviest_one():
    """Two outreach messages to m1 in one week make the worst manager-week 2."""
    moves = [move(1, "L1", 1, 2, 6), move(2, "L2", 1, 2, 7), move(3, "L3", 1, 2, 14)]
    f = figures("p", "p.yaml", POLICY, result(moves), DispatchConfig())
    assert f.worst_manager_week == ("m1", "2026-W02", 2)


def test_an_episode_runs_from_the_first_signal_to_tier_2():
    """0 -> 1 on the 5th, 1 -> 2 on the 7th: 2 days; the next episode never reaches 2."""
    found = episodes(STORY)
    assert [(e.learner_id, e.days) for e in found] == [("L1", 2.0), ("L1", None), ("L1", None)]


def test_no_feedback_gives_no_rate():
    """Without feedback the rate column is empty, not 0."""
    f = figures("p", "p.yaml", POLICY, result(STORY), DispatchConfig())
    table = next(t for t in tables([f], []) if t.name == "feedback_by_rule")
    assert table.rows
    assert all(row[-1] is None for row in table.rows)


def test_feedback_gives_a_rate_per_reason_code():
    """One not_useful on one of the six major_dip transitions: 1/6."""
    item = Intervention.model_validate(
        {"learner_id": "L1", "kind": "not_useful", "at": dt.datetime(2026, 1, 6, tzinfo=dt.UTC),
         "transition_id": "t1"}
    )  # fmt: skip
    f = figures("p", "p.yaml", POLICY, result(STORY, [item]), DispatchConfig())
    table = next(t for t in tables([f], []) if t.name == "feedback_by_rule")
    assert table.rows == [["p", "major_dip", 6, 1, 0, round(1 / 6, 4)]]


def test_disagreements_are_the_transitions_only_one_policy_gives():
    """Same learner, one transition at another instant: one only in each policy."""
    a = figures("a", "a", POLICY, result(STORY[:2]), DispatchConfig())
    b = figures("b", "b", POLICY, result([STORY[0], move(9, "L1", 1, 2, 8)]), DispatchConfig())
    d = difference(a, b)
    assert [s.transition.id for s in d.only_first] == ["t2"]
    assert [s.transition.id for s in d.only_second] == ["t9"]
    assert d.learners() == ["L1"]


def test_quantiles_need_data():
    """No value, no quantile; one value is its own median."""
    assert quantile([], 0.5) is None
    assert quantile([3.0], 0.9) == 3.0
    assert quantile([1.0, 2.0, 3.0], 0.5) == 2.0
