"""The xAPI resources as the specification and real clients expect them (no broker):
Groups as actors, the conformance cases, the About resource."""

from __future__ import annotations

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
