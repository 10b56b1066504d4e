"""A deterministic, realistic history: profiles, assignments, activity and interventions.

`simulate(learners, weeks, seed)` yields the records of a history file (`tierwatch replay`,
the streaming demo, the benchmarks): every LearnerProfile first, then the dated records in
time order, one week at a time, so memory stays bounded by one week of records.

Each learner follows a persona, picked by index from a fixed cycle of 20 (half of them
steady): 40 learners show every persona, and adding learners never changes the others'
histories. A persona's story happens around week `weeks // 2`, after a baseline of at least
three steady weeks; runs under six weeks are plain activity (new hires still start late).

Randomness comes from one `random.Random` per learner and week, seeded from (seed, learner,
week): the same arguments give byte-identical output. Records are built with
`model_construct`, without validation (the values are valid by construction, and the tests
validate them): validation would dominate the cost of a large run.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple, TextIO
from zoneinfo import ZoneInfo

import orjson

from schemas.events import EventKind, LearningEvent
from schemas.history import Record, to_line
from schemas.roster import (
    Assignment,
    AssignmentKind,
    Intervention,
    InterventionKind,
    LearnerProfile,
)
from stream.core.policy import Policy
from stream.policyfile import load_policy
from stream.sim.personas import CYCLE, DAY, HOUR, PERSONAS, STRONG, Flags, Story, story_of

DEFAULT_START = dt.date(2026, 1, 5)  # a Monday: 2026-W02
SOURCE = "simulator"
MAX_WEEKS = 4000
MAX_LEARNERS = 1 << 28
_TEAM_SIZE = 8
_ASSIGN_EVERY = 4  # weeks between routine assignments
_PASS_MARK = 0.6
_NOISE = (-1, 0, 0, 1)  # weekly noise in events: small enough never to look like a dip
_ROUTINE: tuple[EventKind, ...] = ("session", "session", "view", "view", "view", "progress")
_ROUTINE_KIND: dict[str, AssignmentKind] = {
    "default": "milestone",
    "team_lead": "milestone",
    "sales_rep": "certification",
    "back_office": "compliance",
    "compliance_officer": "compliance",
}


@dataclass(frozen=True, slots=True)
class _Learner:
    """One simulated learner: who they are and their habits."""

    index: int
    learner_id: str
    persona: str
    role: str
    flags: Flags
    base: int  # usual events a week
    score: float  # usual assessment score
    offset: int  # routine assignments in weeks w with w % 4 == offset
    story: Story


class _Ev(NamedTuple):
    second: int  # of the week
    learner_id: str
    week: int
    n: int  # number within the learner's week, for the id
    kind: EventKind
    object_id: str
    score: float | None
    success: bool | None
    duration_s: float | None


class _As(NamedTuple):
    second: int
    learner_id: str
    module: str
    kind: AssignmentKind
    due: dt.date


class _Iv(NamedTuple):
    second: int
    learner_id: str
    kind: InterventionKind
    note: str | None


_Entry = _Ev | _As | _Iv
_BY_SECOND = itemgetter(0)


def _slot(learner_index: int, learners: int) -> tuple[str, str, Flags]:
    if not 0 <= learner_index < learners:
        raise ValueError(f"learner index {learner_index} is not in 0..{learners - 1}")
    return CYCLE[learner_index % len(CYCLE)]


def persona_of(learner_index: int, learners: int) -> str:
    """The persona of a learner; it depends on the index only, not on `learners`."""
    return _slot(learner_index, learners)[0]


def role_of(learner_index: int, learners: int) -> str:
    """The role of a learner in the simulated organisation."""
    return _slot(learner_index, learners)[1]


def _key(seed: int, learner: int, week: int) -> int:
    """A distinct non-negative RNG seed per (seed, learner, week); week -1 is the learner's own."""
    zigzag = 2 * seed if seed >= 0 else -2 * seed - 1
    return (zigzag << 40) | (learner << 12) | (week + 1)


def _learner(index: int, seed: int, stories: dict[str, Story]) -> _Learner:
    persona, role, flags = CYCLE[index % len(CYCLE)]
    rng = random.Random(_key(seed, index, -1))
    low = 8 if persona == "recovery_after_nudge" else 7  # room for a strong week in the baseline
    return _Learner(
        index=index,
        learner_id=f"L{index + 1:04d}",
        persona=persona,
        role=role,
        flags=flags,
        base=rng.randint(low, 10),
        score=round(rng.uniform(0.72, 0.9), 2),
        offset=index % _ASSIGN_EVERY,
        story=stories[persona],
    )


