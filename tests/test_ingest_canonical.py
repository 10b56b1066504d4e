"""Ingest's canonical endpoints and the rules every endpoint shares (no broker)."""

from __future__ import annotations

import datetime as dt

import orjson

from schemas.deadletter import DeadLetter
from schemas.roster import Identity
from stream.ingest.context import KEY
from tests.ingest_kit import TOPICS, FakeSink, api_headers, client
from tests.kit import POLICY

EVENT = {
    "id": "evt-1",
    "learner_id": "ana",
    "occurred_at": "2026-03-02T09:30:00+01:00",
    "kind": "view",
    "object_id": "course-7/lesson-2",
    "source": "lms-x",
}


async def test_events_are_produced_keyed_by_learner_after_the_ack():
    """A valid array of events answers 200 once the sink has them, keyed by learner."""
    sink = FakeSink()
    async with client(sink) as http:
        response = await http.post(
            "/events", json=[EVENT, {**EVENT, "id": "evt-2"}], headers=api_headers()
        )
        assert response.status == 200
        assert await response.json() == {"accepted": 2}
    keys = [key for key, _ in sink.sent[TOPICS.events]]
    assert keys == ["ana", "ana"]
    assert orjson.loads(sink.sent[TOPICS.events][0][1])["id"] == "evt-1"


async def test_a_bad_item_refuses_the_whole_batch_naming_item_and_field():
    """One bad item: 400 problem details naming /1/kind; nothing produced; a dead letter kept."""
    sink = FakeSink()
    async with client(sink) as http:
        batch = [EVENT, {**EVENT, "id": "evt-2", "kind": "dance"}]
        response = await http.post("/events", json=batch, headers=api_headers())
        assert response.status == 400
        assert response.content_type == "application/problem+json"
        body = await response.json()
    assert body["status"] == 400
    assert [e["pointer"] for e in body["errors"]] == ["/1/kind"]
    assert TOPICS.events not in sink.sent
    (letter,) = [DeadLetter.model_validate_json(v) for _, v in sink.sent[TOPICS.deadletter]]
    assert letter.reason == "invalid_payload"
    assert letter.topic == "http:POST /events"
    assert '"dance"' in letter.payload
    assert letter.problems == [{"pointer": "/1/kind", "detail": body["errors"][0]["detail"]}]


async def test_an_unreachable_broker_answers_503_with_retry_after():
    """When the broker does not acknowledge, the client gets 503 and Retry-After, never a 2xx."""
    async with client(FakeSink(down=True)) as http:
        response = await http.post("/events", json=[EVENT], headers=api_headers())
        assert response.status == 503
        assert response.headers["Retry-After"] == "5"
        assert (await response.json())["type"].endswith("broker_unavailable")


async def test_missing_or_wrong_token_is_401_with_a_challenge():
    """No bearer token, or a wrong one: 401 with WWW-Authenticate."""
    async with client(FakeSink()) as http:
        for headers in ({}, {"Authorization": "Bearer nope"}):
            response = await http.post("/events", json=[EVENT], headers=headers)
            assert response.status == 401
            assert "Bearer" in response.headers["WWW-Authenticate"]


async def test_an_endpoint_without_configured_credentials_refuses_everyone():
    """With no API token configured, the canonical endpoints say so and refuse."""
    async with client(FakeSink(), api_token=None) as http:
        response = await http.post("/events", json=[EVENT], headers=api_headers())
        assert response.status == 401
        assert "TIERWATCH_API_TOKEN" in (await response.json())["detail"]


async def test_not_json_and_wrong_media_type():
    """Bytes that are not JSON: 400 not_json; a form body: 415."""
    async with client(FakeSink()) as http:
        bad = await http.post(
            "/events", data=b"{nope", headers=api_headers(**{"Content-Type": "application/json"})
        )
        assert bad.status == 400
        assert (await bad.json())["type"].endswith("not_json")
        form = await http.post("/events", data={"a": "b"}, headers=api_headers())
        assert form.status == 415


async def test_body_and_batch_limits():
    """A body over max_body_bytes is 413; so is a batch over max_batch."""
    async with client(FakeSink(), max_body_bytes=2048, max_batch=2) as http:
        big = await http.post(
            "/events",
            data=b"[" + b" " * 4096 + b"]",
            headers=api_headers(**{"Content-Type": "application/json"}),
        )
        assert big.status == 413
        many = await http.post("/events", json=[EVENT] * 3, headers=api_headers())
        assert many.status == 413
        assert (await many.json())["type"].endswith("batch_too_large")


