"""The xAPI statements resource over HTTP (no broker): ids, versions, conflicts, a real client."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import orjson

from tests.ingest_kit import TOPICS, FakeSink, client, xapi_headers
from tests.kit import POLICY

PASSED = {
    "actor": {"objectType": "Agent", "name": "Ana Lima", "mbox": "mailto:ana.lima@example.com"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"en-US": "passed"}},
    "object": {"objectType": "Activity", "id": "https://lms.example.com/courses/aml-101/quiz/3"},
    "result": {"score": {"scaled": 0.82}, "success": True, "duration": "PT12M30S"},
    "timestamp": "2026-03-03T14:05:09.120+01:00",
}


def events_of(sink: FakeSink) -> list[dict]:
    return [orjson.loads(value) for _, value in sink.sent.get(TOPICS.events, [])]


async def test_post_one_statement_without_id_answers_its_generated_id():
    """POST without an id: 200 with a generated UUID, and that id names the event."""
    sink = FakeSink()
    async with client(sink) as http:
        response = await http.post("/xapi/statements", json=PASSED, headers=xapi_headers())
        assert response.status == 200
        assert response.headers["X-Experience-API-Version"] == "1.0.3"
        (sid,) = await response.json()
    uuid.UUID(sid)
    (event,) = events_of(sink)
    assert event["id"] == f"xapi:{sid}"
    assert event["kind"] == "assessment"
    assert event["score"] == 0.82
    assert event["success"] is True
    assert dt.datetime.fromisoformat(event["occurred_at"]) == dt.datetime.fromisoformat(
        PASSED["timestamp"]
    )


async def test_version_header_is_required_and_always_answered():
    """No X-Experience-API-Version: 400, and the answer still carries the header."""
    async with client(FakeSink()) as http:
        headers = xapi_headers()
        del headers["X-Experience-API-Version"]
        response = await http.post("/xapi/statements", json=PASSED, headers=headers)
        assert response.status == 400
        assert "X-Experience-API-Version" in response.headers
        v2 = await http.post("/xapi/statements", json=PASSED, headers=xapi_headers("2.0.0"))
        assert v2.status == 200
        assert v2.headers["X-Experience-API-Version"] == "2.0.0"


async def test_put_then_same_again_is_one_event_and_different_content_is_409():
    """PUT stores (204); the same statement again is accepted without a second event;
    other content under the same id is refused with 409."""
    sink = FakeSink()
    sid = str(uuid.uuid4())
    async with client(sink) as http:
        url = f"/xapi/statements?statementId={sid}"
        first = await http.put(url, json=PASSED, headers=xapi_headers())
        again = await http.put(url, json=PASSED, headers=xapi_headers())
        changed = {**PASSED, "result": {"score": {"scaled": 0.4}, "success": False}}
        conflict = await http.put(url, json=changed, headers=xapi_headers())
        assert (first.status, again.status, conflict.status) == (204, 204, 409)
    assert [e["id"] for e in events_of(sink)] == [f"xapi:{sid}"]


async def test_a_batch_with_a_shared_id_is_refused_whole():
    """Two statements with one id in a batch: 400, no event at all."""
    sink = FakeSink()
    sid = str(uuid.uuid4())
    async with client(sink) as http:
        batch = [{**PASSED, "id": sid}, {**PASSED, "id": sid.upper()}]
        response = await http.post("/xapi/statements", json=batch, headers=xapi_headers())
        assert response.status == 400
        assert [e["pointer"] for e in (await response.json())["errors"]] == ["/1/id"]
    assert events_of(sink) == []


async def test_wrong_basic_credentials_are_401():
    """A wrong password gets 401 with a Basic challenge."""
    async with client(FakeSink()) as http:
        headers = {**xapi_headers(), "Authorization": "Basic bHJzLWNsaWVudDp3cm9uZw=="}
        response = await http.post("/xapi/statements", json=PASSED, headers=headers)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")


async def test_a_voiding_statement_is_stored_but_is_no_activity():
    """A voiding statement answers 200 with its id and produces no event."""
    sink = FakeSink()
    voiding = {
        "actor": PASSED["actor"],
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": str(uuid.uuid4())},
    }
    async with client(sink) as http:
        response = await http.post("/xapi/statements", json=voiding, headers=xapi_headers())
        assert response.status == 200
    assert events_of(sink) == []


async def test_a_real_xapi_client_library_sends_statements():
    """TinCan (the xAPI client library on PyPI) saves statements over HTTP; the events carry
    the learner, kind, score and time it sent."""
    from tincan import Activity, Agent, RemoteLRS, Result, Score, Statement, Verb

    sink = FakeSink()
    async with client(sink) as http:
        lrs = RemoteLRS(
            endpoint=str(http.make_url("/xapi/")),
            version="1.0.1",
            username="lrs-client",
            password="lrs-secret",
        )
        statement = Statement(
            actor=Agent(name="Ben Okafor", mbox="mailto:ben.okafor@example.com"),
            verb=Verb(id="http://adlnet.gov/expapi/verbs/scored"),
            object=Activity(id="https://lms.example.com/courses/safety/quiz/1"),
            result=Result(score=Score(raw=7, min=0, max=10), success=True),
            timestamp="2026-03-04T08:15:00+00:00",
        )
        response = await asyncio.to_thread(lrs.save_statement, statement)
        assert response.success, (response.response.status, response.data)
        with_id = Statement(statement.as_version())
        with_id.id = str(uuid.uuid4())
        put = await asyncio.to_thread(lrs.save_statement, with_id)
        assert put.success
    first, second = events_of(sink)
    assert first["kind"] == "assessment"
    assert first["score"] == 0.7
    assert dt.datetime.fromisoformat(first["occurred_at"]) == dt.datetime(
        2026, 3, 4, 8, 15, tzinfo=dt.UTC
    )
    assert first["learner_id"] == second["learner_id"]
    assert second["id"] == f"xapi:{with_id.id}"


async def test_a_statement_dated_ahead_is_refused_pointing_into_the_request():
    """A batch whose second statement is dated a day after receipt: 400 naming /1/timestamp
    (its place in the request, even when an earlier statement was already stored)."""
    sink = FakeSink()
    stored = {**PASSED, "id": str(uuid.uuid4())}
    ahead = {**PASSED, "id": str(uuid.uuid4()), "timestamp": "2026-03-11T12:00:00Z"}
    async with client(sink, policy=POLICY) as http:
        first = await http.post("/xapi/statements", json=[stored], headers=xapi_headers())
        again = await http.post("/xapi/statements", json=[stored, ahead], headers=xapi_headers())
        body = await again.json()
        assert (first.status, again.status) == (200, 400)
        assert again.headers["X-Experience-API-Version"] == "1.0.3"
    assert body["type"].endswith("event_in_the_future")
    assert [e["pointer"] for e in body["errors"]] == ["/1/timestamp"]
    assert len(events_of(sink)) == 1
