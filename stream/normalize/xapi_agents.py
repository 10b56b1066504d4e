"""xAPI Agents and Groups: who a statement's actor (or Agent object) is.

An Agent has exactly one inverse functional identifier (IFI): mbox (lowercased),
mbox_sha1sum (lowercased), openid, or account ("homePage|name"). A Group is identified
(one IFI, and maybe a `member` list) or anonymous (no IFI, a non-empty `member` list);
members are Agents. An identified Group is an identity like an Agent's: the identity
registry maps it to a learner. An anonymous Group names no one: `ANONYMOUS`.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from schemas.roster import Identity
from stream.normalize.base import IRI, Path, Problem, pointer

IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
_MAILTO = re.compile(r"mailto:[^@\s]+@[^@\s]+", re.IGNORECASE)
_SHA1 = re.compile(r"[0-9a-fA-F]{40}")
MAX_IFI = 2048

Anonymous = Literal["anonymous group"]
ANONYMOUS: Final[Anonymous] = "anonymous group"


def agent_or_group(value: Any, at: Path, problems: list[Problem]) -> Identity | Anonymous | None:
    """The identity of an Agent or identified Group, `ANONYMOUS` for an anonymous Group,
    or None with a problem for each thing that makes it neither."""
    if not isinstance(value, dict):
        problems.append(Problem(pointer(*at), "must be an Agent or Group object"))
        return None
    kind = value.get("objectType", "Agent")
    if kind == "Agent":
        return _identified(value, at, problems)
    if kind != "Group":
        problems.append(Problem(pointer(*at, "objectType"), "must be Agent or Group"))
        return None
    before = len(problems)
    members = _members(value, at, problems)
    if not any(key in value for key in IFIS):
        if members == 0 and len(problems) == before:
            problems.append(Problem(pointer(*at, "member"), "an anonymous Group lists its members"))
        return ANONYMOUS if len(problems) == before else None
    identity = _identified(value, at, problems)
    return identity if len(problems) == before else None


def _members(group: dict[str, Any], at: Path, problems: list[Problem]) -> int:
    """How many members a Group lists (0 when none), with a problem for each bad one."""
    if "member" not in group:
        return 0
    members = group["member"]
    if not isinstance(members, list):
        problems.append(Problem(pointer(*at, "member"), "must be an array of Agents"))
        return 0
    for index, member in enumerate(members):
        where = (*at, "member", index)
        if not isinstance(member, dict) or member.get("objectType", "Agent") != "Agent":
            problems.append(Problem(pointer(*where), "a Group's member must be an Agent"))
            continue
        _identified(member, where, problems)
    return len(members)


def _identified(value: dict[str, Any], at: Path, problems: list[Problem]) -> Identity | None:
    present = [key for key in IFIS if key in value]
    if len(present) != 1:
        detail = "needs exactly one of mbox, mbox_sha1sum, openid, account"
        problems.append(Problem(pointer(*at), f"{detail}; has {len(present)}"))
        return None
    kind = present[0]
    ifi = _ifi_value(kind, value[kind], (*at, kind), problems)
    if ifi is None:
        return None
    if len(ifi) > MAX_IFI:
        problems.append(Problem(pointer(*at, kind), f"longer than {MAX_IFI} characters"))
        return None
    return Identity(source="xapi", kind=kind, value=ifi)


def _ifi_value(kind: str, value: Any, at: Path, problems: list[Problem]) -> str | None:
    if kind == "account":
        if not isinstance(value, dict):
            problems.append(Problem(pointer(*at), "must be an object with homePage and name"))
            return None
        home, name = value.get("homePage"), value.get("name")
        if not isinstance(home, str) or not IRI.fullmatch(home):
            problems.append(Problem(pointer(*at, "homePage"), "must be an IRL"))
        if not isinstance(name, str) or not name:
            problems.append(Problem(pointer(*at, "name"), "must be a non-empty string"))
            return None
        return f"{home}|{name}" if isinstance(home, str) and IRI.fullmatch(home) else None
    checks = {"mbox": _MAILTO, "mbox_sha1sum": _SHA1, "openid": IRI}
    if not isinstance(value, str) or not checks[kind].fullmatch(value):
        expected = {"mbox": "a mailto: IRI", "mbox_sha1sum": "40 hex digits", "openid": "a URI"}
        problems.append(Problem(pointer(*at), f"must be {expected[kind]}"))
        return None
    # Addresses are matched without case: the domain is case-insensitive by RFC, and
    # in practice so is the local part of every corporate mail system.
    return value if kind == "openid" else value.lower()
