"""Threshold suggestions for the HR review, each checked against the history (pure).

Per rule (a reason code), the share of its prompts (transitions carrying it) that a
manager marked `not_useful` or `incorrectly_flagged`. For the rules with the most such
feedback, `candidates` nudges the policy knobs behind the rule (`KNOBS`) one and two
steps towards flagging less. The caller runs each candidate policy over the history with
the whatif engine (`stream.tools.whatif.engine`), and `check` counts, against the
current policy's transitions:

- the flagged prompts of the rule the candidate does not give (the same learner rising
  to the same tier at the same instant counts as the same prompt);
- the rule's other prompts (not flagged) it does not give;
- the Tier 2 arrivals (from below Tier 2) it does not give, and among those the ones
  it gives later (within four weeks) rather than never.

A candidate is **suggested** when the rule had at least `MIN_FLAGGED` flagged prompts,
the candidate removes at least one, and the share of flagged prompts it removes is larger
than both the share of the rule's other prompts and the share of Tier 2 arrivals it
removes: it takes away more of what managers called noise than of the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from schemas.roster import FEEDBACK_KINDS, Intervention
from schemas.transitions import TierTransition
from stream.core.policy import Policy, PolicyError, parse_policy

MIN_FLAGGED = 5
TOP_RULES = 3  # the rules with the most flagged prompts get candidates
LATER = dt.timedelta(weeks=4)


@dataclass(frozen=True)
class Prompt:
    """A transition of the current policy, with the learner's role and its feedback."""

    transition: TierTransition
    role: str
    not_useful: bool
    incorrectly_flagged: bool

    @property
    def flagged(self) -> bool:
        return self.not_useful or self.incorrectly_flagged

    @property
    def codes(self) -> set[str]:
        return {r.code for r in self.transition.reasons}


def prompts(
    found: Iterable[tuple[TierTransition, str]], feedback: Iterable[Intervention]
) -> list[Prompt]:
    """The current policy's transitions (with the learner's role) and their feedback."""
    kinds: dict[str, set[str]] = {}
    for item in feedback:
        if item.kind in FEEDBACK_KINDS and item.transition_id is not None:
            kinds.setdefault(item.transition_id, set()).add(item.kind)
    return [
        Prompt(
            t,
            role,
            "not_useful" in kinds.get(t.id, ()),
            "incorrectly_flagged" in kinds.get(t.id, ()),
        )
        for t, role in found
    ]


@dataclass(frozen=True)
class RuleFeedback:
    """One rule's prompts and how many were marked (each prompt once per kind)."""

    code: str
    prompts: int
    not_useful: int
    incorrectly_flagged: int
    flagged: int  # marked either way

    @property
    def share(self) -> float:
        return self.flagged / self.prompts if self.prompts else 0.0


def by_rule(all_prompts: list[Prompt]) -> list[RuleFeedback]:
    """Per reason code, most flagged first (then most prompts, then by code)."""
    codes = sorted({c for p in all_prompts for c in p.codes})
    rows = []
    for code in codes:
        mine = [p for p in all_prompts if code in p.codes]
        rows.append(RuleFeedback(
            code, len(mine), sum(p.not_useful for p in mine),
            sum(p.incorrectly_flagged for p in mine), sum(p.flagged for p in mine),
        ))  # fmt: skip
    rows.sort(key=lambda r: (-r.flagged, -r.prompts, r.code))
    return rows


@dataclass(frozen=True)
class Candidate:
    """A changed policy aimed at one rule: which setting, from what to what."""

    code: str
    setting: str  # a dotted path in the policy file
    before: object
    after: object
    policy: Policy

    @property
    def change(self) -> str:
        return f"{self.setting} {_shown(self.before)} \u2192 {_shown(self.after)}"


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


Change = tuple[str, Callable[[dict[str, Any], int], tuple[object, object]]]


def _step(section: str, key: str, by: float, digits: int = 2) -> Change:
    def apply(data: dict[str, Any], steps: int) -> tuple[object, object]:
        before = data[section][key]
        after = (
            round(before + by * steps, digits)
            if isinstance(by, float)
            else before + int(by) * steps
        )
        data[section][key] = after
        if section == "tiers" and key == "tier2_dip_weeks":  # keep tier 3 beyond tier 2
            data["tiers"]["tier3_dip_weeks"] = max(data["tiers"]["tier3_dip_weeks"], after + 1)
        return before, after

    return f"{section}.{key}", apply


KNOBS: dict[str, list[Change]] = {
    "minor_dip": [_step("activity", "dip_below", -0.05)],
    "major_dip": [_step("activity", "major_drop", 0.1)],
    "exposed_major_dip": [_step("activity", "major_drop", 0.1)],
    "repeated_dip": [_step("tiers", "tier2_dip_weeks", 1)],
    "disengagement": [_step("tiers", "tier3_dip_weeks", 1)],
    "assessment_fall": [_step("assessments", "fall", 0.05)],
    "performance_impact": [
        _step("assessments", "fall", 0.05),
        _step("activity", "major_drop", 0.1),
    ],
    "compliance_overdue": [_step("tiers", "compliance_overdue_days", 7)],
    "follow_up_unresolved": [_step("follow_up", "days", 3)],
}
MISSED = ("missed_assignment", "missed_assignments")


