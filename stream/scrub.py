"""What a dead letter may keep of the message it records: enough to diagnose it, nothing
personal. Pure (the standard library only), and it never raises.

A JSON payload is parsed and walked. Kept: ids, types, verbs, actions, timestamps, scores,
counts, flags, URLs of activities, and the shape of every object (so the field that was
wrong can still be found). Under a key that names personal data the value is replaced by a
marker saying what was there, `"<removed str(17)>"`:

- network and device: client IP, IP address, user agent, host name, Caliper `client`;
- sessions and secrets: session ids, Caliper `session` and `federatedSession`, tokens,
  cookies, passwords;
- referrers; e-mail addresses (`email`, `mbox`, Canvas `user_login`, `manager_email`);
- a roster's leaving record (`left_on`, `left_voluntarily`: HR data);
- names of people (`name`, `username`, `full_name`, ...; a language map's activity name
  goes too);
- free text: notes, comments, answers, `result.response`, messages, descriptions, a string
  `body`, a Caliper `Response`'s values; and everything that is a string inside containers
  that hold arbitrary vendor data (`extensions`, Moodle `other`, `source_meta`, a rendered
  delivery's `payload`): numbers and flags inside them stay.

Learner identifiers (`learner_id`, `user_id`, `relateduserid`, SIS ids, xAPI account
names, the id of a Person or Agent, a Caliper `actor` IRI, an identity's value) are replaced
by the learner's keyed pseudonym when a `pseudonym` is given, and kept otherwise. Every
kept string has e-mail addresses and IP addresses masked (`<email>`, `<ip>`) and is cut at
`MAX_STRING` characters; objects and arrays are cut at `MAX_ITEMS` entries and at a depth
of `MAX_DEPTH`.

A payload that is not JSON (or too large to parse) keeps a `MAX_TEXT`-character prefix with
e-mail and IP addresses masked, and the value of every `"personal_key": "..."` pair in it.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

Pseudonym = Callable[[str], str]

MAX_PARSE = 4 << 20  # larger payloads are not parsed: only a prefix is kept
MAX_TEXT = 2048  # the prefix kept of a payload that is not JSON
MAX_STRING = 512  # the longest string kept whole (ids are at most 512 characters)
MAX_ITEMS = 200  # entries kept of one object or array
MAX_DEPTH = 32  # containers nested deeper are replaced by a marker
MAX_PAYLOAD = 65536  # the scrubbed payload is cut at this length

REMOVED = frozenset(
    {
        # network and device
        "ip", "clientip", "ipaddress", "ipaddr", "remoteaddr", "remoteaddress", "remoteip",
        "xforwardedfor", "forwardedfor", "useragent", "client", "hostname", "device",
        "deviceid", "location", "geo", "latitude", "longitude",
        # sessions and secrets
        "session", "sessionid", "federatedsession", "sessiontoken", "sessionkey", "token",
        "accesstoken", "refreshtoken", "authorization", "cookie", "cookies", "password",
        "secret", "apikey",
        # referrers
        "referrer", "referer", "httpreferer", "httpreferrer",
        # e-mail addresses
        "email", "mail", "emailaddress", "useremail", "manageremail", "userlogin", "login",
        "recipient",
        # names of people, and other personal details
        "name", "names", "username", "fullname", "firstname", "lastname", "middlename",
        "givenname", "familyname", "surname", "displayname", "sortablename", "nickname",
        "managername", "phone", "phonenumber", "mobile", "address", "birthdate",
        "dateofbirth", "dob", "photo", "avatar", "picture",
        # a roster's leaving record (HR's: `LearnerProfile.left_on`, `left_voluntarily`)
        "lefton", "leftvoluntarily",
    }
)  # fmt: skip
FREE_TEXT = frozenset(
    {
        "note", "notes", "comment", "comments", "response", "responses", "answer", "answers",
        "feedback", "message", "messages", "text", "html", "subject", "description",
        "content", "summary", "remark", "remarks", "reply", "post", "essay", "submissionbody",
        # containers of arbitrary vendor data
        "extensions", "other", "sourcemeta", "payload", "custom",
    }
)  # fmt: skip
LEARNER_IDS = frozenset(
    {
        "learnerid", "userid", "relateduserid", "realuserid", "managerid", "usersisid",
        "studentid", "studentsisid", "graderid", "ltiuserid", "submitterid", "overrideby",
        "employeeid", "personid", "actorid", "mbox", "mboxsha1sum", "openid",
    }
)  # fmt: skip
PEOPLE = frozenset(
    {
        "actor", "assignee", "member", "learner", "user", "student", "instructor", "grader",
        "scoredby", "submitter", "authority", "realuser",
    }
)  # fmt: skip
RESPONSE_VALUES = frozenset({"value", "values", "selection", "selections", "selectedtext"})

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]++@[\w-]++(?:\.[\w-]++)++")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}+[0-9A-Fa-f]{0,4}(?![\w:])")
_PAIR = re.compile(r'"([^"\\]{1,64})"(\s*:\s*)"((?:[^"\\]|\\.)*+)"')
_PARTIAL_TAIL = re.compile(r'[^\s"\'<>,;()\[\]{}]{1,400}$')
_HEXISH = re.compile(r"[0-9A-Fa-f.:]+")


def normalise_key(key: str) -> str:
    """A key as the rules compare it: its last path segment (keys of extensions are IRIs),
    lower case, letters and digits only: `client_ip`, `clientIp` and `.../clientIP` agree."""
    last = re.split(r"[/#]", key)[-1] or key
    return "".join(c for c in last.lower() if c.isalnum())


def marker(value: Any) -> Any:
    """What stands in for a removed value: its type (and size); null stays null."""
    if value is None:
        return None
    if isinstance(value, str):
        return f"<removed str({len(value)})>"
    if isinstance(value, dict):
        return f"<removed object({len(value)})>"
    if isinstance(value, list):
        return f"<removed array({len(value)})>"
    return f"<removed {type(value).__name__}>"


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _clean(text: str) -> str:
    """The text as valid UTF-8 (lone surrogates from JSON escapes become '?')."""
    return text.encode("utf-8", "replace").decode("utf-8")


def mask(text: str, pseudonym: Pseudonym | None = None) -> str:
    """The text with e-mail and IP addresses masked and the value of every JSON-looking
    `"personal_key": "value"` pair removed (or pseudonymised, for learner ids)."""

    def pair(m: re.Match[str]) -> str:
        key = normalise_key(m.group(1))
        if key in REMOVED or key in FREE_TEXT:
            return f'"{m.group(1)}"{m.group(2)}"<removed>"'
        if key in LEARNER_IDS and pseudonym is not None:
            return f'"{m.group(1)}"{m.group(2)}"{_pseudonym(m.group(3), pseudonym)}"'
        return m.group(0)

    text = _PAIR.sub(pair, text)
    text = _EMAIL.sub("<email>", text)
    text = _IPV4.sub(lambda m: "<ip>" if _valid_ip(m.group(0)) else m.group(0), text)
    return _IPV6.sub(lambda m: "<ip>" if _valid_ip(m.group(0)) else m.group(0), text)


def prefix(text: str, limit: int, pseudonym: Pseudonym | None = None) -> str:
    """At most about `limit` characters of a text, masked. When the text is cut, a last
    token that may be the start of an address (it holds '@', or only hex digits, dots and
    colons) is dropped too, so no partial address survives the cut."""
    cut = text[:limit]
    if len(text) > limit:
        tail = _PARTIAL_TAIL.search(cut)
        if tail and ("@" in tail.group(0) or _HEXISH.fullmatch(tail.group(0))):
            cut = cut[: tail.start()]
    masked = mask(_clean(cut), pseudonym)
    return masked if len(text) <= limit else f"{masked}…"


def _pseudonym(value: str, pseudonym: Pseudonym) -> str:
    try:
        return pseudonym(_clean(value))
    except Exception:  # a pseudonym that cannot be computed is no reason to keep the id
        return marker(value)  # type: ignore[no-any-return]


class _Walk:
    """One walk over a parsed payload, with the pseudonym (if any) of its learner ids."""

    def __init__(self, pseudonym: Pseudonym | None) -> None:
        self.pseudonym = pseudonym

    def string(self, value: str) -> str:
        return prefix(value, MAX_STRING)

    def ident(self, value: Any, depth: int) -> Any:
        """A learner identifier: pseudonymised when there is a key, otherwise kept."""
        if isinstance(value, (dict, list)):
            return self.value(value, depth, person=True)
        if value is None or isinstance(value, bool):
            return value
        if self.pseudonym is not None:
            return _pseudonym(str(value), self.pseudonym)
        return self.string(value) if isinstance(value, str) else value

    def value(self, value: Any, depth: int, *, opaque: bool = False, person: bool = False) -> Any:
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                return marker(value)
            return self.mapping(value, depth + 1, opaque=opaque, person=person)
        if isinstance(value, list):
            if depth >= MAX_DEPTH:
                return marker(value)
            items = [
                self.value(v, depth + 1, opaque=opaque, person=person) for v in value[:MAX_ITEMS]
            ]
            if len(value) > MAX_ITEMS:
                items.append(f"<removed {len(value) - MAX_ITEMS} more>")
            return items
        if isinstance(value, str):
            return marker(value) if opaque else self.string(value)
        return value  # numbers, booleans and null

    def mapping(
        self, value: dict[Any, Any], depth: int, *, opaque: bool, person: bool
    ) -> dict[str, Any]:
        kind = value.get("type")
        person = person or kind == "Person" or value.get("objectType") in ("Agent", "Group")
        response = isinstance(kind, str) and kind.endswith("Response")
        out: dict[str, Any] = {}
        for index, (raw_key, item) in enumerate(value.items()):
            if index >= MAX_ITEMS:
                out["<removed>"] = f"{len(value) - MAX_ITEMS} more keys"
                break
            key = str(raw_key)
            name = normalise_key(key)
            out[self.string(key)] = self.entry(name, item, depth, opaque, person, response)
        return out

    def entry(
        self, name: str, item: Any, depth: int, opaque: bool, person: bool, response: bool
    ) -> Any:
        """The kept value of one entry `name: item` of an object."""
        if name in LEARNER_IDS or (person and name == "id"):
            return self.ident(item, depth)
        if name in PEOPLE:
            return (
                self.ident(item, depth)
                if not isinstance(item, dict)
                else self.value(item, depth, opaque=opaque, person=True)
            )
        if name == "account" and isinstance(item, dict):
            return {
                self.string(str(k)): self.ident(v, depth)
                if normalise_key(str(k)) == "name"
                else self.value(v, depth, opaque=opaque)
                for k, v in list(item.items())[:MAX_ITEMS]
            }
        if name == "identities" and isinstance(item, list):
            return [
                {self.string(str(k)): self.ident(v, depth) if k == "value" else self.value(v, depth)
                 for k, v in list(i.items())[:MAX_ITEMS]}
                if isinstance(i, dict) else self.value(i, depth)
                for i in item[:MAX_ITEMS]
            ]  # fmt: skip
        if name in REMOVED or (response and name in RESPONSE_VALUES):
            return marker(item)
        if name == "body" and isinstance(item, str):
            return marker(item)  # a message's text (a Canvas event's body is an object)
        if name in FREE_TEXT:
            return self.value(item, depth, opaque=True)
        return self.value(item, depth, opaque=opaque)


def _parse(value: bytes) -> tuple[bool, Any]:
    """(True, the JSON value) or (False, None)."""
    if len(value) > MAX_PARSE:
        return False, None
    try:
        return True, json.loads(value.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, too deep or a huge number
        return False, None


def payload(value: bytes | None, pseudonym: Pseudonym | None = None) -> tuple[str, bool]:
    """The scrubbed text of a payload, and whether it is JSON. Never raises."""
    if not value:
        return "", False
    try:
        ok, parsed = _parse(value)
        if ok:
            scrubbed = _Walk(pseudonym).value(parsed, 0)
            text = json.dumps(scrubbed, ensure_ascii=False, separators=(",", ":"))
            return _clean(text)[:MAX_PAYLOAD], True
        text = value[: MAX_TEXT * 4].decode("utf-8", "replace")
        kept = prefix(text, MAX_TEXT, pseudonym)
        return (kept if len(text) <= MAX_TEXT else f"{kept} ({len(value)} bytes)"), False
    except Exception:  # scrubbing must never stop a dead letter; keep nothing then
        return f"<removed: the payload could not be scrubbed ({len(value)} bytes)>", False


def text(value: str, limit: int = MAX_TEXT) -> str:
    """A sentence for a dead letter (a detail, a problem): bounded, addresses masked."""
    try:
        return prefix(str(value), limit)
    except Exception:
        return "<removed>"
