"""The chaos suite's delivery accounting (`bench.chaos.deliveries`): what dispatch should
send for replay's transitions, what the receiver's journal and the dead letters say was
done, and how the two are counted against each other. No broker."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import orjson
import pytest

from bench.chaos import history as hist
from bench.chaos.deliveries import Expected, compare, dead_letters, expected, read_journal
from bench.chaos.dispatching import ROUTES, config_data, write_templates
from bench.chaos.receiver import reference
from schemas.dispatch import ParkedDelivery
from stream import codec
from stream.dispatch.config import parse_dispatch
from stream.errors import InvalidRecord
from stream.policyfile import load_policy

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
T1, T2, T3 = "11111111-1111-5111-8111-111111111111", "2222", "3333"


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[hist.History, Expected]:
    policy = load_policy()
    history = hist.build(policy, 24, 7, 3, 1, False)
    folder = tmp_path_factory.mktemp("dispatch")
    config = parse_dispatch(config_data(1, 2, "whsec_" + "A" * 43, write_templates(folder)))
    erased = {lid for lids in history.erasures.values() for lid in lids}
    return history, expected(history.expected, history.records, erased, config, policy)


def test_every_transition_reaches_its_roles_over_its_routes_channels(planned):
    """Each kept learner's transition is planned over every channel of its route, to its
    route's roles (nudges to the learner, escalations to HR and the manager), and nothing
    is undeliverable: every role has an address."""
    history, want = planned
    assert not want.missing
    by_transition = Counter(t for t, _, _ in [*want.required, *want.optional])
    assert set(by_transition) == set(history.expected)
    for (_, role, channel), route in want.required.items():
        assert channel in ROUTES[route]
        assert route != "learner_nudge" or role == "learner"
        assert route != "hr_escalation" or role in ("hr", "manager")
    assert {c for _, _, c in want.required} == {"hook", "chat", "mail"}


def test_a_fall_reaches_exactly_whoever_its_rise_addressed(planned):
    """`resolved` goes to the roles addressed since the learner was last at tier 0."""
    history, want = planned
    roles: dict[str, set[str]] = {}
    for tid, role, _ in want.required:
        roles.setdefault(tid, set()).add(role)
    for learner in {t.learner_id for t in history.expected.values()}:
        told: set[str] = set()
        ts = sorted(
            (t for t in history.expected.values() if t.learner_id == learner), key=lambda t: t.at
        )
        for t in ts:
            if t.id not in roles:
                continue  # an erased learner's
            if t.route == "resolved":
                assert roles[t.id] == told
            told |= roles[t.id]
            if t.to_tier == 0:
                told = set()


def test_lost_duplicated_spurious_and_optional_are_counted_apart(tmp_path: Path):
    """T1 to the manager arrived twice (one duplicate), T1 to HR never (lost), T2 was
    dead-lettered (neither), T3 was never planned (spurious), and an erased learner's
    delivery may be missing."""
    want = Expected(
        required={(T1, "manager", "hook"): "hr_escalation", (T1, "hr", "hook"): "hr_escalation",
                  (T2, "learner", "mail"): "learner_nudge"},
        optional={("9999", "learner", "mail"): "learner_nudge"},
    )  # fmt: skip
    journal = tmp_path / "receiver.jsonl"
    lines = [
        {"ch": "hook", "mid": f"{T1}.manager", "t": T1, "role": "manager", "route": "x", "at": 1},
        {"ch": "hook", "mid": f"{T1}.manager", "t": T1, "role": "manager", "route": "x", "at": 2},
        {"ch": "chat", "mid": None, "t": T3, "role": "manager", "route": "x", "at": 3},
        {"ch": "hook", "refused": "BadSignature: no signature matches"},
    ]
    journal.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines) + b'{"ch": "ho')
    letters = {(T2, "learner", "mail"): "dispatch_delivery_exhausted"}
    out = compare(want, read_journal(journal), letters)
    assert (out.lost, out.duplicated, out.spurious, out.refused) == (1, 1, 1, 1)
    assert (out.expected, out.delivered, out.dead_lettered, out.optional_delivered) == (3, 1, 1, 0)


def test_an_arrival_again_after_a_worker_was_killed_is_resent_not_duplicated(tmp_path: Path):
    """Arrivals at 1 and 5 with a worker killed at 3 between them: resent (at-least-once
    after a kill); a third arrival at 6, with no kill since 5, is a duplicate."""
    want = Expected(required={(T1, "learner", "mail"): "learner_nudge"})
    journal = tmp_path / "receiver.jsonl"
    line = {"ch": "mail", "mid": T1, "t": T1, "role": "learner", "route": "learner_nudge"}
    journal.write_bytes(b"".join(orjson.dumps({**line, "at": at}) + b"\n" for at in (1, 5, 6)))
    out = compare(want, read_journal(journal), {}, kills=[0.5, 3.0])
    assert (out.lost, out.resent, out.duplicated) == (0, 1, 1)


def test_a_delivery_in_flight_when_its_worker_was_killed_and_sent_again_is_resent(
    tmp_path: Path,
):
    """The SMTP server recorded the message 0.4 s after its worker was killed (it had the
    last line); the restarted worker sends it again: resent. A kill 1.5 s before the first
    arrival is not this delivery's: the second arrival is a duplicate."""
    want = Expected(required={(T1, "learner", "mail"): "learner_nudge"})
    journal = tmp_path / "receiver.jsonl"
    line = {"ch": "mail", "mid": T1, "t": T1, "role": "learner", "route": "learner_nudge"}
    journal.write_bytes(b"".join(orjson.dumps({**line, "at": at}) + b"\n" for at in (3.4, 8)))
    assert compare(want, read_journal(journal), {}, kills=[3.0]).resent == 1
    out = compare(want, read_journal(journal), {}, kills=[1.9])
    assert (out.resent, out.duplicated) == (0, 1)


def test_a_dispatch_dead_letter_names_its_delivery_and_reason():
    """A parked delivery's letter gives (transition, role, channel) and the reason; a
    message that could not be planned gives its transition, and channel and role from the
    detail; other dead letters are not dispatch's."""
    parked = ParkedDelivery(
        id=f"{T1}.hr", channel="hook", role="hr", route="hr_escalation", round=15
    )
    exhausted = InvalidRecord("dispatch_delivery_exhausted", "hook to hr: delivery_exhausted: x")
    no_address = InvalidRecord(
        "dispatch_no_address_for_the_hr", "mail to hr: no address for the hr"
    )
    poison = InvalidRecord("not_json", "not JSON")
    values = [
        codec.dead_letter(
            "retry", -1, -1, b"L0001", parked.model_dump_json().encode(), exhausted, NOW
        ),
        codec.dead_letter("retry", -1, -1, b"L0001", T2.encode(), no_address, NOW),
        codec.dead_letter("events", 0, 7, b"L0001", b"{", poison, NOW),
    ]
    assert dead_letters(values) == {
        (T1, "hr", "hook"): "dispatch_delivery_exhausted",
        (T2, "hr", "mail"): "dispatch_no_address_for_the_hr",
    }


def test_the_receiver_reads_the_last_reference_line():
    """A chat or e-mail text names its delivery in its last `chaos-ref` line."""
    assert reference(f"Hi,\n\nchaos-ref {T1} resolved manager") == (T1, "resolved", "manager")
    assert reference("no reference here") is None
