"""Manager feedback per rule: `tierwatch feedback`, the input for tuning the policy.

A `not_useful` or `incorrectly_flagged` intervention names a transition; it counts once for
each distinct reason code of that transition. Beside each code stands the number of
transitions that carried it, so "judged not useful in 4 of 40" can be read off. Feedback
naming no transition, or one not (or no longer) on the alerts topic, is counted apart.
Both topics are at-least-once: a transition repeated with the same id counts once, and so
does the same feedback record repeated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.roster import FEEDBACK_KINDS, Intervention
from schemas.transitions import TierTransition
from stream import codec
from stream.errors import InvalidRecord
from stream.tools.dlq import read_topic
from stream.topics import Topics


@dataclass(frozen=True)
class Row:
    """One reason code: the feedback on transitions that carried it, and how many did."""

    code: str
    not_useful: int
    incorrectly_flagged: int
    transitions: int

    @property
    def total(self) -> int:
        return self.not_useful + self.incorrectly_flagged


@dataclass(frozen=True)
class Tally:
    rows: list[Row]  # most feedback first, then most transitions, then by code
    unknown: dict[str, int]  # feedback kind -> count, for feedback without a known transition
    feedback: int  # pieces of feedback (one counts in a row for each code of its transition)
    skipped: int = 0  # unreadable records on either topic


def tally(feedback: Iterable[Intervention], transitions: Iterable[TierTransition]) -> Tally:
    """Count feedback per (reason code, kind), beside the transitions carrying each code."""
    codes: dict[str, set[str]] = {}
    for t in transitions:
        codes[t.id] = {r.code for r in t.reasons}
    carried = Counter(code for found in codes.values() for code in found)
    counts: Counter[tuple[str, str]] = Counter()
    unknown: Counter[str] = Counter()
    seen: set[tuple[str, ...]] = set()
    for item in feedback:  # the same intervention again counts once (by id, as the worker)
        identity = (
            ("id", item.id)
            if item.id is not None
            else (item.learner_id, item.kind, item.at.isoformat(), item.transition_id or "")
        )
        if item.kind not in FEEDBACK_KINDS or identity in seen:
            continue
        seen.add(identity)
        if item.transition_id is None or item.transition_id not in codes:
            unknown[item.kind] += 1
            continue
        for code in codes[item.transition_id]:
            counts[code, item.kind] += 1
    rows = [
        Row(code, counts[code, "not_useful"], counts[code, "incorrectly_flagged"], n)
        for code, n in carried.items()
    ]
    rows.sort(key=lambda r: (-r.total, -r.transitions, r.code))
    return Tally(rows, dict(unknown), len(seen))


def render(result: Tally) -> list[str]:
    """The table for a person: a row a code, then the feedback without a known transition."""
    if not result.rows and not result.unknown:
        return ["no transitions and no feedback yet"]
    label = "(no known transition)"
    width = max([len(label), *(len(r.code) for r in result.rows)])
    head = f"{'reason code':<{width}}  not_useful  incorrectly_flagged  total  transitions"
    lines = [head, "-" * len(head)]
    for r in result.rows:
        lines.append(
            f"{r.code:<{width}}  {r.not_useful:>10}  {r.incorrectly_flagged:>19}  "
            f"{r.total:>5}  {r.transitions:>11}"
        )
    if result.unknown:
        nu = result.unknown.get("not_useful", 0)
        inc = result.unknown.get("incorrectly_flagged", 0)
        lines.append(f"{label:<{width}}  {nu:>10}  {inc:>19}  {nu + inc:>5}  {'-':>11}")
    lines.append(
        f"{result.feedback} piece{'s' if result.feedback != 1 else ''} of feedback; "
        "a transition's feedback counts for each of its reason codes"
    )
    if result.skipped:
        lines.append(f"({result.skipped} unreadable records skipped)")
    return lines


async def read_tally(bootstrap: str, topics: Topics) -> Tally:
    """The tally of everything on the interventions and alerts topics now."""
    transitions: list[TierTransition] = []
    feedback: list[Intervention] = []
    skipped = 0
    for m in await read_topic(bootstrap, topics.alerts):
        try:
            alert = codec.decode_alert(m.value or b"")
        except InvalidRecord:
            skipped += 1
            continue
        if isinstance(alert, TierTransition):  # overdue follow-ups carry no feedback
            transitions.append(alert)
    for m in await read_topic(bootstrap, topics.interventions):
        try:
            record = codec.decode_input("intervention", m.key, m.value)
        except InvalidRecord:
            skipped += 1
            continue
        if isinstance(record, Intervention) and record.kind in FEEDBACK_KINDS:
            feedback.append(record)
    result = tally(feedback, transitions)
    return Tally(result.rows, result.unknown, result.feedback, skipped)
