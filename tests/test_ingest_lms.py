"""Caliper, Canvas and Moodle over HTTP (no broker): statuses, auth, and who the learner is."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import orjson

from schemas.roster import Identity
from stream.normalize.base import stable_learner_id
from tests.ingest_kit import CALIPER_TOKEN, CANVAS_SECRET, TOPICS, FakeSink, client
from tests.kit import POLICY

FIXTURES = Path(__file__).parent / "fixtures"
CALIPER = {"Authorization": f"Bearer {CALIPER_TOKEN}"}
CANVAS = {"X-Tierwatch-Secret": CANVAS_SECRET}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def events_of(sink: FakeSink) -> list[dict]:
    return [orjson.loads(value) for _, value in sink.sent.get(TOPICS.events, [])]


async def test_caliper_grade_event_scores_the_assignee_not_the_grader():
    """A GradeEvent over HTTP: 200, one assessment event for the assignee with the score."""
    sink = FakeSink()
    envelope = fixture("caliper/v1p1_grade_event.json")
    event = envelope["data"][0]
    async with client(sink) as http:
        response = await http.post("/caliper", json=envelope, headers=CALIPER)
        assert response.status == 200, await response.text()
    (produced,) = events_of(sink)
    assignee = event["object"]["assignee"]
    assignee_id = assignee["id"] if isinstance(assignee, dict) else assignee
    learner = stable_learner_id(Identity(source="caliper", kind="actor", value=assignee_id))
    assert produced["learner_id"] == learner
    assert produced["kind"] == "assessment"
    assert produced["score"] is not None


async def test_caliper_statuses():
    """Caliper: 401 for a bad token, 415 for a non-JSON type, 400 for a malformed envelope,
    422 for an unsupported dataVersion."""
    async with client(FakeSink()) as http:
        good = fixture("caliper/v1p2_assignable.json")
        bad_token = await http.post("/caliper", json=good, headers={"Authorization": "Bearer x"})
        text = await http.post(
            "/caliper", data="hello", headers={**CALIPER, "Content-Type": "text/plain"}
        )
        malformed = await http.post(
            "/caliper", json=fixture("caliper/error_no_data.json"), headers=CALIPER
        )
        version = await http.post(
            "/caliper", json=fixture("caliper/error_unknown_version.json"), headers=CALIPER
        )
        ok = await http.post("/caliper", json=good, headers=CALIPER)
    statuses = [r.status for r in (bad_token, text, malformed, version, ok)]
    assert statuses == [401, 415, 400, 422, 200]


async def test_canvas_grade_change_is_for_the_student_not_the_grader():
    """grade_change: the learner is body.student_id; metadata.user_id (the grader) is not."""
    sink = FakeSink()
    payload = fixture("canvas/grade_change_by_grader.json")
    async with client(sink) as http:
        response = await http.post("/webhooks/canvas", json=payload, headers=CANVAS)
        assert response.status == 200, await response.text()
    (produced,) = events_of(sink)
    student = str(payload["body"].get("student_id") or payload["body"]["user_id"])
    assert produced["learner_id"] == stable_learner_id(
        Identity(source="canvas", kind="user", value=student)
    )
    grader = str(payload["metadata"]["user_id"])
    assert produced["learner_id"] != stable_learner_id(
        Identity(source="canvas", kind="user", value=grader)
    )


async def test_canvas_needs_the_shared_secret_and_ignores_unknown_events():
    """No secret header: 401. An event name we do not use: 200 with nothing produced."""
    sink = FakeSink()
    async with client(sink) as http:
        refused = await http.post("/webhooks/canvas", json=fixture("canvas/logged_in.json"))
        unknown = await http.post(
            "/webhooks/canvas", json=fixture("canvas/unknown_event.json"), headers=CANVAS
        )
        assert refused.status == 401
        assert unknown.status == 200
        assert (await unknown.json())["ignored"] == 1
    assert events_of(sink) == []


async def test_moodle_completion_is_the_related_user_not_the_teacher():
    """course_module_completion_updated by a teacher: the learner is relateduserid."""
    sink = FakeSink()
    payload = fixture("moodle/completion_updated_by_teacher.json")
    payload["token"] = "moodle-token"
    async with client(sink) as http:
        response = await http.post("/webhooks/moodle", json=payload)
        assert response.status == 200, await response.text()
    (produced,) = events_of(sink)
    learner = str(payload["relateduserid"])
    assert produced["learner_id"] == stable_learner_id(
        Identity(source="moodle", kind="user", value=learner)
    )
    assert produced["kind"] == "completion"
    assert "moodle-token" not in json.dumps(produced)


async def test_moodle_wrong_token_and_bad_fields():
    """A wrong token: 401. A timecreated that is a string: 400 naming /timecreated."""
    async with client(FakeSink()) as http:
        wrong = await http.post(
            "/webhooks/moodle", json={**fixture("moodle/course_viewed.json"), "token": "no"}
        )
        bad = fixture("moodle/error_timecreated_string.json")
        bad["token"] = "moodle-token"
        invalid = await http.post("/webhooks/moodle", json=bad)
        body = await invalid.json()
    assert wrong.status == 401
    assert invalid.status == 400
    assert "/timecreated" in [e["pointer"] for e in body["errors"]]


async def test_canvas_events_signed_as_jwt_verify_against_the_jwks(tmp_path):
    """With a JWKS configured, a Live Event sent as a JWT signed by its key is accepted
    without the shared secret; one signed by another key is 401."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    trusted = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(trusted.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(
        json.dumps({"keys": [{**public, "kid": "canvas-1", "use": "sig", "alg": "RS256"}]})
    )
    event = fixture("canvas/asset_accessed.json")
    good = jwt.encode(event, trusted, algorithm="RS256", headers={"kid": "canvas-1"})
    forged = jwt.encode(event, stranger, algorithm="RS256", headers={"kid": "canvas-1"})
    sink = FakeSink()
    async with client(sink, canvas_jwks=jwks) as http:
        headers = {"Content-Type": "application/jwt"}
        accepted = await http.post("/webhooks/canvas", data=good, headers=headers)
        refused = await http.post("/webhooks/canvas", data=forged, headers=headers)
        assert accepted.status == 200, await accepted.text()
        assert refused.status == 401
    (produced,) = events_of(sink)
    assert produced["kind"] == "view"


