"""Scrubbing never raises and never lets an address through, whatever it is given."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.deadletter import DeadLetter
from stream import codec, scrub
from stream.errors import InvalidRecord
from stream.logs import Pseudonymizer

PSEUDONYM = Pseudonymizer("property-key")
KEYS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["learner_id", "name", "actor", "mbox", "type", "id", "value", "identities", "account",
         "extensions", "other", "client_ip", "session", "note", "body", "user_id", "Person"]
    ),
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.sampled_from(["Person", "Agent", "FillinBlankResponse"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(KEYS, inner, max_size=6)),
    max_leaves=40,
)
EMAILS = st.builds(
    lambda local, host, tld: f"{local}@{host}.{tld}",
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True),
    st.from_regex(r"[a-z0-9][a-z0-9-]{0,15}", fullmatch=True),
    st.sampled_from(["com", "example", "org", "co.uk"]),
)
IPS = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str).filter(lambda ip: ip.count(":") >= 3),
)


def plant(document: Any, secret: str, path: list[int]) -> Any:
    """The document with `secret` put somewhere in it: as a value, a key or inside text."""
    choice = path[0] % 3 if path else 0
    if isinstance(document, dict) and document and path:
        key = sorted(document, key=str)[path[0] % len(document)]
        return {**document, key: plant(document[key], secret, path[1:])}
    if isinstance(document, list) and document and path:
        index = path[0] % len(document)
        return [*document[:index], plant(document[index], secret, path[1:]), *document[index + 1 :]]
    if choice == 1:
        return {f"k {secret}": document}
    if choice == 2 and isinstance(document, str):
        return f"{document} {secret} {document}"
    return secret


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=5000))
def test_any_bytes_give_a_bounded_text(value):
    """Arbitrary bytes never raise and give at most MAX_PAYLOAD characters."""
    text, _ = scrub.payload(value)
    assert len(text) <= scrub.MAX_PAYLOAD


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(JSON, st.booleans())
def test_any_json_stays_json(document, keyed):
    """Arbitrary JSON never raises and stays JSON (valid UTF-8, whatever its escapes)."""
    raw = json.dumps(document).encode()
    text, is_json = scrub.payload(raw, PSEUDONYM if keyed else None)
    assert is_json
    json.loads(text)
    text.encode("utf-8")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(JSON, st.one_of(EMAILS, IPS), st.lists(st.integers(0, 50), max_size=6), st.booleans())
def test_an_address_planted_anywhere_never_survives(document, secret, path, keyed):
    """An e-mail or IP address put anywhere in a document (a value, a key, inside a text)
    is not in the scrubbed payload, with or without a pseudonym key."""
    raw = json.dumps(plant(document, secret, path)).encode()
    text, _ = scrub.payload(raw, PSEUDONYM if keyed else None)
    assert secret not in text
    garbage, _ = scrub.payload(b"{broken " + secret.encode() + b" " + raw)
    assert secret not in garbage


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    topic=st.text(max_size=40),
    partition=st.one_of(st.none(), st.integers()),
    key=st.one_of(st.none(), st.binary(max_size=40)),
    value=st.one_of(st.none(), st.binary(max_size=300), JSON.map(lambda d: json.dumps(d).encode())),
    reason=st.text(max_size=40),
    detail=st.text(max_size=200),
    now=st.datetimes(timezones=st.one_of(st.none(), st.just(dt.UTC))),
)
def test_building_a_dead_letter_never_raises(topic, partition, key, value, reason, detail, now):
    """codec.dead_letter builds a readable DeadLetter from anything: odd text, huge
    partitions, undecodable keys, naive datetimes."""
    raw = codec.dead_letter(
        topic, partition, partition, key, value, InvalidRecord(reason, detail), now,
        pseudonym=PSEUDONYM,
    )  # fmt: skip
    letter = DeadLetter.model_validate_json(raw)
    assert letter.at.tzinfo is not None


def test_a_pseudonym_that_fails_removes_the_id():
    """A pseudonym function that raises does not stop the letter: the id is removed."""

    def broken(_: str) -> str:
        raise RuntimeError("no key")

    text, _ = scrub.payload(b'{"learner_id": "emp-1", "kind": "view"}', broken)
    assert json.loads(text) == {"learner_id": "<removed str(5)>", "kind": "view"}