async def test_rate_limit_per_credential_answers_429_with_retry_after():
    """Past its burst a credential gets 429 and Retry-After; the request is not dead-lettered."""
    sink = FakeSink()
    async with client(sink, rate_per_s=0.5, rate_burst=2) as http:
        statuses = [
            (await http.post("/events", json=[EVENT], headers=api_headers())).status
            for _ in range(3)
        ]
        limited = await http.post("/events", json=[EVENT], headers=api_headers())
    assert statuses == [200, 200, 429]
    assert int(limited.headers["Retry-After"]) >= 1
    assert TOPICS.deadletter not in sink.sent


async def test_roster_as_csv_teaches_identities():
    """A CSV roster is produced as profiles, and its identities resolve to the learner."""
    sink = FakeSink()
    csv = (
        "learner_id,role,manager_id,team,customer_facing,email,canvas_user_id,moodle_user_id\n"
        "ana,sales_rep,m1,emea,yes,ana@example.com,21070000000000042,57\n"
        "ben,back_office,m1,emea,,,,\n"
    )
    async with client(sink) as http:
        response = await http.post(
            "/roster", data=csv, headers=api_headers(**{"Content-Type": "text/csv"})
        )
        assert response.status == 200, await response.text()
        ingest = http.app[KEY]
    profiles = [orjson.loads(v) for _, v in sink.sent[TOPICS.profiles]]
    assert [p["learner_id"] for p in profiles] == ["ana", "ben"]
    assert profiles[0]["customer_facing"] is True
    assert profiles[0]["email"] == "ana@example.com"
    assert (
        ingest.identities.resolve(Identity(source="canvas", kind="user", value="21070000000000042"))
        == "ana"
    )
    assert (
        ingest.identities.resolve(
            Identity(source="xapi", kind="mbox", value="mailto:ana@example.com")
        )
        == "ana"
    )


async def test_roster_csv_errors_name_row_and_column():
    """A bad flag and a missing learner id: each named by row and column."""
    sink = FakeSink()
    csv = "learner_id,role,customer_facing\nana,sales_rep,perhaps\n,back_office,\n"
    async with client(sink) as http:
        response = await http.post(
            "/roster", data=csv, headers=api_headers(**{"Content-Type": "text/csv"})
        )
        body = await response.json()
    assert response.status == 400
    assert [e["pointer"] for e in body["errors"]] == ["/0/customer_facing", "/1/learner_id"]


async def test_unmapped_identities_get_a_stable_id_and_are_counted():
    """An identity no profile claims resolves to the same derived id each time, and is counted."""
    async with client(FakeSink()) as http:
        ingest = http.app[KEY]
    who = Identity(source="moodle", kind="user", value="99")
    first, second = ingest.identities.resolve(who), ingest.identities.resolve(who)
    assert first == second
    assert first.startswith("moodle-")
    assert "99" not in first.removeprefix("moodle-")
    assert ingest.identities.unmapped[who] == 2


async def test_unmapped_identities_are_listed_behind_the_api_token():
    """GET /identities/unmapped lists what no profile claims, with its derived id."""
    async with client(FakeSink()) as http:
        ingest = http.app[KEY]
        ingest.identities.resolve(Identity(source="canvas", kind="user", value="777"))
        refused = await http.get("/identities/unmapped")
        listed = await http.get("/identities/unmapped", headers=api_headers())
        rows = await listed.json()
    assert refused.status == 401
    assert [(r["source"], r["value"], r["seen"]) for r in rows] == [("canvas", "777", 1)]
    assert rows[0]["learner_id"].startswith("canvas-")


async def test_metrics_count_requests_events_rejects_and_unmapped_identities():
    """/metrics shows requests by endpoint and status, events by source and kind, refusals
    by reason and unmapped identities by source; no learner appears in any label."""
    async with client(FakeSink()) as http:
        await http.post("/events", json=[EVENT], headers=api_headers())
        await http.post("/events", json=[{**EVENT, "kind": "dance"}], headers=api_headers())
        http.app[KEY].identities.resolve(Identity(source="moodle", kind="user", value="5"))
        response = await http.get("/metrics")
        text = await response.text()
    assert response.status == 200
    assert 'tierwatch_ingest_requests_total{endpoint="/events",status="200"} 1.0' in text
    assert 'tierwatch_ingest_requests_total{endpoint="/events",status="400"} 1.0' in text
    assert 'tierwatch_events_in_total{kind="view",source="lms-x"} 1.0' in text
    assert 'tierwatch_rejects_total{reason="invalid_payload",source="canonical"} 1.0' in text
    assert 'tierwatch_unmapped_identities_total{source="moodle"} 1.0' in text
    assert "tierwatch_build_info{" in text
    assert "ana" not in text


