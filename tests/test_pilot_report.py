"""`tierwatch pilot` on simulated pilots (`stream.sim.pilot`) with known planted effects:
the report recovers a planted completion effect within its interval and the attrition
effect in its direction; with nothing planted its intervals cover no effect; small groups
give "not enough data"; every threshold suggestion removes what it says, checked again
with `tierwatch replay` of the changed policy (another code path than the whatif engine).

Teams of 400 (a multiple of 20: the teams have the same personas and differ by chance)
and a weekly voluntary leaving hazard of 0.05, high, so that a sample this size can see
an attrition effect (as tests/test_sim_pilot.py does)."""

from __future__ import annotations

import datetime as dt
import io

import orjson
import pytest

from schemas.transitions import TierTransition
from stream.tools.pilot.report import write_report
from stream.tools.pilot.run import measure
from stream.tools.replay import replay_file
from tests.kit import POLICY
from tests.pilot_kit import PILOT_FROM, TEAM, with_feedback, write

PLANTED = 0.2, 0.5  # completion +0.2 (absolute), voluntary leaving x (1 - 0.5)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    path = write(tmp_path_factory.mktemp("p") / "h.jsonl", 1200, 10, 400, *PLANTED)
    return measure(path, POLICY, TEAM, PILOT_FROM, 4, [], workers=1)


@pytest.fixture(scope="module")
def nothing(tmp_path_factory):
    path = write(tmp_path_factory.mktemp("n") / "h.jsonl", 1200, 10, 400)
    return measure(path, POLICY, TEAM, PILOT_FROM, 4, [], workers=1)


def test_a_planted_completion_effect_is_within_the_interval(planted):
    """+0.2 planted on on-time completion: the DiD's interval holds it, and not 0."""
    did = planted.completion.did
    assert did.value is not None
    assert did.warning is None
    assert did.covers(PLANTED[0])
    assert not did.covers(0.0)


def test_a_planted_attrition_effect_shows_in_its_direction(planted):
    """Voluntary leaving halved in the pilot: the ratio of rate ratios and the DiD of the
    rates are below no effect, their whole intervals too."""
    ratio, did = planted.attrition.ratio, planted.attrition.did
    assert ratio is not None
    assert ratio.value is not None
    assert ratio.high is not None
    assert ratio.high < 1.0
    assert did.high is not None
    assert did.high < 0.0


def test_with_no_effect_planted_the_intervals_cover_none(nothing):
    """Nothing planted: the completion DiD's interval holds 0, the rate ratio's holds 1."""
    assert nothing.completion.did.covers(0.0)
    assert nothing.attrition.ratio is not None
    assert nothing.attrition.ratio.covers(1.0)
    assert nothing.attrition.did.covers(0.0)


def test_the_pilot_teams_managers_talk_on_time_more(planted):
    """The simulator's pilot managers answer Tier 2 arrivals on time with p 0.9, others 0.3
    (late 0.4, never 0.3; a late or missing answer is often cut short by the learner's
    leaving or still open, so the others' share among those answered is higher): the
    report's outcomes tell the two apart."""
    outcomes = planted.interventions.outcomes
    pilot = outcomes["pilot", 1, "on_time"] / sum(
        outcomes["pilot", 1, o] for o in ("on_time", "late", "never")
    )
    others = outcomes["comparison", 1, "on_time"] / sum(
        outcomes["comparison", 1, o] for o in ("on_time", "late", "never")
    )
    assert pilot > 0.8
    assert pilot > others + 0.2


def test_small_groups_say_not_enough_data(tmp_path):
    """Teams of 8: no estimate is stated, each says why, and the report says it too."""
    path = write(tmp_path / "h.jsonl", 40, 10, 8, *PLANTED, leave_rate=0.003)
    found = measure(path, POLICY, TEAM, PILOT_FROM, 4, [], workers=1)
    for estimate in (found.completion.did, found.attrition.did, found.on_time.did):
        assert estimate.value is None
        assert "not enough data" in (estimate.warning or "")
    index = write_report(tmp_path / "report", found)
    html = index.read_text()
    assert "not enough data" in html
    assert "Warnings" in html
    data = orjson.loads((tmp_path / "report" / "pilot.json").read_bytes())
    estimates = data["estimates"]["rows"]
    assert all(row[2] is None for row in estimates)  # never a 0 for no number
    assert "no threshold can be suggested" in html


@pytest.fixture(scope="module")
def with_notes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("f")
    plain = write(folder / "h.jsonl", 400, 10, 100, leave_rate=0.003)
    path, pieces = with_feedback(plain, folder / "with_feedback.jsonl")
    assert pieces >= 10
    return path, measure(path, POLICY, TEAM, PILOT_FROM, 4, [], workers=2)


def test_feedback_gives_the_share_per_rule_and_checked_suggestions(with_notes):
    """The minor dips marked not useful are the most flagged rule; its knob is nudged
    (activity.dip_below) and at least one change is suggested."""
    _, found = with_notes
    top = found.rules[0]
    assert top.code == "minor_dip"
    assert top.not_useful == top.flagged > 0
    assert 0 < top.share < 1
    tried = [c for c in found.checks if c.candidate.code == "minor_dip"]
    assert [c.candidate.change for c in tried] == [
        "activity.dip_below 0.75 \u2192 0.7",
        "activity.dip_below 0.75 \u2192 0.65",
    ]
    assert any(c.suggested for c in found.checks)


def test_each_suggestion_removes_what_it_says_by_replay_of_its_policy(with_notes):
    """For each suggested change: `tierwatch replay --policy` of the changed policy gives
    transitions that lack exactly the stated flagged prompts and Tier 2 arrivals."""
    path, found = with_notes
    base = _replayed(path, POLICY)
    feedback = {
        orjson.loads(line)["transition_id"]
        for line in path.read_bytes().splitlines() if b'"not_useful"' in line
    }  # fmt: skip
    suggested = [c for c in found.checks if c.suggested]
    assert suggested
    for c in suggested:
        changed = {(t.learner_id, t.to_tier, t.at) for t in _replayed(path, c.candidate.policy)}
        flagged = [t for t in base if t.id in feedback and c.candidate.code in _codes(t)]
        gone = [t for t in flagged if (t.learner_id, t.to_tier, t.at) not in changed]
        assert (c.flagged, c.flagged_removed) == (len(flagged), len(gone))
        arrivals = [t for t in base if t.from_tier < 2 <= t.to_tier]
        kept = {(t.learner_id, t.at) for t in _replayed(path, c.candidate.policy)
                if t.from_tier < 2 <= t.to_tier}  # fmt: skip
        lost = [t for t in arrivals if (t.learner_id, t.at) not in kept]
        assert (c.arrivals, c.arrivals_removed) == (len(arrivals), len(lost))
        assert f"{round(100 * len(gone) / len(flagged))}% ({len(gone)} of" in c.sentence()


def _replayed(path, policy) -> list[TierTransition]:
    out = io.BytesIO()
    replay_file(path, policy, out, window=True)
    return [TierTransition.model_validate_json(x) for x in out.getvalue().splitlines()]


def _codes(t: TierTransition) -> set[str]:
    return {r.code for r in t.reasons}


def test_the_periods_are_the_weeks_before_and_during(planted):
    """Before is the pilot's length just before it."""
    assert planted.pilot.before == PILOT_FROM - dt.timedelta(weeks=4)
    assert planted.pilot.compare == ("team-02", "team-03")
