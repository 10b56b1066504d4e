"""The sentence of every reason, written from its code and its values.

A transition carries each reason with its sentence (`Reason.text`). The learner's state
keeps a reason as a `Cause`: the code, the numbers, and the few values only the sentence
uses (the week, the policy's window, the role's thresholds); the learner view writes the
sentence again. The rules and the view both call `render`, so the two cannot drift.

Every count is said in the singular or the plural by the language's plural rule: gettext's
`ngettext` (the sentences are English, whose catalog is the null one; a translation is a
catalog put in `CATALOG`), and ordinals by the English ordinal rule (21st, 22nd, 23rd, 11th).
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from schemas.transitions import Reason
from stream.core.weeks import week_label

Number = float | int | str  # a value of `Reason.numbers`
Value = float | int | str | list[str] | dict[str, int]  # a value a sentence is written from
Values = Mapping[str, Value]

_ORDINAL = {1: "first", 2: "second", 3: "third"}
_SUFFIX = {1: "st", 2: "nd", 3: "rd"}
CATALOG: gettext.NullTranslations = gettext.NullTranslations()  # English: the sentences' own
# the noun of each assignment kind, singular and plural
_KIND_NOUNS = {
    "certification": ("certification", "certifications"),
    "compliance": ("compliance module", "compliance modules"),
    "milestone": ("milestone", "milestones"),
}
DIP_CODES = ("minor_dip", "major_dip", "repeated_dip", "disengagement")


class Cause(NamedTuple):
    """A reason as the core keeps it. `extra` holds the values only the sentence uses (the
    transition does not carry them); `written` is the sentence itself, kept only when the
    numbers do not give it back (a state stored before sentences were rendered, or numbers
    rounded further than the sentence)."""

    code: str
    numbers: dict[str, Number]
    extra: dict[str, Value] = {}  # shared by causes without extra: never changed in place
    written: str | None = None

    @property
    def text(self) -> str:
        """The sentence for a person."""
        if self.written is not None:
            return self.written
        return render(self.code, {**self.numbers, **self.extra} if self.extra else self.numbers)

    def as_reason(self) -> Reason:
        """The reason as a transition carries it: code, sentence, numbers."""
        return Reason(code=self.code, text=self.text, numbers=self.numbers)

    def row(self) -> list[Any]:
        """The stored form: `[code, numbers]`, then `extra` and `written` when there are."""
        if self.written is not None:
            return [self.code, self.numbers, self.extra, self.written]
        if self.extra:
            return [self.code, self.numbers, self.extra]
        return [self.code, self.numbers]


def cause(
    code: str,
    numbers: dict[str, Number] | None = None,
    exact: Mapping[str, float] | None = None,
    **extra: Value,
) -> Cause:
    """A reason of `code`. `exact` gives unrounded values the sentence is written from where
    `numbers` holds them rounded; when the rounded ones would give another sentence, the
    cause keeps the sentence (`written`)."""
    made = Cause(code, {} if numbers is None else numbers, extra)
    if exact and any(made.numbers.get(key) != value for key, value in exact.items()):
        text = render(code, {**made.numbers, **extra, **exact})
        if text != made.text:
            return made._replace(written=text)
    return made


def render(code: str, values: Values) -> str:
    """The sentence of a reason of `code` written from `values` (its numbers and extra)."""
    try:
        writer = _WRITERS[code]
    except KeyError:
        raise ValueError(f"no sentence for reason code {code!r}") from None
    return writer(values)


def renders(code: str, numbers: Values, text: object) -> bool:
    """Whether `numbers` alone give back `text` (for a reason stored with its sentence)."""
    try:
        return render(code, numbers) == text
    except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError):
        return False  # values a writer cannot take: the sentence stays as stored


def _number(values: Values, key: str) -> float:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key} is not a number: {value!r}")
    return value


def count(n: int, one: str, other: str) -> str:
    """`n` and its noun, in the singular or the plural as the language's rule says."""
    return f"{n} {CATALOG.ngettext(one, other, n)}"


def ordinal(n: int) -> str:
    """First, second, third, then 4th ... 11th, 12th, 13th ... 21st, 22nd, 23rd."""
    if n in _ORDINAL:
        return _ORDINAL[n]
    suffix = "th" if n % 100 in (11, 12, 13) else _SUFFIX.get(n % 10, "th")
    return f"{n}{suffix}"


def _int(values: Values, key: str) -> int:
    return int(_number(values, key))


def _weeks(n: int) -> str:
    return f"{ordinal(n)} week in a row"


def _dip(v: Values) -> str:
    return (
        f"Weekly learning activity down {v['drop_pct']}% against the baseline "
        f"({v['activity']} vs {_number(v, 'baseline'):.1f} events a week), "
        f"{_weeks(_int(v, 'persistence_weeks'))}."
    )