async def test_lms_event_times_outside_the_window_are_refused_at_their_field():
    """Received on 2026-01-01: Canvas's and Moodle's March 2026 events are 400
    event_in_the_future, Caliper's May 2024 ones 400 event_too_old, each pointing at the
    payload's own time field; a dead letter is kept for each."""
    received = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    sink = FakeSink()
    moodle = {**fixture("moodle/course_viewed.json"), "token": "moodle-token"}
    async with client(sink, policy=POLICY, received=received) as http:
        caliper = await http.post(
            "/caliper", json=fixture("caliper/v1p2_assignable.json"), headers=CALIPER
        )
        canvas = await http.post(
            "/webhooks/canvas", json=fixture("canvas/asset_accessed.json"), headers=CANVAS
        )
        moodled = await http.post("/webhooks/moodle", json=moodle)
        bodies = [await r.json() for r in (caliper, canvas, moodled)]
    assert [r.status for r in (caliper, canvas, moodled)] == [400, 400, 400]
    reasons = [b["type"].rsplit("/", 1)[1] for b in bodies]
    assert reasons == ["event_too_old", "event_in_the_future", "event_in_the_future"]
    pointers = [[e["pointer"] for e in b["errors"]] for b in bodies]
    assert pointers[1:] == [["/metadata/event_time"], ["/timecreated"]]
    assert all(p.startswith("/data/") and p.endswith("/eventTime") for p in pointers[0])
    assert events_of(sink) == []
    assert len(sink.sent[TOPICS.deadletter]) == 3
