"""A manager's team view, the pure parts (issue 13, item 3): the row a learner's state
gives, the updates a step sends to the teams topic, the table's value after them, and the
page built from the rows (filters, order, links, aggregates only)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from schemas.events import LearningEvent
from schemas.teams import TeamRow, TeamUpdate
from stream.actions.team_page import render_team, team_page
from stream.actions.tokens import ActionKeys, TeamGrant, TokenRefused
from stream.core import team
from stream.core.state import LearnerState
from stream.core.step import on_tick, step
from stream.core.timeline import Timeline, schedule
from stream.sim.pilot import World, simulate_world
from stream.worker.agents.teams import team_of, updated
from tests.kit import POLICY, at, intervention, profile, weeks

KEYS = ActionKeys([ActionKeys.generate()])
NOW = dt.datetime(2026, 3, 4, 9, tzinfo=dt.UTC)
TODAY = NOW.date()


def stepped(records: list, state: LearnerState | None = None) -> LearnerState:
    for record in records:
        state, _ = step(state, record, POLICY)
    assert state is not None
    return state


def managed(learner: str, manager: str | None = "m1", **changes: object) -> object:
    return profile(learner).model_copy(update={"manager_id": manager, "name": "Ana", **changes})


def test_a_learner_without_a_manager_is_in_no_view():
    state = stepped([managed("u1", None), *weeks("u1", [3, 3])])
    assert team.placed(state, POLICY.tz) is None
    assert team.updates("u1", None, team.placed(state, POLICY.tz), POLICY) == []


def test_a_step_that_changes_the_row_sends_it_and_one_that_does_not_sends_nothing():
    state = stepped([managed("u1")])
    before = team.placed(state, POLICY.tz)
    (update,) = team.updates("u1", None, before, POLICY)
    assert update.manager_id == "m1"
    assert update.row is not None
    assert update.row.tier == 0
    state = stepped(weeks("u1", [3]), state)  # activity in an open week: the row is the same
    assert team.placed(state, POLICY.tz) == before
    assert team.updates("u1", before, team.placed(state, POLICY.tz), POLICY) == []


def test_moving_to_another_manager_takes_the_learner_out_of_the_old_view():
    state = stepped([managed("u1")])
    before = team.placed(state, POLICY.tz)
    state = stepped([managed("u1", "m2")], state)
    out = team.updates("u1", before, team.placed(state, POLICY.tz), POLICY)
    assert [(u.manager_id, u.row is None) for u in out] == [("m1", True), ("m2", False)]
    state = stepped([managed("u1", None)], state)
    out = team.updates("u1", team.placed(stepped([managed("u1", "m2")]), POLICY.tz), None, POLICY)
    assert [(u.manager_id, u.row) for u in out] == [("m2", None)]
    assert team.erased("u1", stepped([managed("u1", "m2")])) == [
        TeamUpdate(manager_id="m2", learner_id="u1", row=None)
    ]


def test_the_row_has_the_tier_the_dates_due_and_the_last_action_and_nothing_raw():
    records = [managed("u1"), *weeks("u1", [6, 6, 6, 6, 2, 2])]
    state = stepped(records)
    on_tick(state, at(6, 1), POLICY)  # week 5 closes: the second week of the dip
    assert state.tier == 2
    place = team.placed(state, POLICY.tz)
    assert place is not None
    row = team.row_of("u1", place, POLICY)
    assert row.talk_by == state.talk_by
    assert row.follow_up_due == state.follow_up_due
    assert row.since is not None
    assert row.transition_id == state.last_transition_id
    assert set(row.model_dump(exclude_none=True)) <= {
        "learner_id", "name", "role", "team", "tier", "since", "talk_by", "follow_up_due",
        "last_action", "last_action_on", "transition_id", "transition_at",
    }  # fmt: skip


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_the_last_action_is_the_latest_by_day_whatever_order_they_are_read_in(order):
    kinds = [("conversation_held", at(2, 1)), ("support_plan", at(2, 3)), ("not_useful", at(3))]
    items = [intervention("u1", k, when) for k, when in kinds]
    state = stepped([managed("u1"), *(items[i] for i in order)])
    assert (state.last_intervention, state.last_intervention_on) == (
        "support_plan", at(2, 3).date(),
    )  # fmt: skip  # feedback (not_useful) is not an action


def row(learner: str, name: str, tier: int = 0, **dates: dt.date | str) -> TeamRow:
    return TeamRow.model_validate({"learner_id": learner, "name": name, "tier": tier, **dates})


ROWS = {
    r.learner_id: r
    for r in [
        row("a", "Zoe", 2, talk_by="2026-03-06", follow_up_due="2026-03-06", transition_id="t-a"),
        row("b", "Bob", 2, talk_by="2026-03-02", follow_up_due="2026-03-02", transition_id="t-b"),
        row("c", "Cy", 3, follow_up_due="2026-03-20", transition_id="t-c"),
        row("d", "Dan", 0),
        row("e", "Eve", 1, transition_id="t-e"),
    ]
}


def names(query: dict[str, str]) -> list[str]:
    page = team_page(ROWS, "m1", query, KEYS, NOW, TODAY, 14)
    return [line.name for line in page.lines]


def test_overdue_first_then_by_date_due_then_tier():
    assert names({}) == ["Bob", "Zoe", "Cy", "Eve", "Dan"]
    page = team_page(ROWS, "m1", {}, KEYS, NOW, TODAY, 14)
    assert [x.overdue for x in page.lines] == [True, False, False, False, False]
    assert (page.total, page.overdue, page.by_tier) == (5, 1, {0: 1, 1: 1, 2: 2, 3: 1})


def test_filters_and_sorts_from_the_query_and_bad_values_fall_back_to_the_defaults():
    assert names({"sort": "name"}) == ["Bob", "Cy", "Dan", "Eve", "Zoe"]
    assert names({"sort": "tier"}) == ["Cy", "Bob", "Zoe", "Eve", "Dan"]
    assert names({"show": "flagged", "sort": "name"}) == ["Bob", "Cy", "Eve", "Zoe"]
    assert names({"show": "due"}) == ["Bob", "Zoe", "Cy"]
    assert names({"show": "<script>", "sort": "1; drop"}) == names({})


def test_each_learner_with_a_transition_links_to_a_manager_action_page_for_this_view():
    page = team_page(ROWS, "m1", {}, KEYS, NOW, TODAY, 14)
    by_name = {x.name: x for x in page.lines}
    assert by_name["Dan"].act is None
    grant = KEYS.read(by_name["Bob"].act or "", NOW)
    assert (grant.learner_id, grant.transition_id, grant.recipient_id) == ("b", "t-b", "m1")
    assert grant.recipient == "manager"
    assert grant.expires == NOW + dt.timedelta(days=14)
    html = render_team(page)
    assert f'href="../act/{by_name["Bob"].act}"' in html
    assert html.index("Bob") < html.index("Zoe") < html.index("Dan")


def test_the_page_escapes_names_and_a_team_link_is_not_an_action_link():
    rows = {"x": row("x", "<img src=x onerror=alert(1)>", 1)}
    html = render_team(team_page(rows, "m1", {}, KEYS, NOW, TODAY, 14))
    assert "<img src=x" not in html
    assert "&lt;img src=x" in html
    token = KEYS.issue(TeamGrant(manager_id="m1", expires=NOW + dt.timedelta(days=1)))
    assert KEYS.read_team(token, NOW).manager_id == "m1"
    with pytest.raises(TokenRefused):
        KEYS.read(token, NOW)  # a team link does not act on anybody
    with pytest.raises(TokenRefused):
        KEYS.read_team(KEYS.issue(TeamGrant(manager_id="m1", expires=NOW)), NOW)


def test_the_table_keeps_the_last_row_per_learner_and_drops_an_empty_view():
    r1, r2 = row("a", "Ana", 1), row("a", "Ana", 2)
    raw = updated(None, TeamUpdate(manager_id="m1", learner_id="a", row=r1))
    raw = updated(raw, TeamUpdate(manager_id="m1", learner_id="b", row=row("b", "Bo")))
    raw = updated(raw, TeamUpdate(manager_id="m1", learner_id="a", row=r2))
    again = updated(raw, TeamUpdate(manager_id="m1", learner_id="a", row=r2))
    assert again == raw
    assert team_of(raw)["a"] == r2
    assert set(team_of(raw)) == {"a", "b"}
    raw = updated(raw, TeamUpdate(manager_id="m1", learner_id="a", row=None))
    assert set(team_of(raw)) == {"b"}
    assert updated(raw, TeamUpdate(manager_id="m1", learner_id="b", row=None)) is None


def test_a_learner_whose_evaluation_ended_after_leaving_leaves_the_view():
    """Until the day after `left_on` the learner is in the view; the tick that ends their
    evaluation takes them out (a removal for the manager)."""
    state = stepped([managed("u1"), *weeks("u1", [3, 3])])
    left = managed("u1", left_on=at(2, 2).date(), left_voluntarily=True)
    state = stepped([left], state)
    before = team.placed(state, POLICY.tz)
    assert before is not None
    on_tick(state, at(3, 1), POLICY)
    assert team.placed(state, POLICY.tz) is None
    (update,) = team.updates("u1", before, None, POLICY)
    assert (update.manager_id, update.row) == ("m1", None)


def test_the_episode_starts_when_the_tier_rises_from_0_and_older_links_act_on_nothing():
    state = stepped([managed("u1"), *weeks("u1", [6, 6, 6, 6, 2, 2])])
    on_tick(state, at(5, 1), POLICY)  # week 4 closes: the dip, Tier 1
    first = state.episode_from
    assert first is not None
    assert state.tier == 1
    on_tick(state, at(6, 1), POLICY)  # week 5: Tier 2, the same episode
    assert state.tier == 2
    assert state.episode_from == first
    grant = KEYS.read(
        team_page(
            {"u1": team.row_of("u1", team.placed(state, POLICY.tz), POLICY)},  # type: ignore[arg-type]
            "m1", {}, KEYS, NOW, TODAY, 14,
        ).lines[0].act or "",
        NOW,
    )  # fmt: skip
    assert grant.at == state.tier_since
    assert grant.of_episode(state.episode_from)
    earlier = grant.model_copy(update={"at": first - dt.timedelta(days=1)})
    assert not earlier.of_episode(state.episode_from)
    assert grant.model_copy(update={"at": None}).of_episode(state.episode_from)  # older links


@pytest.mark.parametrize("seed", [3, 7])
def test_an_event_changes_a_row_only_by_a_transition(seed):
    """The learner agent takes a learner's row around an event only when the event's step
    made a transition (`team.event_moves`): over simulated histories with attrition,
    conversations and a pilot, replayed with their midnight ticks, every event whose step
    made none left the row as it was."""
    world = World(team_size=40, leave_rate=0.02)  # leavers within the 12 weeks
    history = list(simulate_world(120, 12, seed, world))
    timeline = Timeline(POLICY)
    events = moved = 0
    for item in schedule(history, POLICY, None):
        if not isinstance(item, LearningEvent):
            timeline.feed(item)
            continue
        before = team.placed(timeline.states.get(item.learner_id), POLICY.tz)
        outputs = timeline.feed(item)
        events += 1
        if team.event_moves(outputs):
            moved += 1
        else:
            assert team.placed(timeline.states.get(item.learner_id), POLICY.tz) == before, item
    assert events > 5000
    assert moved > 0  # (assessment falls move a tier at the event)
