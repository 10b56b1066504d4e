"""Caliper envelopes over HTTP (no broker): each event taken or refused on its own, and
what is taken but not used is counted."""

from __future__ import annotations

import copy

import orjson
from aiohttp import web

from stream.ingest.context import KEY
from tests.ingest_kit import TOPICS, FakeSink, client
from tests.test_ingest_lms import CALIPER, events_of, fixture


def letters(sink: FakeSink) -> list[dict]:
    return [orjson.loads(value) for _, value in sink.sent.get(TOPICS.deadletter, [])]


def unused(app: web.Application, reason: str) -> float:
    registry = app[KEY].metrics.registry
    labels = {"source": "caliper", "reason": reason}
    return float(registry.get_sample_value("tierwatch_ingest_unused_total", labels) or 0)


def mixed_envelope() -> dict:
    """The two scoreless grades (official fixture shape) with the other fixtures' items:
    8 events (6 read, 2 grades) and 3 items tierwatch does not read."""
    envelope = fixture("caliper/v1p2_grade_graded_no_score.json")
    for name in ("v1p2_assessment_item_tooluse.json", "v1p2_assignable.json"):
        envelope["data"] += fixture(f"caliper/{name}")["data"]
    return envelope


async def test_a_grade_without_score_no_longer_loses_its_envelope():
    """An envelope holding GradeGraded with `maxScore: 0.0` and no scoreGiven: 200, every
    event produced, the grades without a score; counted as `no_score`."""
    sink = FakeSink()
    async with client(sink) as http:
        response = await http.post("/caliper", json=mixed_envelope(), headers=CALIPER)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert unused(http.server.app, "no_score") == 2
    assert body["rejected"] == 0
    assert body["accepted"] == body["received"] == 11
    produced = events_of(sink)
    assert len(produced) == body["events"] == 8
    grades = [e for e in produced if e["source_meta"]["type"] == "GradeEvent"]
    assert [(g["kind"], g.get("score")) for g in grades] == [("assessment", None)] * 2
    assert letters(sink) == []


async def test_an_invalid_event_is_dead_lettered_alone_and_the_answer_counts_both():
    """One event of an envelope with a malformed edApp: the others are produced, the bad one
    is one dead letter naming its field, and the answer says 10 accepted, 1 rejected."""
    sink = FakeSink()
    envelope = mixed_envelope()
    envelope["data"][4]["edApp"] = "This is not an object or IRI"
    async with client(sink) as http:
        response = await http.post("/caliper", json=envelope, headers=CALIPER)
        assert response.status == 200, await response.text()
        body = await response.json()
    assert (body["accepted"], body["rejected"], body["events"]) == (10, 1, 7)
    assert body["errors"] == [{"pointer": "/data/4/edApp", "detail": body["errors"][0]["detail"]}]
    assert len(events_of(sink)) == 7
    (letter,) = letters(sink)
    assert letter["reason"] == "invalid_event"
    assert [p["pointer"] for p in letter["problems"]] == ["/data/4/edApp"]
    assert letter["topic"] == "http:POST /caliper/data/4"


async def test_an_envelope_whose_every_event_is_refused_is_a_400():
    """No event left to take: 400 with every problem, as one refused request."""
    sink = FakeSink()
    envelope = fixture("caliper/v1p2_grade_graded_no_score.json")
    bad = copy.deepcopy(envelope)
    for item in bad["data"]:
        item["session"] = {"id": "https://campus.contoso-learning.example/u/1", "type": "Person"}
    async with client(sink) as http:
        response = await http.post("/caliper", json=bad, headers=CALIPER)
        assert response.status == 400
        problem = await response.json()
    assert [e["pointer"] for e in problem["errors"]] == [
        "/data/0/session/type",
        "/data/1/session/type",
    ]
    assert events_of(sink) == []
    assert len(letters(sink)) == 1


async def test_unknown_type_and_profile_are_taken_and_counted():
    """An event type Caliper does not define is taken and ignored; an unknown profile is
    used; both are counted in tierwatch_ingest_unused_total, not passed silently."""
    sink = FakeSink()
    envelope = fixture("caliper/v1p2_assignable.json")
    envelope["data"][0]["type"] = "NotACaliperEventType"
    envelope["data"][1]["profile"] = "NotACaliperProfile"
    async with client(sink) as http:
        response = await http.post("/caliper", json=envelope, headers=CALIPER)
        assert response.status == 200, await response.text()
        counts = {r: unused(http.server.app, r) for r in ("unknown_event_type", "unknown_profile")}
    assert counts == {"unknown_event_type": 1, "unknown_profile": 1}
    assert len(events_of(sink)) == 1
