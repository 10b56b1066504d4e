"""A roster's leaving record through ingest: JSON and CSV, validated, kept out of dead
letters (no broker)."""

from __future__ import annotations

import orjson

from schemas.deadletter import DeadLetter
from tests.ingest_kit import TOPICS, FakeSink, api_headers, client

CSV = {"Content-Type": "text/csv"}


async def test_a_leaving_record_is_produced_with_the_profile():
    """JSON and CSV rosters carry left_on and left_voluntarily onto the profiles topic."""
    sink = FakeSink()
    rows = [
        {"learner_id": "ana", "team": "emea", "left_on": "2026-03-31", "left_voluntarily": True},
        {"learner_id": "ben", "team": "emea"},
    ]
    csv = "learner_id,team,left_on,left_voluntarily\ncai,emea,2026-04-02,no\ndan,emea,,\n"
    async with client(sink) as http:
        first = await http.post("/roster", json=rows, headers=api_headers())
        second = await http.post("/roster", data=csv, headers=api_headers(**CSV))
        assert (first.status, second.status) == (200, 200), await second.text()
    sent = {p["learner_id"]: p for p in (orjson.loads(v) for _, v in sink.sent[TOPICS.profiles])}
    assert (sent["ana"]["left_on"], sent["ana"]["left_voluntarily"]) == ("2026-03-31", True)
    assert (sent["cai"]["left_on"], sent["cai"]["left_voluntarily"]) == ("2026-04-02", False)
    assert "left_on" not in sent["ben"] or sent["ben"]["left_on"] is None
    assert sent["dan"].get("left_on") is None
    assert sent["dan"].get("left_voluntarily") is None


async def test_a_leaving_date_without_saying_whether_it_was_voluntary_is_refused():
    """400 problem details naming the field, for each half of a leaving record alone and a
    date that is no date; nothing produced; the dead letter keeps no leaving record."""
    sink = FakeSink()
    rows = [
        {"learner_id": "ana", "left_on": "2026-03-31"},
        {"learner_id": "ben", "left_voluntarily": False},
        {"learner_id": "cai", "left_on": "31/03/2026", "left_voluntarily": True},
    ]
    async with client(sink) as http:
        response = await http.post("/roster", json=rows, headers=api_headers())
        body = await response.json()
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    pointers = [e["pointer"] for e in body["errors"]]
    assert pointers == ["/0/left_voluntarily", "/1/left_voluntarily", "/2/left_on"]
    assert "left_voluntarily: true or false" in body["errors"][0]["detail"]
    assert "needs the leaving date" in body["errors"][1]["detail"]
    assert TOPICS.profiles not in sink.sent
    (letter,) = [DeadLetter.model_validate_json(v) for _, v in sink.sent[TOPICS.deadletter]]
    assert "2026-03-31" not in letter.payload
    assert "31/03/2026" not in letter.payload
    assert '"left_on":"<removed str(10)>"' in letter.payload


async def test_a_csv_leaving_record_is_validated_by_row_and_column():
    """CSV: a leaving date without the flag, and a flag that is no flag, named by row."""
    csv = "learner_id,left_on,left_voluntarily\nana,2026-03-31,\nben,2026-03-31,perhaps\n"
    async with client(FakeSink()) as http:
        response = await http.post("/roster", data=csv, headers=api_headers(**CSV))
        body = await response.json()
    assert response.status == 400
    assert [e["pointer"] for e in body["errors"]] == ["/0/left_voluntarily", "/1/left_voluntarily"]
    assert body["errors"][0]["detail"].startswith("line 2: ")


async def test_a_refused_csv_roster_leaves_only_its_header_in_the_dead_letter():
    """The rows of a CSV are people (names, contacts, leaving records): the dead letter of a
    refused one keeps the column names, and the problems say which cell was wrong."""
    sink = FakeSink()
    csv = "learner_id,name,left_on,left_voluntarily\nana,Ana Smith,2026-03-31,\n"
    async with client(sink) as http:
        response = await http.post("/roster", data=csv, headers=api_headers(**CSV))
    assert response.status == 400
    (letter,) = [DeadLetter.model_validate_json(v) for _, v in sink.sent[TOPICS.deadletter]]
    assert letter.payload == "learner_id,name,left_on,left_voluntarily"
    assert [p["pointer"] for p in letter.problems] == ["/0/left_voluntarily"]
