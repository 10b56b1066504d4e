"""xAPI Groups as actors: identified ones are learners like Agents, anonymous ones are
taken and not counted; a malformed Group is a problem."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.roster import Identity
from stream.normalize.base import stable_learner_id
from stream.normalize.xapi import normalize_statements
from tests.test_normalize_xapi import ADL, RECEIVED, normalize, problems_of, statement

TOMAS = {"objectType": "Agent", "name": "Tomas Berg", "mbox": "mailto:Tomas.Berg@Fabrikam.example"}
NIGHT_SHIFT = {
    "objectType": "Group",
    "name": "Night shift team",
    "account": {"homePage": "https://academy.fabrikam.example", "name": "team-night-shift"},
    "member": [TOMAS, {"objectType": "Agent", "openid": "https://id.fabrikam.example/u/884"}],
}


def attended(actor: Any, sid: str = "11111111-2222-4333-8444-555555555502") -> dict[str, Any]:
    return statement(
        id=sid,
        actor=actor,
        verb={"id": ADL + "attended", "display": {"en-US": "attended"}},
        object={"id": "https://academy.fabrikam.example/events/toolbox-talk-14"},
    )


def test_an_identified_group_is_a_learner_like_an_agent() -> None:
    """A Group with an account is resolved through the identity registry as an Agent with
    that account would be: the same identity, the same learner."""
    seen: list[Identity] = []

    def resolve(identity: Identity) -> str:
        seen.append(identity)
        return stable_learner_id(identity)

    (event,) = normalize_statements(attended(NIGHT_SHIFT), RECEIVED, resolve).events
    account = "https://academy.fabrikam.example|team-night-shift"
    assert seen == [Identity(source="xapi", kind="account", value=account)]
    assert event.kind == "session"
    as_agent = {"objectType": "Agent", "account": NIGHT_SHIFT["account"]}
    assert normalize(attended(as_agent)).events[0].learner_id == event.learner_id


def test_an_identified_group_without_members_is_valid() -> None:
    """`member` is optional in an identified Group."""
    group = {"objectType": "Group", "mbox": "mailto:night-shift@fabrikam.example"}
    assert len(normalize(attended(group)).events) == 1


def test_a_batch_with_an_anonymous_group_keeps_its_other_statements() -> None:
    """An anonymous Group's statement is taken (ignored, `anonymous_group`); the agent's
    statement beside it is an event."""
    anonymous = {k: v for k, v in NIGHT_SHIFT.items() if k != "account"}
    result = normalize(
        [attended(anonymous), attended(TOMAS, "11111111-2222-4333-8444-555555555503")]
    )
    assert len(result.events) == 1
    assert [i.code for i in result.ignored] == ["anonymous_group"]


@pytest.mark.parametrize(
    ("group", "where"),
    [
        ({"objectType": "Group", "name": "nobody"}, "/actor/member"),
        ({"objectType": "Group", "member": []}, "/actor/member"),
        ({"objectType": "Group", "member": "Tomas"}, "/actor/member"),
        ({"objectType": "Group", "member": [{"name": "no identifier"}]}, "/actor/member/0"),
        ({"objectType": "Group", "member": [{**NIGHT_SHIFT}]}, "/actor/member/0"),
        ({**NIGHT_SHIFT, "mbox": "mailto:team@fabrikam.example"}, "/actor"),
        ({"objectType": "Team", "mbox": "mailto:team@fabrikam.example"}, "/actor/objectType"),
    ],
    ids=[
        "no-members",
        "empty",
        "not-a-list",
        "member-unidentified",
        "member-a-group",
        "two-ifis",
        "not-a-group",
    ],
)
def test_malformed_groups_are_problems(group: dict[str, Any], where: str) -> None:
    """An anonymous Group needs members; members are identified Agents; a Group has at
    most one identifier; an actor is an Agent or a Group."""
    assert where in problems_of(attended(group))
