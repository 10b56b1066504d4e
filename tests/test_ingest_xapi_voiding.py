"""A voiding statement over HTTP (no broker): it becomes a voided event for the learner of
the statement it voids, carrying that statement's time and score; a voiding of a statement
ingest does not know is accepted and counted."""

from __future__ import annotations

import uuid

import orjson

from stream.ingest.statements import Stored
from tests.ingest_kit import TOPICS, FakeSink, client, xapi_headers
from tests.test_ingest_xapi import PASSED


def voiding(target: str) -> dict[str, object]:
    return {
        "actor": {"objectType": "Agent", "mbox": "mailto:lms-admin@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": target},
        "timestamp": "2026-03-04T09:00:00Z",
    }


def events_of(sink: FakeSink) -> list[dict]:
    return [orjson.loads(value) for _, value in sink.sent.get(TOPICS.events, [])]


async def test_a_voiding_retracts_the_voided_statement_for_its_learner():
    """Passed (0.82) then voided: a voided event for Ana, naming the event, its time and score."""
    sink, sid = FakeSink(), str(uuid.uuid4())
    async with client(sink) as http:
        first = await http.post(
            "/xapi/statements", json={**PASSED, "id": sid}, headers=xapi_headers()
        )
        second = await http.post("/xapi/statements", json=voiding(sid), headers=xapi_headers())
        assert (first.status, second.status) == (200, 200)
    passed, voided = events_of(sink)
    assert voided["kind"] == "voided"
    assert voided["learner_id"] == passed["learner_id"]
    assert voided["object_id"] == passed["id"]
    assert voided["retracts"] == {
        "id": passed["id"],
        "occurred_at": passed["occurred_at"],
        "score": 0.82,
    }
    assert voided["occurred_at"] == "2026-03-04T09:00:00Z"


async def test_a_voiding_in_the_same_batch_as_its_statement_retracts_it():
    """The statement and its voiding in one request: the voiding finds it."""
    sink, sid = FakeSink(), str(uuid.uuid4())
    async with client(sink) as http:
        batch = [{**PASSED, "id": sid}, voiding(sid)]
        response = await http.post("/xapi/statements", json=batch, headers=xapi_headers())
        assert response.status == 200
    assert [e["kind"] for e in events_of(sink)] == ["assessment", "voided"]


async def test_a_voiding_of_an_unknown_statement_is_accepted_and_counted():
    """xAPI: the LRS accepts it. No event; counted as taken but unused (`void_unknown`)."""
    sink = FakeSink()
    async with client(sink) as http:
        response = await http.post(
            "/xapi/statements", json=voiding(str(uuid.uuid4())), headers=xapi_headers()
        )
        assert response.status == 200
        metrics = await (await http.get("/metrics")).text()
    assert events_of(sink) == []
    assert 'tierwatch_ingest_unused_total{reason="void_unknown",source="xapi"} 1.0' in metrics


async def test_a_voided_completion_names_the_object_it_completed():
    """Completed, then voided: the voided event names the module, so the worker reopens
    its assignment; the registry keeps it across a restart (its record holds it)."""
    sink, sid = FakeSink(), str(uuid.uuid4())
    completed = {
        **PASSED,
        "id": sid,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "result": {"completion": True},
    }
    async with client(sink) as http:
        first = await http.post("/xapi/statements", json=completed, headers=xapi_headers())
        second = await http.post("/xapi/statements", json=voiding(sid), headers=xapi_headers())
        assert (first.status, second.status) == (200, 200)
    done, voided = events_of(sink)
    assert done["kind"] == "completion"
    assert voided["retracts"]["completed"] == done["object_id"]
    stored = Stored("f", "ana", done["occurred_at"], None, done["object_id"])
    again = Stored.of(stored.value())
    assert again == stored
    assert again.voidable(sid).retracts.completed == done["object_id"]
