"""A pilot measured: the history read once for its facts, replayed through the current
policy with the whatif engine (transitions, conversation outcomes, feedback), the
measures compared, and each threshold suggestion checked by running its policy over the
history with the same engine. The I/O and the order of the steps; the computations are
in `facts`, `measures`, `stats` and `suggest`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stream.core.policy import Policy
from stream.errors import BadInput
from stream.tools.pilot import measures, stats, suggest
from stream.tools.pilot.facts import Facts, Learner, read_facts
from stream.tools.pilot.measures import Arrival, Group, Interventions, Pilot
from stream.tools.replay import BadLine
from stream.tools.whatif.engine import Progress
from stream.tools.whatif.processes import evaluate_file

COMPLETION = stats.Rule(20, 30, "assignments due", max_width=0.5)
ON_TIME = stats.Rule(10, 10, "Tier 2 arrivals answered", max_width=0.5)
ATTRITION_LEAVERS = 5  # voluntary leavers a cell needs (and 20 learners)
MIN_DAYS = 5  # answered arrivals a cell needs for its days to the conversation


@dataclass
class Findings:
    """Everything the report says."""

    pilot: Pilot
    first_day: dt.date
    last_day: dt.date
    learners: dict[Group, int]
    completion: stats.Comparison
    attrition: stats.Comparison
    attrition_rule: stats.Rule
    on_time: stats.Comparison
    interventions: Interventions
    rules: list[suggest.RuleFeedback]
    checks: list[suggest.Check]
    feedback: int
    bad_lines: list[BadLine]
    notes: list[str] = field(default_factory=list)


def pilot_of(facts: Facts, team: str, start: dt.date, weeks: int, compare: list[str]) -> Pilot:
    """The pilot the arguments name, checked against the history (`BadInput` says why not)."""
    teams = facts.teams()
    listed = ", ".join(teams) or "(none: the history has no profiles)"
    unknown = [t for t in [team, *compare] if t not in teams]
    if unknown:
        raise BadInput(f"unknown team {', '.join(unknown)}; the history's teams: {listed}")
    if team in compare:
        raise BadInput(f"the pilot team {team} cannot be a comparison team too")
    if facts.first_day is None or facts.last_day is None:
        raise BadInput("the history has no dated records")
    if not facts.first_day <= start <= facts.last_day:
        raise BadInput(
            f"--from {start} is outside the history, which runs from {facts.first_day} to "
            f"{facts.last_day}"
        )
    others = tuple(compare) if compare else tuple(t for t in teams if t != team)
    if not others:
        raise BadInput(f"no team to compare with: the history's teams: {listed}")
    return Pilot(team, start, weeks, others)


def _notes(facts: Facts, pilot: Pilot) -> list[str]:
    notes = []
    if facts.first_day is not None and pilot.before < facts.first_day:
        notes.append(
            f"The history starts on {facts.first_day}, after the period before the pilot "
            f"starts ({pilot.before}): that period is shorter than the pilot."
        )
    if facts.last_day is not None and pilot.end > facts.last_day + dt.timedelta(days=1):
        notes.append(
            f"The history ends on {facts.last_day}, before the pilot does ({pilot.end}): the "
            "pilot's last weeks are not all in it."
        )
    return notes


def measure(
    history: Path,
    policy: Policy,
    team: str,
    start: dt.date,
    weeks: int,
    compare: list[str],
    workers: int = 1,
    progress: Progress | None = None,
    stage: Callable[[str], None] | None = None,
) -> Findings:
    """The pilot's findings (see the module); `progress(bytes)` as the file is read (up to
    three times), `stage(text)` when a step starts."""
    errors: list[BadLine] = []
    tell = stage or (lambda _: None)
    tell("reading the history")
    facts = read_facts(history, policy, errors, progress)
    pilot = pilot_of(facts, team, start, weeks, compare)
    tell("replaying it through the policy")
    result = evaluate_file(history, [policy], [None], workers=workers, progress=progress)[0]
    found = [(f.number, f.transition, f.role) for f in result.found]
    transitions = [t for _, t, _ in found]
    groups = measures.grouped(facts, pilot)
    tz = policy.tz
    arrived: list[Arrival] = measures.arrivals([(n, t) for n, t, _ in found], result.talks, tz)
    done = measures.interventions(arrived, transitions, groups, pilot, tz)
    prompts = suggest.prompts([(t, role) for _, t, role in found], result.feedback)
    rules = suggest.by_rule(prompts)
    checks: list[suggest.Check] = []
    candidates = suggest.candidates(policy, rules, prompts) if result.feedback else []
    if candidates:
        tell(f"checking {len(candidates)} threshold changes")
        changed = evaluate_file(
            history, [c.policy for c in candidates], [None] * len(candidates),
            workers=workers, progress=progress,
        )  # fmt: skip
        for candidate, other in zip(candidates, changed, strict=True):
            theirs = [f.transition for f in other.found]
            checks.append(suggest.check(candidate, prompts, theirs))
    tell("comparing the groups")
    completion, attrition, rule = _compare(groups, pilot)
    on_time = stats.compare(
        stats.per_learner(done.row_list("pilot")),
        stats.per_learner(done.row_list("comparison")),
        ON_TIME, _denominators,
    )  # fmt: skip
    return Findings(
        pilot, facts.first_day or start, facts.last_day or start,
        {g: len(m) for g, m in groups.items()}, completion, attrition, rule, on_time, done,
        rules, checks, len(result.feedback), result.errors, _notes(facts, pilot),
    )  # fmt: skip


def _compare(
    groups: dict[Group, dict[str, Learner]], pilot: Pilot
) -> tuple[stats.Comparison, stats.Comparison, stats.Rule]:
    rows = {
        g: (
            stats.per_learner([measures.completion_row(x, pilot) for x in members.values()]),
            stats.per_learner([measures.attrition_row(x, pilot) for x in members.values()]),
        )
        for g, members in groups.items()
    }
    completion = stats.compare(rows["pilot"][0], rows["comparison"][0], COMPLETION, _denominators)
    base = rows["comparison"][1]  # its weekly rate before: the scale of an attrition effect
    rate = float(base[:, 0].sum() / base[:, 1].sum()) if base[:, 1].sum() else 0.0
    rule = stats.Rule(20, ATTRITION_LEAVERS, "voluntary leavers", max_width=rate or np.inf)
    attrition = stats.compare(
        rows["pilot"][1], rows["comparison"][1], rule, _numerators, with_ratio=True
    )
    return completion, attrition, rule


def _denominators(group: stats.Array, period: int) -> float:
    return float(group[:, 2 * period + 1].sum())


def _numerators(group: stats.Array, period: int) -> float:
    return float(group[:, 2 * period].sum())