def _when(rng: random.Random, first_day: int) -> int:
    """A second of the week: weekdays mostly (from `first_day`), business hours."""
    if rng.random() < 0.92:
        day = first_day + int(rng.random() * (5 - first_day))
    else:
        day = 5 + int(rng.random() * 2)
    return day * DAY + 8 * HOUR + int(rng.random() * 10 * HOUR)


def _count(person: _Learner, week: int, rng: random.Random) -> int:
    """How many events the learner has in a week."""
    story = person.story
    if week == story.start and story.start_day:
        return max(3, person.base // 2)  # a new hire's first, partial week
    factor = story.factors.get(week, 1.0)
    if factor == 1.0:
        return person.base + _NOISE[int(rng.random() * len(_NOISE))]
    if factor == STRONG:
        return person.base + 2
    return round(person.base * factor)


def _score(person: _Learner, week: int, rng: random.Random) -> float | None:
    """The week's assessment score, if the learner takes one."""
    story = person.story
    if week == story.start and story.start_day:
        return None
    if not story.weekly_assessments and (week + person.index) % 2:
        return None
    if week == story.fall_week:
        return round(person.score - 0.25, 2)
    return round(person.score + (rng.random() - 0.5) * 0.08, 2)


def _routine(person: _Learner, week: int) -> tuple[str, AssignmentKind] | None:
    """The routine assignment given in a week, if any: (module id, kind)."""
    story = person.story
    first = story.start + 1 if story.start_day else story.start
    if week < first or week % _ASSIGN_EVERY != person.offset:
        return None
    kind = story.routine_kind or _ROUTINE_KIND.get(person.role, "milestone")
    return f"{kind}-{week:03d}", kind


def _specials(
    person: _Learner, week: int, course: str, rng: random.Random, scripted: bool = True
) -> list[_Ev]:
    """The week's completions (unless not `scripted`: `stream.sim.pilot` plans them) and
    assessment (numbered from 0)."""
    lid = person.learner_id
    first_day = person.story.start_day if week == person.story.start else 0
    modules = [t.module for t in person.story.tasks if t.done_week == week] if scripted else []
    routine = _routine(person, week - 1)
    if routine is not None and scripted:
        modules.append(routine[0])
    out = [
        _Ev(_when(rng, first_day), lid, week, n, "completion", m, None, True, None)
        for n, m in enumerate(modules)
    ]
    score = _score(person, week, rng)
    if score is not None:
        duration = float(600 + int(rng.random() * 1200))
        sec = _when(rng, first_day)
        quiz = f"{course}/quiz"
        out.append(
            _Ev(sec, lid, week, len(out), "assessment", quiz, score, score >= _PASS_MARK, duration)
        )
    return out


def _activity(person: _Learner, week: int, rng: random.Random, scripted: bool) -> list[_Ev]:
    """The week's learning events: completions, an assessment, then routine activity."""
    total = _count(person, week, rng)
    if total == 0:
        return []
    course = f"course-{(person.index * 7 + week // _ASSIGN_EVERY) % 40 + 1:02d}"
    events = _specials(person, week, course, rng, scripted)
    first_day = person.story.start_day if week == person.story.start else 0
    lid = person.learner_id
    for n in range(len(events), total):
        kind = _ROUTINE[int(rng.random() * len(_ROUTINE))]
        sec = _when(rng, first_day)
        if kind == "session":
            duration: float | None = float(300 + int(rng.random() * 3300))
            obj = course
        elif kind == "view":
            duration = float(30 + int(rng.random() * 570))
            obj = f"{course}/lesson-{int(rng.random() * 12) + 1}"
        else:
            duration, obj = None, course
        events.append(_Ev(sec, lid, week, n, kind, obj, None, None, duration))
    return events


def _week(
    person: _Learner, week: int, seed: int, start: dt.date, scripted: bool = True
) -> list[_Entry]:
    """Everything one learner does in one week, unordered (without completions unless
    `scripted`)."""
    story = person.story
    if week < story.start:
        return []
    rng = random.Random(_key(seed, person.index, week))
    lid = person.learner_id
    out: list[_Entry] = []
    for t in story.tasks:
        if t.week == week:
            sec = t.day * DAY + 8 * HOUR + int(rng.random() * HOUR)
            due = start + dt.timedelta(days=7 * t.due_week + t.due_day)
            out.append(_As(sec, lid, t.module, t.kind, due))
    routine = _routine(person, week)
    if routine is not None:
        due = start + dt.timedelta(days=7 * (week + 2) + 4)  # Friday, two weeks on
        out.append(_As(8 * HOUR + int(rng.random() * HOUR), lid, routine[0], routine[1], due))
    out.extend(_Iv(n.second, lid, n.kind, n.note) for n in story.notes if n.week == week)
    out.extend(_activity(person, week, rng, scripted))
    return out


def _record(entry: _Entry, origin: dt.datetime, seed: int) -> Record:
    """The schema record of an entry, `origin` being the start of its week."""
    at = origin + dt.timedelta(seconds=entry.second)
    if isinstance(entry, _Ev):
        return LearningEvent.model_construct(
            id=f"sim-{seed}-{entry.learner_id}-{entry.week}-{entry.n}",
            learner_id=entry.learner_id,
            occurred_at=at,
            kind=entry.kind,
            object_id=entry.object_id,
            score=entry.score,
            success=entry.success,
            duration_s=entry.duration_s,
            source=SOURCE,
        )
    if isinstance(entry, _As):
        return Assignment.model_construct(
            learner_id=entry.learner_id,
            module_id=entry.module,
            kind=entry.kind,
            due=entry.due,
            assigned_at=at,
        )
    return Intervention.model_construct(
        learner_id=entry.learner_id, kind=entry.kind, at=at, note=entry.note
    )


def _profile(person: _Learner, team_size: int = _TEAM_SIZE) -> LearnerProfile:
    group = person.index // team_size + 1
    customer, compliance, leadership = person.flags
    return LearnerProfile.model_construct(
        learner_id=person.learner_id,
        role=person.role,
        manager_id=f"M{group:02d}",
        team=f"team-{group:02d}",
        customer_facing=customer,
        compliance_sensitive=compliance,
        leadership_pipeline=leadership,
        identities=(),
        name=f"Learner {person.index + 1}",
        email=f"{person.learner_id.lower()}@example.com",
        language=None,
        timezone=None,
        manager_name=f"Manager {group}",
        manager_email=f"m{group:02d}@example.com",
    )


def _generate(
    learners: int, weeks: int, seed: int, start: dt.date, tz: ZoneInfo
) -> Iterator[Record]:
    stories = {persona: story_of(persona, weeks) for persona in PERSONAS}
    people: list[_Learner] = []
    for index in range(learners):
        people.append(_learner(index, seed, stories))
        yield _profile(people[-1])
    for week in range(weeks):
        batch: list[_Entry] = []
        for person in people:
            batch.extend(_week(person, week, seed, start))
        batch.sort(key=_BY_SECOND)
        origin = dt.datetime.combine(start + dt.timedelta(weeks=week), dt.time(0), tzinfo=tz)
        for entry in batch:
            yield _record(entry, origin, seed)


def simulate(
    learners: int,
    weeks: int,
    seed: int,
    start: dt.date | None = None,
    policy: Policy | None = None,
) -> Iterator[Record]:
    """The history of `learners` learners over `weeks` weeks from Monday `start`, lazily.

    Profiles come first, then dated records in non-decreasing time, in the policy's
    timezone (the default policy when None). Arguments are checked at once.
    """
    start, rules = _checked(learners, weeks, start, policy)
    return _generate(learners, weeks, seed, start, rules.tz)


def _checked(
    learners: int, weeks: int, start: dt.date | None, policy: Policy | None
) -> tuple[dt.date, Policy]:
    """The start (a Monday) and the policy of a simulation, its arguments checked."""
    start = DEFAULT_START if start is None else start
    if start.weekday() != 0:
        raise ValueError(f"start must be a Monday, not a {start.strftime('%A')} ({start})")
    if not 0 <= learners <= MAX_LEARNERS:
        raise ValueError(f"learners must be in 0..{MAX_LEARNERS}, not {learners}")
    if not 0 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be in 0..{MAX_WEEKS}, not {weeks}")
    return start, policy or load_policy()


def write_jsonl(records: Iterable[Record], out: TextIO) -> int:
    """Write each record as one history line (JSON); return how many were written."""
    count = 0
    for record in records:
        out.write(orjson.dumps(to_line(record)).decode())
        out.write("\n")
        count += 1
    return count


__all__ = ["DEFAULT_START", "PERSONAS", "persona_of", "role_of", "simulate", "write_jsonl"]