def candidates(
    policy: Policy, rules: list[RuleFeedback], all_prompts: list[Prompt]
) -> list[Candidate]:
    """One and two steps of each knob behind the `TOP_RULES` most flagged rules (those with
    any flagged prompt); a step the policy's own checks refuse is left out."""
    out: list[Candidate] = []
    for rule in [r for r in rules if r.flagged > 0][:TOP_RULES]:
        changes = list(KNOBS.get(rule.code, []))
        if rule.code in MISSED:
            changes += _missed_changes(policy, rule.code, all_prompts)
        for setting, apply in changes:
            for steps in (1, 2):
                data = policy.model_dump(mode="json")
                before, after = apply(data, steps)
                try:
                    changed = parse_policy(data, setting)
                except PolicyError:
                    continue
                out.append(Candidate(rule.code, setting, before, after, changed))
    return out


def _missed_changes(policy: Policy, code: str, all_prompts: list[Prompt]) -> list[Change]:
    """One more missed assignment of each kind a flagged prompt counted, for the role of
    the learners flagged most (the role's own entry, or the default's if it has none)."""
    flagged = [p for p in all_prompts if p.flagged and code in p.codes]
    roles: dict[str, int] = {}
    for p in flagged:
        roles[p.role] = roles.get(p.role, 0) + 1
    if not roles:
        return []
    role = max(sorted(roles), key=lambda r: roles[r])
    name = role if policy.knows_role(role) else "default"
    kinds = sorted(
        {k for p in flagged for r in p.transition.reasons if r.code == code for k in r.numbers}
    )
    resolved = policy.role(name).missed_thresholds
    out: list[Change] = []
    for kind in [k for k in kinds if k in resolved]:

        def apply(data: dict[str, Any], steps: int, kind: str = kind) -> tuple[object, object]:
            before = resolved[kind]  # type: ignore[index]  # kinds of the role's thresholds
            data["roles"][name]["missed_thresholds"][kind] = before + steps
            return before, before + steps

        out.append((f"roles.{name}.missed_thresholds.{kind}", apply))
    return out


@dataclass(frozen=True)
class Check:
    """What a candidate removes, against the current policy's transitions (see the module)."""

    candidate: Candidate
    flagged: int
    flagged_removed: int
    others: int
    others_removed: int
    arrivals: int
    arrivals_removed: int
    arrivals_later: int

    @staticmethod
    def share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def suggested(self) -> bool:
        flagged = self.share(self.flagged_removed, self.flagged) or 0.0
        others = self.share(self.others_removed, self.others) or 0.0
        arrivals = self.share(self.arrivals_removed, self.arrivals) or 0.0
        return (
            self.flagged >= MIN_FLAGGED and self.flagged_removed > 0
            and flagged > others and flagged > arrivals
        )  # fmt: skip

    def sentence(self) -> str:
        c = self.candidate
        return (
            f"{c.change} would have removed {_part(self.flagged_removed, self.flagged)} of the "
            f"{c.code} prompts marked not useful or incorrectly flagged, "
            f"{_part(self.others_removed, self.others)} of its other prompts, and "
            f"{_part(self.arrivals_removed, self.arrivals)} of the Tier 2 arrivals"
            + (
                f" ({self.arrivals_later} of them come later instead)"
                if self.arrivals_later
                else ""
            )
            + "."
        )


def _part(part: int, whole: int) -> str:
    if whole == 0:
        return "none (there were none)"
    if part == 0:
        return f"none (0 of {whole})"
    return f"{round(100 * part / whole)}% ({part} of {whole})"


def _up(t: TierTransition) -> tuple[str, int, dt.datetime]:
    return t.learner_id, t.to_tier, t.at


def check(candidate: Candidate, current: list[Prompt], changed: Iterable[TierTransition]) -> Check:
    """Count what `candidate` removes (its transitions over the same history: `changed`)."""
    given = set()
    arrivals: dict[str, list[dt.datetime]] = {}
    for t in changed:
        given.add(_up(t))
        if t.from_tier < 2 <= t.to_tier:
            arrivals.setdefault(t.learner_id, []).append(t.at)
    mine = [
        p
        for p in current
        if candidate.code in p.codes and p.transition.to_tier > p.transition.from_tier
    ]
    flagged = [p for p in mine if p.flagged]
    others = [p for p in mine if not p.flagged]

    def removed(ps: list[Prompt]) -> int:
        return sum(_up(p.transition) not in given for p in ps)

    base = [p.transition for p in current if p.transition.from_tier < 2 <= p.transition.to_tier]
    gone = [t for t in base if t.at not in arrivals.get(t.learner_id, [])]
    later = sum(
        any(t.at < at <= t.at + LATER for at in arrivals.get(t.learner_id, [])) for t in gone
    )
    return Check(
        candidate, len(flagged), removed(flagged), len(others), removed(others),
        len(base), len(gone), later,
    )  # fmt: skip