def _exposed_major_dip(v: Values) -> str:
    exposure = v["exposure"]
    if not isinstance(exposure, list):
        raise TypeError(f"exposure is not a list: {exposure!r}")
    roles = ", ".join(e.replace("_", "-") for e in exposure)
    return f"A drop of more than {v['major_drop_pct']}% in a {roles} role acts at once."


def _assessment_fall(v: Values) -> str:
    if "week" in v:  # the week's fall, at its close
        return f"An assessment fall in {week_label(int(_number(v, 'week')))}."
    if v.get("failed") == 0 and "score" in v and "previous_mean" in v:
        score, mean = _number(v, "score"), _number(v, "previous_mean")
        previous = _int(v, "previous_count")
        than = (
            "the previous score"
            if previous == 1
            else f"the average of the previous {count(previous, 'score', 'scores')}"
        )
        return f"Assessment score {score:.2f} is {mean - score:.2f} below {than} ({mean:.2f})."
    return "An assessment was not passed."


def _kind(n: int, kind: str) -> str:
    one, other = _KIND_NOUNS.get(kind, (kind, kind))
    return count(n, one, other)


def _counts(v: Values, kinds: Iterable[str]) -> str:
    return ", ".join(_kind(_int(v, kind), kind) for kind in sorted(kinds))


def assignments(n: int, kind: str) -> str:
    """`n` assignments of `kind` as the sentences say them: "1 compliance module",
    "2 milestones" (the playbook's thresholds use the reasons' words)."""
    return _kind(n, kind)


_NOT_KINDS = ("days", "windowed", "limits")


def _missed(v: Values) -> str:
    """The missed assignments by kind; a kind that stops counting after the window (a
    milestone) says so. A reason stored before duties counted until completed has the
    window and no `windowed`: every kind it counted was within the window."""
    kinds = sorted(k for k in v if k not in _NOT_KINDS)
    windowed = v.get("windowed", kinds if "days" in v else [])
    if not isinstance(windowed, list):
        raise TypeError(f"windowed is not a list: {windowed!r}")
    days = _int(v, "days") if windowed else 0
    within = "the last day" if days == 1 else f"the last {count(days, 'day', 'days')}"
    return ", ".join(
        f"{_kind(_int(v, k), k)}{f' due in {within}' if k in windowed else ''}" for k in kinds
    )


def _missed_assignment(v: Values) -> str:
    return f"Missed assignments not yet completed: {_missed(v)}."


def _missed_assignments(v: Values) -> str:
    limits = v["limits"]
    if not isinstance(limits, dict):
        raise TypeError(f"limits is not a mapping: {limits!r}")
    return (
        f"Missed assignments not yet completed ({_missed(v)}) reached the "
        f"role's threshold ({_counts(limits, limits)})."
    )


def _overdue(v: Values) -> str:
    return count(_int(v, "overdue_days"), "day", "days")


def _compliance_overdue(v: Values) -> str:
    return f"A compliance module is {_overdue(v)} overdue (more than {v['limit_days']})."


def _compliance_sensitive_overdue(v: Values) -> str:
    return f"A compliance module is {_overdue(v)} overdue in a compliance-sensitive role."


def _quiet_weeks(v: Values) -> str:
    week = week_label(int(_number(v, "week")))
    quiet = count(_int(v, "quiet_weeks"), "closed week", "closed weeks")
    return f"No warning signs in {quiet}, up to {week}."


def _still_down(v: Values) -> str:
    return f"Activity in {v['week']} was still down."


def _follow_up_unresolved(v: Values) -> str:
    return f"Tier 2 still holds at the follow-up due {v['follow_up_due']}."


def _fixed(text: str) -> Callable[[Values], str]:
    return lambda _: text


_WRITERS: dict[str, Callable[[Values], str]] = {
    **dict.fromkeys(DIP_CODES, _dip),
    "exposed_major_dip": _exposed_major_dip,
    "assessment_fall": _assessment_fall,
    "performance_impact": _fixed(
        "An assessment fall in the same week as a major drop in activity."
    ),
    "missed_assignment": _missed_assignment,
    "missed_assignments": _missed_assignments,
    "compliance_overdue": _compliance_overdue,
    "compliance_sensitive_overdue": _compliance_sensitive_overdue,
    "concern_raised": _fixed("The learner raised a health or personal concern."),
    "resolved": _fixed("A manager recorded the situation as resolved."),
    "left": _fixed("The learner is no longer on the roster: tierwatch stopped evaluating them."),
    "quiet_weeks": _quiet_weeks,
    "still_down": _still_down,
    "follow_up_unresolved": _follow_up_unresolved,
}
CODES = frozenset(_WRITERS)