async def test_delete_learner_sends_a_tombstone_and_forgets_identities():
    """DELETE /learners/{id}: 202, a tombstone (no value) keyed by the learner on the
    profiles topic, and the learner's identities no longer resolve to them."""
    sink = FakeSink()
    csv = "learner_id,canvas_user_id\nana,42\n"
    who = Identity(source="canvas", kind="user", value="42")
    async with client(sink) as http:
        await http.post("/roster", data=csv, headers=api_headers(**{"Content-Type": "text/csv"}))
        assert http.app[KEY].identities.resolve(who) == "ana"
        refused = await http.delete("/learners/ana")
        response = await http.delete("/learners/ana", headers=api_headers())
        assert refused.status == 401
        assert response.status == 202
        assert http.app[KEY].identities.resolve(who) != "ana"
    assert sink.sent[TOPICS.profiles][-1] == ("ana", None)


async def test_events_dated_in_the_future_are_refused_whole():
    """An event more than the policy's skew (60 minutes) ahead of the moment received
    refuses the batch (400), naming its occurred_at; a dead letter is kept."""
    sink = FakeSink()
    async with client(sink, policy=POLICY) as http:
        batch = [EVENT, {**EVENT, "id": "evt-9", "occurred_at": "2099-01-01T00:00:00Z"}]
        response = await http.post("/events", json=batch, headers=api_headers())
        body = await response.json()
    assert response.status == 400
    assert body["type"].endswith("event_in_the_future")
    assert [e["pointer"] for e in body["errors"]] == ["/1/occurred_at"]
    assert "events.max_skew_minutes: 60" in body["errors"][0]["detail"]
    assert TOPICS.events not in sink.sent
    (letter,) = [DeadLetter.model_validate_json(v) for _, v in sink.sent[TOPICS.deadletter]]
    assert letter.reason == "event_in_the_future"


async def test_the_window_of_event_times_is_the_policys_around_the_moment_received():
    """Default policy: 59 minutes ahead and 400 days back are taken; 401 days back is
    400 event_too_old naming the field; a year-1 event is refused the same way."""
    received = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
    sink = FakeSink()

    def dated(eid: str, at: dt.datetime) -> dict:
        return {**EVENT, "id": eid, "occurred_at": at.isoformat()}

    async with client(sink, policy=POLICY, received=received) as http:
        inside = [
            dated("soon", received + dt.timedelta(minutes=59)),
            dated("year-old", received - dt.timedelta(days=400)),
        ]
        ok = await http.post("/events", json=inside, headers=api_headers())
        old = await http.post(
            "/events",
            json=[EVENT, dated("old", received - dt.timedelta(days=401))],
            headers=api_headers(),
        )
        ancient = await http.post(
            "/events",
            json=[dated("year-1", dt.datetime(1, 6, 1, tzinfo=dt.UTC))],
            headers=api_headers(),
        )
        body = await old.json()
    assert (ok.status, old.status, ancient.status) == (200, 400, 400)
    assert body["type"].endswith("event_too_old")
    assert body["errors"] == [
        {
            "pointer": "/1/occurred_at",
            "detail": "occurred_at is 401 days before the event was received "
            "(events.max_age_days: 400)",
        }
    ]
    assert len(sink.sent[TOPICS.events]) == 2


async def test_an_oversized_source_meta_is_refused_naming_the_field():
    """A canonical event whose source_meta is too big is refused (400) at /0/source_meta,
    with a short sentence rather than the oversized value."""
    sink = FakeSink()
    async with client(sink) as http:
        huge = {**EVENT, "source_meta": {"blob": "x" * 200_000}}
        response = await http.post("/events", json=[huge], headers=api_headers())
        body = await response.json()
    assert response.status == 400
    assert [e["pointer"] for e in body["errors"]] == ["/0/source_meta"]
    assert len(orjson.dumps(body)) < 1000
    assert TOPICS.events not in sink.sent


async def test_a_body_over_max_body_bytes_is_413_even_without_a_length():
    """max_body_bytes holds for a chunked body too (no Content-Length): 413 body_too_large,
    recorded as a dead letter."""
    sink = FakeSink()

    async def chunks():  # a body streamed in chunks, without Content-Length
        for _ in range(4):
            yield b" " * 1024

    async with client(sink, max_body_bytes=2048) as http:
        response = await http.post(
            "/events",
            data=chunks(),
            headers=api_headers(**{"Content-Type": "application/json"}),
        )
        body = await response.json()
    assert response.status == 413
    assert body["type"].endswith("body_too_large")
    (letter,) = [DeadLetter.model_validate_json(v) for _, v in sink.sent[TOPICS.deadletter]]
    assert letter.reason == "body_too_large"
    assert TOPICS.events not in sink.sent
