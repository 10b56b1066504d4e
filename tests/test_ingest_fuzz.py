"""Whatever arrives, ingest answers with a 2xx or a 4xx, never a 5xx (no broker)."""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest_kit import (
    CALIPER_TOKEN,
    CANVAS_SECRET,
    MOODLE_TOKEN,
    FakeSink,
    api_headers,
    client,
    xapi_headers,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=30,
)
ENDPOINTS = {
    ("POST", "/xapi/statements"): xapi_headers(),
    ("PUT", "/xapi/statements?statementId=6c4e0c2a-58a6-4b9e-9a3c-2f3d0c8b1a77"): xapi_headers(),
    ("POST", "/caliper"): {"Authorization": f"Bearer {CALIPER_TOKEN}"},
    ("POST", "/webhooks/canvas"): {"X-Tierwatch-Secret": CANVAS_SECRET},
    ("POST", "/webhooks/moodle"): {},
    ("POST", "/events"): api_headers(),
    ("POST", "/roster"): api_headers(),
    ("POST", "/assignments"): api_headers(),
    ("POST", "/interventions"): api_headers(),
}
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


async def _statuses(bodies: list[tuple[bytes, str]]) -> list[int]:
    statuses = []
    async with client(FakeSink()) as http:
        for (method, url), headers in ENDPOINTS.items():
            for body, content_type in bodies:
                response = await http.request(
                    method, url, data=body, headers={**headers, "Content-Type": content_type}
                )
                statuses.append(response.status)
                await response.read()
    return statuses


@FUZZ
@given(st.lists(JSON, min_size=1, max_size=3))
def test_arbitrary_json_never_gets_a_5xx(values):
    """Any JSON value, posted to every endpoint as JSON, is answered below 500."""
    # dicts also go with Moodle's token, so the body reaches the normaliser
    values = values + [{**v, "token": MOODLE_TOKEN} for v in values if isinstance(v, dict)]
    bodies = [(json.dumps(v).encode(), "application/json") for v in values]
    assert all(status < 500 for status in asyncio.run(_statuses(bodies)))


@FUZZ
@given(
    st.lists(st.binary(max_size=200), min_size=1, max_size=3),
    st.sampled_from(["application/json", "text/csv", "application/octet-stream"]),
)
def test_arbitrary_bytes_never_get_a_5xx(blobs, content_type):
    """Any bytes, with any of several content types, are answered below 500."""
    bodies = [(blob, content_type) for blob in blobs]
    assert all(status < 500 for status in asyncio.run(_statuses(bodies)))
