"""What a run's receiver got, against what dispatch should have sent.

A delivery is one message to one role over one channel: (transition id, role, channel).

- **Expected**: replay's transitions, in order per learner, through dispatch's own pure
  planning (`stream.dispatch.plan.plan`, with the run's configuration and templates), keeping
  what the agent keeps between them (`DispatchState`: who was addressed since the learner
  was last back at tier 0, and the last nudge, as if each nudge were delivered on the day
  of its transition). Deliveries of an erased learner are *optional*: the erasure may come
  before dispatch reaches them, and then they are dropped.
- **Delivered**: the receiver's journal (`bench.chaos.receiver`), every accepted line.
- **Dead-lettered**: dispatch's dead letters (reason `dispatch_...`), whose payload names the
  parked delivery (`ParkedDelivery`) or, for a message that could not be planned, the
  transition (its detail names channel and role).

**lost**: expected, neither delivered nor dead-lettered; **duplicated**: each arrival of a
delivery after its first (and a delivery both delivered and dead-lettered), unless a worker
started since the arrival before: then it is **resent**, the documented at-least-once (a worker
killed after sending and before storing its delivery log sends once more, with the same
`webhook-id` or `Message-ID`; a delivery in flight when its worker was killed arrives up to
`IN_FLIGHT_S` after the kill: an SMTP server records a message once it has its last line,
while the worker that sent it may be gone already); **spurious**: delivered or
dead-lettered, not expected (nor optional).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import orjson
from pydantic import ValidationError

from schemas.deadletter import DeadLetter
from schemas.dispatch import ParkedDelivery
from schemas.history import Record
from schemas.roster import LearnerProfile
from schemas.transitions import TierTransition
from stream.core.policy import Policy
from stream.dispatch.config import DispatchConfig
from stream.dispatch.ledger import DispatchState
from stream.dispatch.plan import plan
from stream.dispatch.templates import Templates

IN_FLIGHT_S = 1.0  # a delivery arriving this soon after a kill was sent before it
Key = tuple[str, str, str]  # transition id, role, channel
DETAILS = 4
MISSING_DETAIL = re.compile(r"^(\S+) to (\S+): ")
RETRY_ATTEMPT = re.compile(rb"channel=(\S+) .*message_id=(\S+) outcome=retry")


@dataclass
class Expected:
    """The deliveries dispatch should make, and those it may make."""

    required: dict[Key, str] = field(default_factory=dict)  # -> route
    optional: dict[Key, str] = field(default_factory=dict)  # erased learners'
    missing: dict[Key, str] = field(default_factory=dict)  # planned as undeliverable: reason


def expected(
    transitions: dict[str, TierTransition],
    records: list[Record],
    erased: set[str],
    config: DispatchConfig,
    policy: Policy,
) -> Expected:
    """Plan every transition as the dispatch agent does, learner by learner in time order."""
    profiles = {r.learner_id: r for r in records if isinstance(r, LearnerProfile)}
    templates = Templates(config.templates_dir, config.default_language)
    out = Expected()
    by_learner: dict[str, list[TierTransition]] = {}
    for t in transitions.values():
        by_learner.setdefault(t.learner_id, []).append(t)
    for learner, ts in by_learner.items():
        state = DispatchState()
        target = out.optional if learner in erased else out.required
        for t in sorted(ts, key=lambda t: t.at):
            result = plan(
                t, profiles.get(learner), config, templates, told=state.told_at(t.at),
                last_nudge=state.last_nudge, now=t.at, tz=policy.tz,
            )  # fmt: skip
            for missing in result.missing:
                out.missing[(t.id, missing.role, missing.channel)] = missing.reason
            for planned in result.messages:
                state.addressed(planned.role, t.at)
                target[(t.id, planned.role, planned.message.channel)] = t.route
                state.delivered(planned.role, t.route, t.at.date(), t.at)
            state.moved(t.from_tier, t.to_tier, t.at)
    return out


@dataclass
class Journal:
    """The receiver's lines: accepted deliveries (with their times) and refusals."""

    arrivals: dict[Key, list[float]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # message id does not fit the line


def read_journal(path: Path) -> Journal:
    """The receiver's journal (a last line cut short by a kill is skipped)."""
    journal = Journal()
    if not path.exists():
        return journal
    for raw in path.read_bytes().splitlines():
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if line.get("refused"):
            journal.refused.append(f"{line['ch']}: {line['refused']}")
            continue
        key: Key = (line["t"], line["role"], line["ch"])
        mid = line.get("mid")
        if mid is not None and mid.split(".")[0] != line["t"]:
            journal.mismatched.append(f"{line['ch']} message id {mid} for transition {line['t']}")
        journal.arrivals.setdefault(key, []).append(line["at"])
    return journal


def held_up(logs: Iterable[Path]) -> tuple[int, set[tuple[str, str]]]:
    """From the workers' logs: how many delivery attempts failed to be tried again, and
    the (transition id, channel) of each message they held up."""
    attempts, held = 0, set()
    for path in logs:
        if not path.exists():
            continue
        for match in RETRY_ATTEMPT.finditer(path.read_bytes()):
            attempts += 1
            channel, message = match.groups()
            held.add((message.decode().split(".")[0], channel.decode()))
    return attempts, held


def dead_letters(values: list[bytes]) -> dict[Key, str]:
    """Dispatch's dead letters: the delivery (or planned message) each names, and why."""
    out: dict[Key, str] = {}
    for value in values:
        try:
            letter = DeadLetter.model_validate_json(value)
        except ValidationError:
            continue
        if not letter.reason.startswith("dispatch_"):
            continue
        try:
            parked = ParkedDelivery.model_validate_json(letter.payload)
            key: Key = (parked.id.split(".")[0], parked.role, parked.channel)
        except ValidationError:
            named = MISSING_DETAIL.match(letter.detail)
            channel, role = named.groups() if named else ("-", "-")
            key = (letter.payload.strip('"'), role, channel)
        out[key] = letter.reason
    return out


@dataclass
class DeliveryOutcome:
    """The comparison of one run's deliveries."""

    expected: int = 0
    optional: int = 0
    delivered: int = 0  # distinct expected deliveries that arrived
    optional_delivered: int = 0  # distinct deliveries of erased learners that arrived
    dead_lettered: int = 0
    lost: int = 0
    duplicated: int = 0
    resent: int = 0  # arrivals again after a worker's (re)start: at-least-once, not a failure
    spurious: int = 0
    refused: int = 0  # arrivals the receiver refused (bad signature, unidentifiable)
    reasons: Counter[str] = field(default_factory=Counter)  # dead letters by reason
    details: list[str] = field(default_factory=list)


def compare(
    want: Expected, journal: Journal, letters: dict[Key, str], kills: Sequence[float] = ()
) -> DeliveryOutcome:
    """The expected deliveries against the journal's arrivals and the dead letters;
    `kills`: when workers were killed (wall clock: SIGKILLs, self-kills), to tell a resent
    delivery (a worker killed after sending, before storing its delivery log, sends again
    after its restart; a worker stopped with SIGTERM or a rebalance never may)."""
    out = DeliveryOutcome(expected=len(want.required), optional=len(want.optional))
    out.delivered = sum(1 for k in want.required if k in journal.arrivals)
    out.optional_delivered = sum(1 for k in want.optional if k in journal.arrivals)
    out.dead_lettered = len(letters)
    out.reasons = Counter(letters.values())
    out.refused = len(journal.refused) + len(journal.mismatched)
    out.details += [f"receiver refused {r}" for r in journal.refused[:DETAILS]]
    out.details += journal.mismatched[:DETAILS]
    lost = [k for k in want.required if k not in journal.arrivals and k not in letters]
    out.lost = len(lost)
    out.details += [f"delivery lost: {brief(k, want.required[k])}" for k in lost[:DETAILS]]
    for key, times in journal.arrivals.items():
        again = [b for a, b in pairwise(times) if any(a - IN_FLIGHT_S < k < b for k in kills)]
        out.resent += len(again)
        extra = len(times) - 1 - len(again) + (key in letters)
        if extra:
            out.duplicated += extra
            if out.duplicated <= DETAILS:
                also = ", and dead-lettered" if key in letters else ""
                out.details.append(f"delivered {len(times)} times{also}: {brief(key)}")
    known = want.required.keys() | want.optional.keys()
    spurious = [k for k in (journal.arrivals.keys() | letters.keys()) if k not in known]
    spurious = [k for k in spurious if k not in want.missing or k in journal.arrivals]
    out.spurious = len(spurious)
    out.details += [f"delivery not expected: {brief(k)}" for k in sorted(spurious)[:DETAILS]]
    unplanned = [k for k in want.missing if k not in letters]
    out.lost += len(unplanned)  # an undeliverable message must be dead-lettered
    out.details += [f"no dead letter for: {brief(k)} ({want.missing[k]})" for k in unplanned[:2]]
    return out


def brief(key: Key, route: str = "") -> str:
    transition, role, channel = key
    return f"{transition[:12]} {role} over {channel}" + (f" ({route})" if route else "")
