"""Dead letters keep no more than diagnosis needs (stream.scrub through codec.dead_letter).

Each case is a payload shaped like what an LMS really sends (written for these tests from
the formats' documentation: Canvas Live Events, Caliper 1.1/1.2, xAPI statements, Moodle
event webhooks, tierwatch's own canonical records), refused for a reason. The letter must
no longer hold the personal value, and must still hold the reason, the detail and the ids
that diagnosis starts from.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from schemas.deadletter import DeadLetter
from stream import codec, scrub
from stream.errors import InvalidRecord
from stream.logs import Pseudonymizer

NOW = dt.datetime(2026, 3, 9, 8, 0, tzinfo=dt.UTC)
PSEUDONYM = Pseudonymizer("test-key")

CANVAS = {
    "metadata": {
        "root_account_id": "30450000000000001",
        "user_login": "jonas.weber@corp.example",
        "user_id": "30450000000000912",
        "user_sis_id": "HR-77120",
        "context_id": "30450000000000388",
        "request_id": "a3e9c1f0-5d2b-4c7e-8f61-0b9d2e4a7c15",
        "session_id": "f08e2c4b9d1a7e3c5b6a8d0f2e4c6a8b",
        "hostname": "canvas.corp.example",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) Safari/605.1.15",
        "client_ip": "203.0.113.87",
        "url": "https://canvas.corp.example/courses/388/quizzes/51",
        "referrer": "https://canvas.corp.example/courses/388/modules?from=jonas.weber@corp.example",
        "event_name": "quiz_submitted",
        "event_time": "2026-03-06T15:02:44.512Z",
    },
    "body": {"quiz_id": "30450000000000051", "submission_id": "30450000000081230"},
}
CALIPER = {
    "sensor": "https://lms.river.example/sensor",
    "sendTime": "2026-03-06T10:00:00.000Z",
    "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
    "data": [
        {
            "id": "urn:uuid:0c7b9a52-3e1d-4f8a-9b6c-2d4e6f8a0b13",
            "type": "AssessmentItemEvent",
            "actor": {"id": "https://lms.river.example/users/4410", "type": "Person"},
            "action": "Completed",
            "object": {"id": "https://lms.river.example/quiz/7/items/3", "type": "AssessmentItem"},
            "generated": {
                "id": "https://lms.river.example/responses/990",
                "type": "FillinBlankResponse",
                "values": ["I would ask my manager, Karin Olsen"],
            },
            "eventTime": "2026-03-06T09:58:12.000Z",
            "referrer": {"id": "https://lms.river.example/quiz/7/items/2", "type": "WebPage"},
            "session": {"id": "https://lms.river.example/sessions/c9f2e1", "type": "Session"},
            "federatedSession": {"id": "urn:lti:session:88a1b2", "type": "LtiSession"},
            "client": {
                "id": "urn:uuid:77e0d9c8-1f2a-4b3c-8d9e-0a1b2c3d4e5f",
                "type": "SoftwareApplication",
                "host": "laptop-4410.home.example",
                "ipAddress": "2001:db8:85a3::8a2e:370:7334",
                "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edge/122.0",
            },
            "extensions": {"comment": "typed during the train ride home", "attempt": 2},
        },
        {"id": "https://lms.river.example/users/4410", "type": "Person", "name": "Lea Svensson"},
    ],
}
XAPI = {
    "id": "5e0f8d2c-7a4b-4e19-b3c6-9f1a2d3e4b5c",
    "actor": {"objectType": "Agent", "name": "Omar Haddad", "mbox": "mailto:omar.h@corp.example"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
    "object": {"id": "https://lrs.corp.example/activities/ethics-q4"},
    "result": {"response": "My team lead pressured me to sign off early", "success": False},
    "context": {
        "registration": "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d",
        "extensions": {
            "https://w3id.org/xapi/cmi5/context/extensions/sessionid": "sess-31f0aa",
            "https://corp.example/xapi/ext/client-ip": "198.51.100.23",
            "https://corp.example/xapi/ext/progress": 0.75,
        },
    },
    "timestamp": "2026-03-06T11:24:09+01:00",
}
MOODLE = {
    "eventname": "\\mod_quiz\\event\\attempt_submitted",
    "component": "mod_quiz",
    "objectid": 5120,
    "userid": 204,
    "relateduserid": 204,
    "realuserid": 3,
    "courseid": 61,
    "ip": "192.0.2.201",
    "other": {"submitterid": 204, "quizid": 88, "username": "jdoe", "note": "retake granted"},
    "timecreated": "yesterday",
    "token": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
}
PROFILE = {
    "learner_id": "emp-2231",
    "role": "sales",
    "manager_id": "emp-0098",
    "name": "Rosa Martinez",
    "email": "rosa.martinez@corp.example",
    "manager_name": "Piet de Vries",
    "manager_email": "piet.devries@corp.example",
    "identities": [{"source": "xapi", "kind": "mbox", "value": "mailto:rosa.m@corp.example"}],
    "timezone": "Not/AZone",
}
INTERVENTION = {
    "learner_id": "emp-2231",
    "kind": "concern_raised",
    "at": "2026-03-05T16:00:00+01:00",
    "note": "Rosa mentioned her father is in hospital",
    "transition": "t-1",
}


def letter(
    payload: Any,
    reason: str = "invalid_fields",
    detail: str = "timestamp: invalid datetime",
    pseudonym: Pseudonymizer | None = None,
) -> tuple[DeadLetter, str]:
    """The dead letter of a refused payload, and all of its JSON as one string."""
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    error = InvalidRecord(reason, detail)
    value = codec.dead_letter(
        "lms.events", 1, 42, b"emp-2231", raw, error, NOW, pseudonym=pseudonym
    )
    return DeadLetter.model_validate_json(value), value.decode()


# (payload, personal values that must go, diagnostic values that must stay)
CASES = {
    "client ip": (
        CANVAS,
        ["203.0.113.87"],
        ["quiz_submitted", "a3e9c1f0-5d2b-4c7e-8f61-0b9d2e4a7c15", "2026-03-06T15:02:44.512Z"],
    ),
    "client ip (caliper client, ipv6)": (
        CALIPER,
        ["2001:db8:85a3::8a2e:370:7334", "laptop-4410.home.example"],
        ["urn:uuid:0c7b9a52-3e1d-4f8a-9b6c-2d4e6f8a0b13", "AssessmentItemEvent", "Completed"],
    ),
    "client ip (moodle, xapi extension)": (
        {"moodle": MOODLE, "xapi": XAPI},
        ["192.0.2.201", "198.51.100.23"],
        ["attempt_submitted", "5e0f8d2c-7a4b-4e19-b3c6-9f1a2d3e4b5c", "0.75"],
    ),
    "user agent": (
        {"canvas": CANVAS, "caliper": CALIPER},
        ["Safari/605.1.15", "Edge/122.0"],
        ["30450000000000051", "https://lms.river.example/quiz/7/items/3"],
    ),
    "session id": (
        {"canvas": CANVAS, "caliper": CALIPER, "xapi": XAPI},
        ["f08e2c4b9d1a7e3c5b6a8d0f2e4c6a8b", "sessions/c9f2e1", "88a1b2", "sess-31f0aa"],
        ["0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d", "2026-03-06T11:24:09+01:00"],
    ),
    "referrer": (
        {"canvas": CANVAS, "caliper": CALIPER},
        ["modules?from=", "quiz/7/items/2"],
        ["https://canvas.corp.example/courses/388/quizzes/51", "30450000000081230"],
    ),
    "e-mail address": (
        {"canvas": CANVAS, "xapi": XAPI, "profile": PROFILE},
        [
            "jonas.weber@corp.example",
            "omar.h@corp.example",
            "rosa.martinez@corp.example",
            "piet.devries@corp.example",
            "rosa.m@corp.example",
        ],
        ["http://adlnet.gov/expapi/verbs/answered", "sales", "Not/AZone"],
    ),
    "names": (
        {"caliper": CALIPER, "xapi": XAPI, "profile": PROFILE, "moodle": MOODLE},
        ["Lea Svensson", "Omar Haddad", "Rosa Martinez", "Piet de Vries", "jdoe"],
        ["https://lms.river.example/users/4410", "emp-2231", "emp-0098", "88"],
    ),
    "free text": (
        {"caliper": CALIPER, "xapi": XAPI, "moodle": MOODLE, "intervention": INTERVENTION},
        [
            "Karin Olsen",
            "train ride",
            "pressured me",
            "retake granted",
            "father is in hospital",
        ],
        ["concern_raised", "2026-03-05T16:00:00+01:00", '"attempt":2', "FillinBlankResponse"],
    ),
    "secrets": (MOODLE, ["9f8e7d6c5b4a39281706f5e4d3c2b1a0"], ['"timecreated":"yesterday"']),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_personal_field_is_gone_and_the_diagnosis_stays(kind):
    """The personal values are nowhere in the letter; the reason, the detail naming the
    wrong field and the ids, types, verbs and timestamps are."""
    payload, gone, kept = CASES[kind]
    dead, text = letter(payload)
    for value in gone:
        assert value not in text, f"{kind}: {value!r} kept"
    for value in kept:
        assert value in dead.payload, f"{kind}: {value!r} lost"
    assert (dead.reason, dead.detail, dead.key) == (
        "invalid_fields",
        "timestamp: invalid datetime",
        "emp-2231",
    )


def test_a_removed_field_says_what_was_there():
    """A removed value leaves a marker with its type and size; null stays null."""
    dead, _ = letter({"client_ip": "203.0.113.87", "referrer": None, "session": {"id": "s"}})
    assert orjson.loads(dead.payload) == {
        "client_ip": "<removed str(12)>",
        "referrer": None,
        "session": "<removed object(1)>",
    }


def test_learner_ids_are_pseudonymised_when_a_key_is_given_and_kept_otherwise():
    """With the pseudonym key, every learner identifier (canonical ids, LMS user ids, the
    actor, an identity's value) is its keyed pseudonym; without, ids are kept (an e-mail
    address used as an id is masked either way). The letter's key stays: redrive and
    erasure need it."""
    payload = {"profile": PROFILE, "moodle": MOODLE, "caliper": CALIPER, "canvas": CANVAS}
    with_key, _text = letter(payload, pseudonym=PSEUDONYM)
    for raw in ("emp-2231", "emp-0098", "30450000000000912", "HR-77120", "users/4410"):
        assert f'"{raw}"' not in with_key.payload
        assert f"/{raw}" not in with_key.payload
    for raw in ("emp-2231", "emp-0098", "204", "https://lms.river.example/users/4410"):
        assert PSEUDONYM(raw) in with_key.payload
    assert with_key.key == "emp-2231"
    without, _ = letter(payload)
    assert '"learner_id":"emp-2231"' in without.payload
    assert '"userid":204' in without.payload
    assert '"value":"mailto:<email>"' in without.payload


def test_a_key_mismatch_stays_visible_under_pseudonyms():
    """key_mismatch is diagnosed by comparing the key with the record's learner id: two
    different ids give two different pseudonyms."""
    event = {"id": "e-1", "learner_id": "emp-9999", "kind": "view", "object_id": "m-1"}
    dead, _ = letter(
        event, "key_mismatch", "the message key is not the record's learner_id", PSEUDONYM
    )
    assert orjson.loads(dead.payload)["learner_id"] == PSEUDONYM("emp-9999")
    assert PSEUDONYM("emp-9999") != PSEUDONYM(dead.key or "")


def test_a_payload_that_is_not_json_keeps_a_masked_prefix():
    """Garbage keeps its start, with e-mail and IP addresses and personal "key": "value"
    pairs masked; times and version numbers are not mistaken for addresses."""
    raw = (
        b'{"actor": {"name": "Omar Haddad", "mbox": "mailto:omar.h@corp.example"}, '
        b'"ip": "10.1.2.3", "stamp": "09:15:27", "v": "1.0.3", "at": fe80::1ff:fe23:4567:890a'
    )
    dead, text = letter(raw, "not_json", "expected value at line 1 column 120")
    assert "Omar Haddad" not in text
    assert "omar.h@" not in text
    assert "10.1.2.3" not in text
    assert "fe80::1ff" not in text
    assert '"name": "<removed>"' in dead.payload
    assert "09:15:27" in dead.payload
    assert '"1.0.3"' in dead.payload


def test_a_cut_never_leaves_the_start_of_an_address():
    """When a payload that is not JSON is cut, an address split by the cut is dropped."""
    for tail in (b" ana.lind@corp.exam", b" 203.0.113", b" 2001:db8:85a3:0"):
        raw = b"x " * ((scrub.MAX_TEXT - len(tail)) // 2) + tail + b"ple.com and more" * 10
        dead, _ = letter(raw, "not_json", "-")
        assert tail.strip().decode() not in dead.payload
        assert dead.payload.endswith(f"… ({len(raw)} bytes)")


def test_details_and_problems_are_masked_too():
    """A detail or a problem quoting a value has its addresses masked."""
    error = InvalidRecord("invalid_fields", "user_login: ana@corp.example is not an id")
    value = codec.dead_letter(
        "http:POST /webhooks/canvas", None, None, None, b"{}", error, NOW,
        problems=[{"pointer": "/metadata/client_ip", "detail": "192.0.2.9 is not allowed"}],
    )  # fmt: skip
    dead = DeadLetter.model_validate_json(value)
    assert dead.detail == "user_login: <email> is not an id"
    assert dead.problems == [{"pointer": "/metadata/client_ip", "detail": "<ip> is not allowed"}]


def test_long_strings_wide_objects_and_deep_nesting_are_bounded():
    """Strings are cut at MAX_STRING, objects and arrays at MAX_ITEMS, depth at MAX_DEPTH."""
    deep: Any = "bottom"
    for _ in range(scrub.MAX_DEPTH + 10):
        deep = {"d": deep}
    payload = {
        "object_id": "m" * 5000,
        "list": list(range(scrub.MAX_ITEMS + 50)),
        "wide": {f"k{i}": i for i in range(scrub.MAX_ITEMS + 5)},
        "deep": deep,
    }
    dead, _ = letter(payload)
    kept = orjson.loads(dead.payload)
    assert kept["object_id"] == "m" * scrub.MAX_STRING + "…"
    assert kept["list"][-1] == "<removed 50 more>"
    assert len(kept["wide"]) == scrub.MAX_ITEMS + 1
    assert "bottom" not in dead.payload
