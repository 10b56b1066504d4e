"""The xAPI resources as the specification and real clients expect them (no broker):
Groups as actors, the conformance cases, the About resource."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from stream.ingest.context import KEY
from tests.ingest_kit import FakeSink, client, xapi_headers
from tests.test_ingest_xapi import PASSED, events_of

FIXTURES = Path(__file__).parent / "fixtures" / "xapi"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


async def test_a_batch_with_group_actors_is_stored_whole():
    """An anonymous Group's statement, an identified Group's and an Agent's in one batch:
    200 with three ids (not 400 for the whole batch); the identified Group and the Agent
    are events, the anonymous Group is counted as such."""
    sink = FakeSink()
    anonymous = fixture("anonymous_group_actor.json")
    identified = {
        **anonymous,
        "id": "11111111-2222-4333-8444-555555555503",
        "actor": {**anonymous["actor"], "mbox": "mailto:night-shift@fabrikam.example"},
    }
    async with client(sink) as http:
        batch = [anonymous, identified, PASSED]
        response = await http.post("/xapi/statements", json=batch, headers=xapi_headers())
        assert response.status == 200, await response.text()
        assert len(await response.json()) == 3
        registry = http.server.app[KEY].metrics.registry
        labels = {"source": "xapi", "reason": "anonymous_group"}
        assert registry.get_sample_value("tierwatch_ingest_unused_total", labels) == 1
    assert [e["kind"] for e in events_of(sink)] == ["session", "assessment"]


def one(**changes: object) -> dict:
    return {**PASSED, **changes}


async def refused(statement: dict) -> tuple[int, dict, FakeSink]:
    sink = FakeSink()
    async with client(sink) as http:
        response = await http.post("/xapi/statements", json=statement, headers=xapi_headers())
        return response.status, await response.json(), sink


async def test_a_timestamp_offset_of_minus_zero_is_refused():
    """-00:00 is RFC 3339's unknown local offset; xAPI refuses it (400 at the timestamp)."""
    status, problem, sink = await refused(one(timestamp="2026-03-03T14:05:09.120-00:00"))
    assert status == 400
    assert [e["pointer"] for e in problem["errors"]] == ["/0/timestamp"]
    assert events_of(sink) == []


async def test_an_agent_object_without_identifier_is_refused():
    """An Agent as object needs an identifier, as the actor does (400 at the object)."""
    status, problem, _ = await refused(one(object={"objectType": "Agent", "name": "Bob"}))
    assert status == 400
    assert [e["pointer"] for e in problem["errors"]] == ["/0/object"]


async def test_duplicate_json_keys_are_refused_not_last_wins():
    """A statement naming `verb` twice is refused (400 duplicate_json_key), not read as
    whichever came last; nothing is produced."""
    sink = FakeSink()
    body = (
        '{"actor": {"mbox": "mailto:ana.lima@example.com"},'
        ' "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},'
        ' "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"},'
        ' "object": {"id": "https://lms.example.com/courses/aml-101/quiz/3"}}'
    )
    headers = {**xapi_headers(), "Content-Type": "application/json"}
    async with client(sink) as http:
        response = await http.post("/xapi/statements", data=body, headers=headers)
        assert response.status == 400
        problem = await response.json()
    assert problem["title"] == "duplicate json key"
    assert "'verb'" in problem["detail"]
    assert events_of(sink) == []


async def test_every_answer_to_a_103_client_says_103():
    """A 1.0.3 client's 200, 400, 401 and 405 all carry X-Experience-API-Version 1.0.3; a
    2.0 client's carry 2.0.0."""
    bad_auth = {"Authorization": "Basic bHJzLWNsaWVudDp3cm9uZw=="}
    async with client(FakeSink()) as http:
        for version, answered in (("1.0.3", "1.0.3"), ("1.0.1", "1.0.3"), ("2.0.0", "2.0.0")):
            headers = xapi_headers(version)
            answers = [
                await http.post("/xapi/statements", json=PASSED, headers=headers),
                await http.post("/xapi/statements", json={"actor": 1}, headers=headers),
                await http.post("/xapi/statements", json=PASSED, headers={**headers, **bad_auth}),
                await http.get("/xapi/statements", headers=headers),
            ]
            assert [a.status for a in answers] == [200, 400, 401, 405]
            assert {a.headers["X-Experience-API-Version"] for a in answers} == {answered}


async def test_about_answers_the_versions_ingest_speaks():
    """GET /xapi/about needs no credentials and lists 1.0.3 and 2.0.0; a 1.0.x client is
    answered the 1.0.x versions, and a real 1.0 client library reads them."""
    from tincan import RemoteLRS

    async with client(FakeSink()) as http:
        response = await http.get("/xapi/about")
        assert response.status == 200
        assert {"1.0.3", "2.0.0"} <= set((await response.json())["version"])
        for_v2 = await http.get("/xapi/about", headers={"X-Experience-API-Version": "2.0.0"})
        assert "2.0.0" in (await for_v2.json())["version"]
        lrs = RemoteLRS(endpoint=str(http.make_url("/xapi/")), version="1.0.1")
        about = await asyncio.to_thread(lrs.about)
        assert about.success, about.data
        assert "1.0.3" in about.content.version


async def test_statements_cannot_be_read_405_with_allow():
    """GET /xapi/statements: 405 with `Allow: POST, PUT`, as problem details."""
    async with client(FakeSink()) as http:
        response = await http.get("/xapi/statements", headers=xapi_headers())
        assert response.status == 405
        assert response.headers["Allow"] == "POST, PUT"
        assert response.content_type == "application/problem+json"
